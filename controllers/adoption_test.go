package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed/settle"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Adoption (issue 23, item 1): an existing Keycloak client or realm that
// Nauthera did not create is adopted only when the AuthServer allows it,
// after its diff was shown and acknowledged, keeping the client's secret.

// keycloakWrites counts the write requests (POST, PUT, DELETE) any operator
// of the suite sent to Keycloak under path.
func keycloakWrites(path string) int {
	return faults.Requests(path, "POST", "PUT", "DELETE")
}

// handMadeClient creates a confidential client through Keycloak's admin API,
// as a person would, with a known secret.
func handMadeClient(t *testing.T, realm, clientID, secret string) {
	t.Helper()
	gc, tok := console(t)
	_, err := gc.CreateClient(context.Background(), tok, realm, gocloak.Client{
		ClientID: gocloak.StringP(clientID), Name: gocloak.StringP("Hand-made " + clientID),
		Enabled: gocloak.BoolP(true), Protocol: gocloak.StringP("openid-connect"), PublicClient: gocloak.BoolP(false),
		ClientAuthenticatorType: gocloak.StringP("client-secret"), Secret: gocloak.StringP(secret),
		StandardFlowEnabled: gocloak.BoolP(true), ServiceAccountsEnabled: gocloak.BoolP(true),
		RedirectURIs: []string{"https://old.example.com/callback"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tokenLoop asks Keycloak for client_credentials tokens with a client's
// secret until stopped, counting answers; pacing is a ticker (load, not
// synchronisation).
type tokenLoop struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	stop       chan struct{}
	done       sync.WaitGroup
}

func startTokenLoop(realm, clientID, secret string) *tokenLoop {
	l := &tokenLoop{stop: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := tokenWith(realm, clientID, secret); err != nil {
				l.failed.Add(1)
				l.lastErr.Store(err.Error())
			} else {
				l.ok.Add(1)
			}
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

// waitMore waits until the loop got n more tokens than it had.
func (l *tokenLoop) waitMore(t *testing.T, n int64, what string) {
	t.Helper()
	start := l.ok.Load()
	eventually(t, 30*time.Second, what, func() error {
		if got := l.ok.Load() - start; got < n {
			return fmt.Errorf("%d tokens", got)
		}
		return nil
	})
}

func (l *tokenLoop) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.done.Wait()
	t.Logf("token requests with the old secret: %d succeeded, %d failed", l.ok.Load(), l.failed.Load())
	if f := l.failed.Load(); f > 0 {
		t.Errorf("%d of %d token requests with the old secret failed (last: %v)", f, f+l.ok.Load(), l.lastErr.Load())
	}
}

// pendingReconciles waits for n more reconciles of kind that ended waiting
// for an acknowledgement: what a check that nothing was written needs.
func pendingReconciles(t *testing.T, kind string, n float64) {
	t.Helper()
	count := func() float64 {
		return reconciler.OutcomeCount(kind, reconciler.OutcomeStalled, authv1.ReasonAdoptionPending)
	}
	settle.Advanced(t, 30*resync, kind+" AdoptionPending reconciles", count(), n, count)
}

// diffEntry returns the entry of field in status.adoption.diff.
func diffEntry(st *authv1.AdoptionStatus, field string) (authv1.AdoptionDiffEntry, bool) {
	for _, e := range st.Diff {
		if e.Field == field {
			return e, true
		}
	}
	return authv1.AdoptionDiffEntry{}, false
}

// noSecretIn fails if the secret appears in the object's status or in an
// Event about it.
func noSecretIn(t *testing.T, obj client.Object, status any, secret string) {
	t.Helper()
	b, err := json.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("the client secret is in the status of %s", obj.GetName())
	}
	for _, e := range eventsAbout(t, obj) {
		if strings.Contains(e.Note, secret) {
			t.Errorf("the client secret is in Event %s", e.Reason)
		}
	}
}

func TestAdoptionOfHandMadeClientKeepsItsSecret(t *testing.T) {
	integration(t)
	const realm, clientID, secret = "adopt-clients", "legacy-billing", "hand-made-known-secret-0001"
	ensureNamespace(t, "adopt-a", nil)
	serverWith(t, realm, `  adoption:
    clients:
    - namespaces: [adopt-a]
      clientIds: ["legacy-*"]
`)
	handMadeClient(t, realm, clientID, secret)
	// An app keeps asking for tokens with the old secret throughout.
	loop := startTokenLoop(realm, clientID, secret)
	defer loop.end(t)
	loop.waitMore(t, 1, "a first token with the hand-made client's secret")
	writes := keycloakWrites("/admin/realms/" + realm + "/clients")

	ac := &authv1.AuthClient{}
	apply(t, authClient("adopt-a", "billing", realm, `  clientId: legacy-billing
  adopt: true
  grantTypes: [authorization_code, client_credentials]`), ac)
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAdoptionPending, 60*time.Second)
	if !strings.Contains(cond.Message, authv1.AnnotationAdopt) {
		t.Errorf("the message does not say how to acknowledge: %q", cond.Message)
	}
	warningEvent(t, ac, authv1.ReasonAdoptionPending)
	st := ac.Status.Adoption
	if st == nil || st.AdoptedAt != nil || len(st.Hash) != 32 || st.ObservedAt == nil {
		t.Fatalf("status.adoption = %+v", st)
	}
	if e, ok := diffEntry(st, "redirectUris"); !ok || e.Keycloak != "https://old.example.com/callback" || e.Desired != "https://billing.example.com/callback" {
		t.Errorf("redirectUris diff = %+v", e)
	}
	if e, ok := diffEntry(st, "attributes.nauthera.io/owner"); !ok || e.Keycloak != "" || e.Desired != "adopt-a/billing" {
		t.Errorf("owner diff = %+v", e)
	}
	if e, ok := diffEntry(st, "secret"); !ok || e.Desired != "kept" {
		t.Errorf("secret entry = %+v", e)
	}
	// Dry run: reconciles go on (resyncs), and none writes.
	pendingReconciles(t, "AuthClient", 2)
	if got := keycloakWrites("/admin/realms/" + realm + "/clients"); got != writes {
		t.Fatalf("%d writes to the realm's clients before the acknowledgement", got-writes)
	}
	if c := keycloakClient(t, realm, clientID); c.Attributes["nauthera.io/owner"] != "" || c.RedirectURIs[0] != "https://old.example.com/callback" {
		t.Fatalf("the client changed before the acknowledgement: %v %v", c.RedirectURIs, c.Attributes)
	}

	// A stale acknowledgement: the client was edited in Keycloak after
	// the diff was shown. The new diff is shown, nothing written.
	oldHash := st.Hash
	gc, tok := console(t)
	edited := keycloakClient(t, realm, clientID)
	edited.Name = gocloak.StringP("Billing (edited by hand)")
	if err := gc.UpdateClient(context.Background(), tok, realm, *edited); err != nil {
		t.Fatal(err)
	}
	annotate(t, ac, authv1.AnnotationAdopt, oldHash)
	eventually(t, 30*time.Second, "the new diff after a stale acknowledgement", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		ready := findReady(ac)
		if ac.Status.Adoption == nil || ac.Status.Adoption.Hash == oldHash || ready == nil || !strings.Contains(ready.Message, "no longer the current one") {
			return fmt.Errorf("status.adoption %+v, Ready %+v", ac.Status.Adoption, ready)
		}
		return nil
	})
	if e, ok := diffEntry(ac.Status.Adoption, "name"); !ok || e.Keycloak != "Billing (edited by hand)" {
		t.Errorf("the new diff does not show the edit: %+v", e)
	}
	pendingReconciles(t, "AuthClient", 2)
	if got := keycloakWrites("/admin/realms/" + realm + "/clients"); got != writes {
		t.Fatalf("a stale acknowledgement wrote %d times", got-writes)
	}

	// The acknowledgement of the current diff adopts the client.
	annotate(t, ac, authv1.AnnotationAdopt, ac.Status.Adoption.Hash)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	if ac.Status.Adoption == nil || ac.Status.Adoption.AdoptedAt == nil || len(ac.Status.Adoption.Diff) != 0 {
		t.Errorf("status.adoption = %+v", ac.Status.Adoption)
	}
	if len(events(t, ac, corev1.EventTypeNormal, authv1.ReasonClientAdopted)) != 1 {
		t.Error("no ClientAdopted Event")
	}
	c := keycloakClient(t, realm, clientID)
	if c.Attributes["nauthera.io/owner"] != "adopt-a/billing" || c.Attributes["nauthera.io/owner-uid"] != string(ac.UID) || c.Attributes["nauthera.io/adopted"] != "true" {
		t.Errorf("owner marks: %v", c.Attributes)
	}
	if len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "https://billing.example.com/callback" {
		t.Errorf("redirectUris = %v", c.RedirectURIs)
	}
	if got := currentKeycloakSecret(t, realm, clientID); got != secret {
		t.Error("adoption changed the client's secret in Keycloak")
	}
	if got := currentSecret(t, "adopt-a", "billing"); got != secret {
		t.Error("the Secret does not hold the client's existing secret")
	}
	loop.waitMore(t, 3, "tokens with the old secret after the adoption")
	noSecretIn(t, ac, ac.Status, secret)

	// The adopted client is given an audience (another AuthClient's
	// consent), then its status.adoption is lost (a restore without
	// status): the Keycloak client's mark still makes the unset
	// deletionPolicy Orphan, and the orphan still loses its audiences.
	api := &authv1.AuthClient{}
	apply(t, authClient("adopt-a", "api", realm, worker+"\n  audienceAccess:\n    namespaces: [adopt-a]"), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Audiences = []authv1.ObjectReference{{Name: "api"}} })
	eventually(t, 60*time.Second, "the adopted client's audience mapper", func() error {
		if c := keycloakClient(t, realm, clientID); c == nil || len(desired.AudiencesOf(*c)) != 1 {
			return fmt.Errorf("no audience mapper yet")
		}
		return nil
	})
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		ac.Status.Adoption = nil
		return k8s.Status().Update(context.Background(), ac)
	}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil || ac.Adopted() {
		t.Fatalf("status.adoption not lost (%v): %+v", err, ac.Status.Adoption)
	}

	// Deleting the adopted AuthClient leaves the client (deletionPolicy
	// unset: Orphan for an adopted client), which keeps working.
	if ac.Spec.DeletionPolicy != "" {
		t.Fatalf("deletionPolicy was defaulted to %q", ac.Spec.DeletionPolicy)
	}
	deleteAndWait(t, ac)
	kept := keycloakClient(t, realm, clientID)
	if kept == nil {
		t.Fatal("deleting the adopted AuthClient deleted the Keycloak client")
	}
	if aud := desired.AudiencesOf(*kept); len(aud) > 0 {
		t.Errorf("the orphaned adopted client kept the audiences %v", aud)
	}
	loop.waitMore(t, 2, "tokens with the old secret after the AuthClient was deleted")

	// A client Nauthera created is still deleted with its AuthClient.
	created := &authv1.AuthClient{}
	apply(t, authClient("adopt-a", "fresh", realm, ""), created)
	waitReady(t, created, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	deleteAndWait(t, created)
	if keycloakClient(t, realm, "adopt-a.fresh") != nil {
		t.Error("a created client with no deletionPolicy was left in Keycloak")
	}
}

// findReady is the Ready condition of obj as last read.
func findReady(ac *authv1.AuthClient) *metav1.Condition {
	for i := range ac.Status.Conditions {
		if ac.Status.Conditions[i].Type == authv1.ReadyCondition {
			return &ac.Status.Conditions[i]
		}
	}
	return nil
}

func TestAdoptionNotPermitted(t *testing.T) {
	integration(t)
	const realm, other = "adopt-deny", "adopt-other"
	for _, ns := range []string{"adopt-b", "adopt-c"} {
		ensureNamespace(t, ns, nil)
	}
	serverWith(t, realm, `  adoption:
    clients:
    - namespaces: [adopt-b]
      clientIds: ["shared-*"]
`)
	serverWith(t, other, "")
	handMadeClient(t, realm, "shared-handmade", "handmade-secret-0002")
	handMadeClient(t, realm, "outside-list", "handmade-secret-0003")
	handMadeClient(t, other, "shared-elsewhere", "handmade-secret-0004")
	owner := &authv1.AuthClient{}
	apply(t, authClient("adopt-b", "owner", realm, "  clientId: shared-owned"), owner)
	waitReady(t, owner, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	ownedBefore := keycloakClient(t, realm, "shared-owned")
	writes, otherWrites := keycloakWrites("/admin/realms/"+realm+"/"), keycloakWrites("/admin/realms/"+other+"/")
	count := func() float64 {
		return reconciler.OutcomeCount("AuthClient", reconciler.OutcomeStalled, authv1.ReasonAdoptionNotPermitted)
	}
	start := count()

	cases := []struct{ ns, name, clientID, says string }{
		{"adopt-b", "outside", "outside-list", `does not let namespace "adopt-b" adopt clientId "outside-list"`},
		{"adopt-c", "wrongns", "shared-handmade", `does not let namespace "adopt-c" adopt clientId "shared-handmade"`},
		{"adopt-b", "taker", "shared-owned", `has no Keycloak client "shared-owned" that can be adopted`},
		{"adopt-b", "elsewhere", "shared-elsewhere", `has no Keycloak client "shared-elsewhere" that can be adopted`},
	}
	acs := make([]*authv1.AuthClient, len(cases))
	messages := map[string]string{}
	for i, tc := range cases {
		acs[i] = &authv1.AuthClient{}
		apply(t, authClient(tc.ns, tc.name, realm, "  clientId: "+tc.clientID+"\n  adopt: true"), acs[i])
	}
	for i, tc := range cases {
		cond := waitReady(t, acs[i], metav1.ConditionFalse, authv1.ReasonAdoptionNotPermitted, 60*time.Second)
		if !strings.Contains(cond.Message, tc.says) {
			t.Errorf("%s: message %q lacks %q", tc.name, cond.Message, tc.says)
		}
		if strings.Contains(cond.Message, "adopt-b/owner") || acs[i].Status.Adoption != nil || acs[i].Status.ClientID != "" {
			t.Errorf("%s: reveals or records too much: %q %+v", tc.name, cond.Message, acs[i].Status)
		}
		warningEvent(t, acs[i], authv1.ReasonAdoptionNotPermitted)
		messages[tc.name] = strings.ReplaceAll(cond.Message, tc.clientID, "X")
	}
	// A clientId another AuthClient owns and one that exists only in
	// another realm get the same answer: it tells nothing about either.
	if messages["taker"] != messages["elsewhere"] {
		t.Errorf("the answers differ:\n%s\n%s", messages["taker"], messages["elsewhere"])
	}
	settle.Advanced(t, 30*resync, "AdoptionNotPermitted reconciles", start, float64(2*len(cases)), count)
	if got := keycloakWrites("/admin/realms/" + realm + "/"); got != writes {
		t.Errorf("%d writes to realm %s by refused adoptions", got-writes, realm)
	}
	if got := keycloakWrites("/admin/realms/" + other + "/"); got != otherWrites {
		t.Errorf("%d writes to realm %s by refused adoptions", got-otherWrites, other)
	}
	if keycloakClient(t, realm, "shared-elsewhere") != nil {
		t.Error("a client of another realm was created in this one")
	}
	for _, id := range []string{"shared-handmade", "outside-list"} {
		if c := keycloakClient(t, realm, id); c.Attributes["nauthera.io/owner"] != "" {
			t.Errorf("%s was marked: %v", id, c.Attributes)
		}
	}
	for _, ac := range acs {
		deleteAndWait(t, ac)
	}
	after := keycloakClient(t, realm, "shared-owned")
	if after == nil || after.Attributes["nauthera.io/owner"] != "adopt-b/owner" || gocloak.PString(after.ID) != gocloak.PString(ownedBefore.ID) {
		t.Errorf("the owned client was touched: %+v", after)
	}
	for _, id := range []string{"shared-handmade", "outside-list"} {
		if keycloakClient(t, realm, id) == nil {
			t.Errorf("deleting a refused AuthClient deleted %s", id)
		}
	}
	deleteAndWait(t, owner)
}

func TestAdoptionOfRealm(t *testing.T) {
	integration(t)
	theOperator(t)
	const realm = "adopt-legacy"
	gc, tok := console(t)
	if _, err := gc.CreateRealm(context.Background(), tok, gocloak.RealmRepresentation{
		Realm: gocloak.StringP(realm), Enabled: gocloak.BoolP(true), DisplayName: gocloak.StringP("Legacy realm"),
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gc, tok := console(t)
		_ = gc.DeleteRealm(context.Background(), tok, realm)
	})
	// Not allowed: refused as before.
	as := serverWithoutWait(t, realm, "")
	cond := waitReady(t, as, metav1.ConditionFalse, authv1.ReasonRealmConflict, 60*time.Second)
	if !strings.Contains(cond.Message, "spec.adoption.realm") {
		t.Errorf("message = %q", cond.Message)
	}
	writes := keycloakWrites("/admin/realms/" + realm)

	patch := []byte(`{"spec":{"adoption":{"realm":true}}}`)
	if err := k8s.Patch(context.Background(), as, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, as, metav1.ConditionFalse, authv1.ReasonAdoptionPending, 60*time.Second)
	st := as.Status.Adoption
	if st == nil || st.AdoptedAt != nil || st.Hash == "" {
		t.Fatalf("status.adoption = %+v", st)
	}
	if e, ok := diffEntry(st, "displayName"); !ok || e.Keycloak != "Legacy realm" || e.Desired != realm {
		t.Errorf("displayName diff = %+v", e)
	}
	if e, ok := diffEntry(st, "attributes.frontendUrl"); !ok || e.Desired != "https://adopt-legacy.example.com" {
		t.Errorf("frontendUrl diff = %+v", e)
	}
	pendingReconciles(t, "AuthServer", 2)
	if got := keycloakWrites("/admin/realms/" + realm); got != writes {
		t.Fatalf("%d writes to the realm before the acknowledgement", got-writes)
	}

	annotate(t, as, authv1.AnnotationAdopt, st.Hash)
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	if as.Status.Adoption == nil || as.Status.Adoption.AdoptedAt == nil {
		t.Errorf("status.adoption = %+v", as.Status.Adoption)
	}
	if len(events(t, as, corev1.EventTypeNormal, authv1.ReasonRealmAdopted)) != 1 {
		t.Error("no RealmAdopted Event")
	}
	got, err := gc.GetRealm(context.Background(), tok, realm)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Attributes; a["nauthera.io/owner"] != "security/"+realm || a["nauthera.io/adopted"] != "true" || gocloak.PString(got.DisplayName) != realm {
		t.Errorf("realm after adoption: %v %q", a, gocloak.PString(got.DisplayName))
	}
}
