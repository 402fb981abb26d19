package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/internal/testbed/settle"
)

var (
	opMu    sync.Mutex
	current *operator
)

// theOperator returns the running operator, starting it if needed.
func theOperator(t testing.TB) *operator {
	opMu.Lock()
	defer opMu.Unlock()
	if current == nil {
		current = startOperator(t)
	}
	return current
}

func restartOperator(t testing.TB) *operator {
	opMu.Lock()
	defer opMu.Unlock()
	if current != nil {
		current.stop()
	}
	current = startOperator(t)
	return current
}

func sample(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// specExample applies the spec's AuthServer and AuthClient verbatim and waits
// until both are Ready. It runs once; later tests reuse them.
var specOnce sync.Once

func specExample(t *testing.T) (*authv1.AuthServer, *authv1.AuthClient) {
	t.Helper()
	theOperator(t)
	specOnce.Do(func() {
		ensureNamespace(t, "security", nil)
		ensureNamespace(t, "my-app-dev", nil)
		apply(t, sample(t, "auth_v1alpha1_authserver.yaml"), &authv1.AuthServer{})
		apply(t, sample(t, "auth_v1alpha1_authclient.yaml"), &authv1.AuthClient{})
	})
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "production-server", Namespace: "security"}}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "my-webapp", Namespace: "my-app-dev"}}
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	return as, ac
}

func keycloakClient(t testing.TB, realm, clientID string) *gocloak.Client {
	t.Helper()
	gc, tok := console(t)
	list, err := gc.GetClients(context.Background(), tok, realm, gocloak.GetClientsParams{ClientID: &clientID})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		return nil
	}
	return list[0]
}

func keycloakSecret(t testing.TB, realm, id string) string {
	t.Helper()
	gc, tok := console(t)
	cred, err := gc.GetClientSecret(context.Background(), tok, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	return gocloak.PString(cred.Value)
}

// 1. The spec's examples, applied verbatim, give a realm, a client with the
// redirect URI and scopes (api:read included), and a Secret holding
// Keycloak's own credentials.
func TestSpecExampleProvisionsClientAndSecret(t *testing.T) {
	integration(t)
	as, ac := specExample(t)

	if as.Status.RealmName != "production-server" || as.Status.Issuer != "https://auth.prod.example.com/realms/production-server" {
		t.Errorf("AuthServer status: realm %q, issuer %q", as.Status.RealmName, as.Status.Issuer)
	}
	if as.Status.DiscoveryURL != as.Status.Issuer+"/.well-known/openid-configuration" {
		t.Errorf("discovery URL %q", as.Status.DiscoveryURL)
	}
	gc, tok := console(t)
	realm, err := gc.GetRealm(context.Background(), tok, "production-server")
	if err != nil {
		t.Fatal(err)
	}
	if !gocloak.PBool(realm.EventsEnabled) || !gocloak.PBool(realm.AdminEventsEnabled) {
		t.Error("realm must have login and admin events enabled for auditing")
	}
	if realm.Attributes["frontendUrl"] != "https://auth.prod.example.com" {
		t.Errorf("realm frontendUrl = %q", realm.Attributes["frontendUrl"])
	}

	cond := waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, time.Second)
	if cond.Message != "OIDC client has been successfully provisioned." {
		t.Errorf("Ready message = %q", cond.Message)
	}
	if ac.Status.ClientSecretRef == nil || ac.Status.ClientSecretRef.Name != "my-webapp-client-secret" {
		t.Fatalf("status.clientSecretRef = %+v", ac.Status.ClientSecretRef)
	}

	cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
	if cl == nil {
		t.Fatal("no Keycloak client my-app-dev.my-webapp")
	}
	if !slices.Equal(cl.RedirectURIs, []string{"https://my-webapp.dev.example.com/callback"}) {
		t.Errorf("redirect URIs = %v", cl.RedirectURIs)
	}
	if gocloak.PString(cl.Name) != "My Awesome Web App" || cl.Attributes["nauthera.io/owner"] != "my-app-dev/my-webapp" {
		t.Errorf("name %q, owner %q", gocloak.PString(cl.Name), cl.Attributes["nauthera.io/owner"])
	}
	if !strings.Contains(gocloak.PString(cl.Description), "AuthClient my-app-dev/my-webapp") {
		t.Errorf("the console should show where the client comes from; description = %q", gocloak.PString(cl.Description))
	}
	for _, s := range []string{"profile", "email", "api:read"} {
		if !slices.Contains(cl.DefaultClientScopes, s) {
			t.Errorf("scope %q not assigned; default scopes %v", s, cl.DefaultClientScopes)
		}
	}

	s := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	if got := string(s.Data["client_id"]); got != "my-app-dev.my-webapp" {
		t.Errorf("client_id = %q", got)
	}
	if got, want := string(s.Data["client_secret"]), keycloakSecret(t, "production-server", gocloak.PString(cl.ID)); got == "" || got != want {
		t.Error("client_secret in the Secret differs from Keycloak's")
	}
	if got := string(s.Data["issuer_url"]); got != as.Status.Issuer {
		t.Errorf("issuer_url = %q", got)
	}
	if s.Labels["app.kubernetes.io/managed-by"] != "nauthera" || !metav1.IsControlledBy(s, ac) {
		t.Errorf("Secret must be labelled managed and controlled by the AuthClient: labels %v, owners %v", s.Labels, s.OwnerReferences)
	}
}

// 2. The credentials work at the realm's token endpoint; a wrong secret does not.
func TestCredentialsAreAcceptedByKeycloak(t *testing.T) {
	integration(t)
	specExample(t)
	s := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	gc := gocloak.NewClient(kc.URL)
	ctx := context.Background()
	// Introspection authenticates the client with its secret (HTTP Basic).
	res, err := gc.RetrospectToken(ctx, "not-a-token", string(s.Data["client_id"]), string(s.Data["client_secret"]), "production-server")
	if err != nil {
		t.Fatalf("the realm refused the client's own credentials: %v", err)
	}
	if gocloak.PBool(res.Active) {
		t.Error("a bogus token introspected as active")
	}
	if _, err := gc.RetrospectToken(ctx, "not-a-token", string(s.Data["client_id"]), "wrong-secret", "production-server"); err == nil {
		t.Error("the realm accepted a wrong client secret")
	}
}

// 3. Editing redirectUris updates Keycloak and leaves the secret alone.
func TestEditingRedirectURIsKeepsSecret(t *testing.T) {
	integration(t)
	_, ac := specExample(t)
	before := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	ac.Spec.RedirectURIs = append(ac.Spec.RedirectURIs, "https://my-webapp.dev.example.com/callback2")
	if err := k8s.Update(context.Background(), ac); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "redirect URI in Keycloak", func() error {
		cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
		if !slices.Contains(cl.RedirectURIs, "https://my-webapp.dev.example.com/callback2") {
			return fmt.Errorf("redirect URIs %v", cl.RedirectURIs)
		}
		return nil
	})
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 20*time.Second)
	after := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	if string(after.Data["client_secret"]) != string(before.Data["client_secret"]) {
		t.Error("editing redirectUris changed the client secret")
	}
	cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
	if keycloakSecret(t, "production-server", gocloak.PString(cl.ID)) != string(before.Data["client_secret"]) {
		t.Error("Keycloak's secret changed")
	}
}

// 4. A change made in the console is reverted on resync, with an Event
// naming the fields; a client deleted in the console is recreated and the
// Secret follows.
func TestConsoleDriftIsRepaired(t *testing.T) {
	integration(t)
	_, ac := specExample(t)
	ctx := context.Background()
	gc, tok := console(t)
	cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
	want := slices.Clone(cl.RedirectURIs)
	cl.RedirectURIs = []string{"https://evil.example.com/steal"}
	cl.Name = gocloak.StringP("renamed in console")
	cl.Secret = nil
	if err := gc.UpdateClient(ctx, tok, "production-server", *cl); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "drift reverted", func() error {
		got := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
		if !slices.Equal(got.RedirectURIs, want) || gocloak.PString(got.Name) != "My Awesome Web App" {
			return fmt.Errorf("redirect URIs %v, name %q", got.RedirectURIs, gocloak.PString(got.Name))
		}
		return nil
	})
	note := warningEvent(t, ac, authv1.ReasonDriftReverted)
	if !strings.Contains(note, "redirectUris") || !strings.Contains(note, "name") {
		t.Errorf("Event should name the reverted fields: %q", note)
	}

	oldSecret := string(secretOf(t, "my-app-dev", "my-webapp-client-secret").Data["client_secret"])
	if err := gc.DeleteClient(ctx, tok, "production-server", gocloak.PString(cl.ID)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "client recreated and Secret updated", func() error {
		got := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
		if got == nil {
			return fmt.Errorf("client not recreated yet")
		}
		s := secretOf(t, "my-app-dev", "my-webapp-client-secret")
		if string(s.Data["client_secret"]) != keycloakSecret(t, "production-server", gocloak.PString(got.ID)) {
			return fmt.Errorf("Secret does not hold the new client's secret")
		}
		return nil
	})
	if string(secretOf(t, "my-app-dev", "my-webapp-client-secret").Data["client_secret"]) == oldSecret {
		t.Error("a recreated client has a new secret; the Secret must carry it")
	}

	// A Secret edited by hand is restored.
	s := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	creds := string(s.Data["client_secret"])
	s.Data["client_secret"] = []byte("tampered")
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Secret restored", func() error {
		if got := string(secretOf(t, "my-app-dev", "my-webapp-client-secret").Data["client_secret"]); got != creds {
			return fmt.Errorf("client_secret not restored yet")
		}
		return nil
	})

	// A Secret deleted by hand comes back with the same credentials.
	s = secretOf(t, "my-app-dev", "my-webapp-client-secret")
	if err := k8s.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Secret recreated", func() error {
		got := &corev1.Secret{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), got); err != nil {
			return err
		}
		if string(got.Data["client_secret"]) != creds {
			return fmt.Errorf("recreated Secret holds other credentials")
		}
		return nil
	})
}

// 5. A restarted operator finds everything in place: no Keycloak writes, no
// Secret changes, and a steady-state resync reads each client once.
func TestRestartMakesNoWrites(t *testing.T) {
	integration(t)
	_, ac := specExample(t)
	s := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	op := restartOperator(t)
	// Wait for the initial reconcile and two resyncs.
	eventually(t, 30*time.Second, "three reconciles of my-webapp", func() error {
		if n := op.calls("client.find"); n < 3 {
			return fmt.Errorf("%d client reads", n)
		}
		return nil
	})
	if n := op.writes(); n != 0 {
		t.Errorf("restarted operator made %d Keycloak writes, want 0", n)
	}
	for _, extra := range []string{"client.get", "client.secret.get", "clientscope.list", "realm.discovery"} {
		if n := op.calls(extra); n != 0 {
			t.Errorf("steady state made %d %s calls, want 0 (one client read per resync)", n, extra)
		}
	}
	if n := op.calls("token.login"); n != 1 {
		t.Errorf("%d admin logins, want 1 per token lifetime", n)
	}
	after := secretOf(t, "my-app-dev", "my-webapp-client-secret")
	if after.ResourceVersion != s.ResourceVersion {
		t.Error("the restart rewrote the Secret")
	}
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, time.Second)
}

func authClient(ns, name, server string, extra string) string {
	return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: %s, namespace: %s}
spec:
  authServerRef: {name: %s, namespace: security}
  redirectUris: ["https://%s.example.com/callback"]
%s`, name, ns, server, name, extra)
}

func deleteAndWait(t testing.TB, obj client.Object) {
	t.Helper()
	if err := k8s.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "deletion of "+obj.GetName(), func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (finalizers %v): %v", obj.GetFinalizers(), err)
	})
}

// 6. The same name in two namespaces gives two clients; asking for a
// clientId that another AuthClient owns is refused and touches nothing.
func TestClientIDsAreUniqueAndNeverTakenOver(t *testing.T) {
	integration(t)
	specExample(t)
	for _, ns := range []string{"team-a", "team-b", "team-c"} {
		ensureNamespace(t, ns, nil)
	}
	a, b := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, authClient("team-a", "webapp", "production-server", ""), a)
	apply(t, authClient("team-b", "webapp", "production-server", ""), b)
	waitReady(t, a, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitReady(t, b, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	ca, cb := keycloakClient(t, "production-server", "team-a.webapp"), keycloakClient(t, "production-server", "team-b.webapp")
	if ca == nil || cb == nil || gocloak.PString(ca.ID) == gocloak.PString(cb.ID) {
		t.Fatal("same name in two namespaces must give two Keycloak clients")
	}
	// An explicit clientId shaped like another namespace's default is refused
	// before anything reaches Keycloak.
	squatter := &authv1.AuthClient{}
	apply(t, authClient("team-c", "squatter", "production-server", "  clientId: team-b.future-app"), squatter)
	cond := waitReady(t, squatter, metav1.ConditionFalse, authv1.ReasonInvalidSpec, 30*time.Second)
	if !strings.Contains(cond.Message, `namespace "team-b"`) {
		t.Errorf("message = %q", cond.Message)
	}
	if keycloakClient(t, "production-server", "team-b.future-app") != nil {
		t.Error("the squatted clientId reached Keycloak")
	}

	// A clientId owned by another AuthClient is refused and left untouched.
	owner := &authv1.AuthClient{}
	apply(t, authClient("team-a", "shared", "production-server", "  clientId: shared-app"), owner)
	waitReady(t, owner, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	before := keycloakClient(t, "production-server", "shared-app")
	secretA := secretOf(t, "team-a", "shared-client-secret")
	thief := &authv1.AuthClient{}
	apply(t, authClient("team-c", "thief", "production-server", "  clientId: shared-app"), thief)
	cond = waitReady(t, thief, metav1.ConditionFalse, authv1.ReasonClientIDConflict, 30*time.Second)
	if !strings.Contains(cond.Message, "team-a/shared") {
		t.Errorf("message should name the owner: %q", cond.Message)
	}
	warningEvent(t, thief, authv1.ReasonClientIDConflict)
	// Two more reconciles (resyncs) of the thief before comparing.
	conflicts := func() float64 {
		return reconciler.OutcomeCount("AuthClient", reconciler.OutcomeStalled, authv1.ReasonClientIDConflict)
	}
	settle.Advanced(t, 20*resync, "ClientIdConflict reconciles", conflicts(), 2, conflicts)
	after := keycloakClient(t, "production-server", "shared-app")
	if !slices.Equal(after.RedirectURIs, before.RedirectURIs) || after.Attributes["nauthera.io/owner"] != "team-a/shared" {
		t.Errorf("the other client was touched: %v %v", after.RedirectURIs, after.Attributes)
	}
	if got := secretOf(t, "team-a", "shared-client-secret"); got.ResourceVersion != secretA.ResourceVersion {
		t.Error("the other AuthClient's Secret was touched")
	}
	deleteAndWait(t, thief)
	if keycloakClient(t, "production-server", "shared-app") == nil {
		t.Fatal("deleting the refused AuthClient deleted the client it does not own")
	}
	for _, o := range []*authv1.AuthClient{squatter, owner, a, b} {
		deleteAndWait(t, o)
	}
}

// 9. A namespace outside the AuthServer's allow-list is refused.
func TestNamespaceNotAllowed(t *testing.T) {
	integration(t)
	theOperator(t)
	ensureNamespace(t, "security", nil)
	ensureNamespace(t, "allowed", map[string]string{"nauthera.io/clients": "yes"})
	ensureNamespace(t, "outsider", nil)
	as := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: restricted, namespace: security}
spec:
  issuerUrl: "https://restricted.example.com"
  clientNamespaceSelector:
    matchLabels: {nauthera.io/clients: "yes"}`, as)
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)

	ok, bad := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, authClient("allowed", "app", "restricted", ""), ok)
	apply(t, authClient("outsider", "app", "restricted", ""), bad)
	waitReady(t, ok, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	cond := waitReady(t, bad, metav1.ConditionFalse, authv1.ReasonNamespaceNotAllowed, 30*time.Second)
	if !strings.Contains(cond.Message, `namespace "outsider"`) {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, bad, authv1.ReasonNamespaceNotAllowed)
	if keycloakClient(t, "restricted", "outsider.app") != nil {
		t.Error("a client was created for a refused namespace")
	}
	deleteAndWait(t, ok)
	deleteAndWait(t, bad)
	as.Spec.DeletionPolicy = authv1.DeletionPolicyDelete
	if err := k8s.Update(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	deleteAndWait(t, as)
	gc, tok := console(t)
	if _, err := gc.GetRealm(context.Background(), tok, "restricted"); err == nil {
		t.Error("deletionPolicy Delete must delete the realm")
	}
}

// 8. Deletion: Delete removes the Keycloak client, Orphan keeps it, and an
// AuthServer deleted first never strands an AuthClient's finalizer.
func TestDeletionPolicies(t *testing.T) {
	integration(t)
	specExample(t)
	ensureNamespace(t, "team-d", nil)
	del, orphan := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, authClient("team-d", "deleted", "production-server", ""), del)
	apply(t, authClient("team-d", "orphaned", "production-server", "  deletionPolicy: Orphan"), orphan)
	waitReady(t, del, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitReady(t, orphan, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	deleteAndWait(t, del)
	deleteAndWait(t, orphan)
	if keycloakClient(t, "production-server", "team-d.deleted") != nil {
		t.Error("deletionPolicy Delete left the Keycloak client")
	}
	if keycloakClient(t, "production-server", "team-d.orphaned") == nil {
		t.Error("deletionPolicy Orphan deleted the Keycloak client")
	}

	// A recreated AuthClient adopts the client it orphaned, with the same credentials.
	orphanSecret := keycloakSecret(t, "production-server", gocloak.PString(keycloakClient(t, "production-server", "team-d.orphaned").ID))
	again := &authv1.AuthClient{}
	apply(t, authClient("team-d", "orphaned", "production-server", ""), again)
	waitReady(t, again, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if string(secretOf(t, "team-d", "orphaned-client-secret").Data["client_secret"]) != orphanSecret {
		t.Error("the recreated AuthClient must keep the orphaned client's credentials")
	}
	deleteAndWait(t, again)

	// AuthServer first, then its client.
	ensureNamespace(t, "security", nil)
	as := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: short-lived, namespace: security}
spec:
  issuerUrl: "https://short-lived.example.com"
  deletionPolicy: Delete`, as)
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	stranded := &authv1.AuthClient{}
	apply(t, authClient("team-d", "stranded", "short-lived", ""), stranded)
	waitReady(t, stranded, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	deleteAndWait(t, as)
	deleteAndWait(t, stranded)
}

// 7. A missing AuthServer is reported and then healed; a stopped Keycloak
// is reported and then healed, without restarting the operator.
func TestRecoversWhenCauseGoesAway(t *testing.T) {
	integration(t)
	theOperator(t)
	ensureNamespace(t, "security", nil)
	ensureNamespace(t, "team-e", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-e", "early", "late-server", ""), ac)
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAuthServerNotFound, 30*time.Second)
	if cond.Message != "AuthServer security/late-server not found" {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, ac, authv1.ReasonAuthServerNotFound)
	as := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: late-server, namespace: security}
spec:
  issuerUrl: "https://late.example.com"`, as)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	// Ready after a failure is news (a first provisioning is not): one
	// Normal Event says the cause went away.
	if n := occurrences(settledEvents(t, ac, corev1.EventTypeNormal, authv1.ReasonClientProvisioned)); n != 1 {
		t.Errorf("%d ClientProvisioned Events after the recovery, want 1", n)
	}
	secret := string(secretOf(t, "team-e", "early-client-secret").Data["client_secret"])

	if err := kc.Stop(); err != nil {
		t.Fatal(err)
	}
	cond = waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable, 30*time.Second)
	t.Logf("while Keycloak is down: %s", cond.Message)
	warningEvent(t, ac, authv1.ReasonKeycloakUnavailable)
	if err := kc.Start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	if got := string(secretOf(t, "team-e", "early-client-secret").Data["client_secret"]); got != secret {
		t.Error("the outage changed the credentials")
	}
	deleteAndWait(t, ac)
}

// An AuthServer may name its own Keycloak and admin credentials (here a
// service-account client of the master realm); missing credentials and an
// unreachable URL are reported, then healed.
func TestAuthServerKeycloakOverride(t *testing.T) {
	integration(t)
	theOperator(t)
	ctx := context.Background()
	ensureNamespace(t, "platform-b", nil)

	// A service-account admin in the master realm, as a platform team would create.
	gc, tok := console(t)
	id, err := gc.CreateClient(ctx, tok, "master", gocloak.Client{
		ClientID: gocloak.StringP("nauthera-alt-admin"), ServiceAccountsEnabled: gocloak.BoolP(true),
		PublicClient: gocloak.BoolP(false), StandardFlowEnabled: gocloak.BoolP(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gc, tok := console(t); _ = gc.DeleteClient(ctx, tok, "master", id) })
	sa, err := gc.GetClientServiceAccount(ctx, tok, "master", id)
	if err != nil {
		t.Fatal(err)
	}
	adminRole, err := gc.GetRealmRole(ctx, tok, "master", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddRealmRoleToUser(ctx, tok, "master", gocloak.PString(sa.ID), []gocloak.Role{*adminRole}); err != nil {
		t.Fatal(err)
	}
	saSecret := keycloakSecret(t, "master", id)

	as := &authv1.AuthServer{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: other-keycloak, namespace: platform-b}
spec:
  issuerUrl: "https://b.example.com"
  deletionPolicy: Delete
  keycloak:
    url: %q
    adminCredentialsSecretRef: {name: kc-b-admin}`, kc.URL), as)
	cond := waitReady(t, as, metav1.ConditionFalse, authv1.ReasonCredentialsNotFound, 30*time.Second)
	if !strings.Contains(cond.Message, "platform-b/kc-b-admin not found") {
		t.Errorf("message = %q", cond.Message)
	}
	if err := k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kc-b-admin", Namespace: "platform-b"},
		StringData: map[string]string{"client_id": "nauthera-alt-admin", "client_secret": saSecret},
	}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 90*time.Second)
	// A fresh console token: the wait above can outlast the 60 s one.
	gc, tok = console(t)
	if _, err := gc.GetRealm(ctx, tok, "other-keycloak"); err != nil {
		t.Errorf("realm not created through the override: %v", err)
	}

	// Pointing it at a Keycloak that does not answer is reported as unavailable.
	as.Spec.Keycloak.URL = "http://127.0.0.1:1"
	if err := k8s.Update(ctx, as); err != nil {
		t.Fatal(err)
	}
	cond = waitReady(t, as, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable, 30*time.Second)
	if strings.Contains(cond.Message, saSecret) {
		t.Fatal("the condition leaks the admin secret")
	}
	as.Spec.Keycloak.URL = kc.URL
	if err := k8s.Update(ctx, as); err != nil {
		t.Fatal(err)
	}
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 30*time.Second)
	deleteAndWait(t, as)
}

// A realm that belongs to another AuthServer, or to no AuthServer, is never
// taken over; by default a deleted AuthServer leaves its realm in place.
func TestRealmOwnership(t *testing.T) {
	integration(t)
	specExample(t)
	ensureNamespace(t, "platform-c", nil)
	ctx := context.Background()

	twin := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: twin, namespace: platform-c}
spec:
  issuerUrl: "https://twin.example.com"
  realmName: production-server`, twin)
	cond := waitReady(t, twin, metav1.ConditionFalse, authv1.ReasonRealmConflict, 30*time.Second)
	if !strings.Contains(cond.Message, "owned by AuthServer security/production-server") {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, twin, authv1.ReasonRealmConflict)

	// master (in any case) is refused at admission; a realm made by hand is
	// refused at reconcile and never deleted.
	grab := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "grab-master", Namespace: "platform-c"},
		Spec: authv1.AuthServerSpec{IssuerURL: "https://grab.example.com", RealmName: "Master", DeletionPolicy: authv1.DeletionPolicyDelete}}
	if err := k8s.Create(ctx, grab); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.realmName") {
		t.Errorf("realmName Master: want refused at admission, got %v", err)
	}
	gc, tok := console(t)
	if _, err := gc.CreateRealm(ctx, tok, gocloak.RealmRepresentation{Realm: gocloak.StringP("hand-made"), Enabled: gocloak.BoolP(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gc.DeleteRealm(ctx, tok, "hand-made") })
	master := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: grab-hand-made, namespace: platform-c}
spec:
  issuerUrl: "https://grab.example.com"
  realmName: hand-made
  deletionPolicy: Delete`, master)
	cond = waitReady(t, master, metav1.ConditionFalse, authv1.ReasonRealmConflict, 30*time.Second)
	if !strings.Contains(cond.Message, "not managed by Nauthera") {
		t.Errorf("message = %q", cond.Message)
	}
	realm, err := gc.GetRealm(ctx, tok, "production-server")
	if err != nil || realm.Attributes["frontendUrl"] != "https://auth.prod.example.com" {
		t.Fatalf("the owner's realm was touched: %v %v", err, realm.Attributes)
	}
	deleteAndWait(t, twin)
	deleteAndWait(t, master)
	if _, err := gc.GetRealm(ctx, tok, "hand-made"); err != nil {
		t.Fatal("deleting a refused AuthServer deleted a realm it does not own")
	}
	if _, err := gc.GetRealm(ctx, tok, "production-server"); err != nil {
		t.Fatal("deleting a refused AuthServer deleted its owner's realm")
	}

	kept := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: kept, namespace: platform-c}
spec:
  issuerUrl: "https://kept.example.com"`, kept)
	waitReady(t, kept, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	deleteAndWait(t, kept)
	if _, err := gc.GetRealm(ctx, tok, "kept"); err != nil {
		t.Error("the default deletionPolicy (Orphan) must keep the realm")
	}
}

// A public client gets PKCE and no secret; a service-account client can get
// tokens with the client credentials grant using only what its Secret holds.
func TestPublicAndServiceAccountClients(t *testing.T) {
	integration(t)
	specExample(t)
	ensureNamespace(t, "team-f", nil)
	spa, svc := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, authClient("team-f", "spa", "production-server", "  clientType: Public\n  webOrigins: [\"https://spa.example.com\"]"), spa)
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: team-f}
spec:
  authServerRef: {name: production-server, namespace: security}
  grantTypes: [client_credentials]
  scopes: [openid, "api:read"]`, svc)
	waitReady(t, spa, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitReady(t, svc, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)

	cl := keycloakClient(t, "production-server", "team-f.spa")
	if !gocloak.PBool(cl.PublicClient) || cl.Attributes["pkce.code.challenge.method"] != "S256" || !slices.Equal(cl.WebOrigins, []string{"https://spa.example.com"}) {
		t.Errorf("public client: public %v pkce %q origins %v", gocloak.PBool(cl.PublicClient), cl.Attributes["pkce.code.challenge.method"], cl.WebOrigins)
	}
	if _, ok := secretOf(t, "team-f", "spa-client-secret").Data["client_secret"]; ok {
		t.Error("a public client's Secret must have no client_secret")
	}

	s := secretOf(t, "team-f", "worker-client-secret")
	jwt, err := gocloak.NewClient(kc.URL).LoginClient(context.Background(), string(s.Data["client_id"]), string(s.Data["client_secret"]), "production-server")
	if err != nil {
		t.Fatalf("client credentials grant with the Secret's credentials: %v", err)
	}
	if !strings.Contains(jwt.Scope, "api:read") {
		t.Errorf("token scope %q lacks api:read", jwt.Scope)
	}
	deleteAndWait(t, spa)
	deleteAndWait(t, svc)
}
