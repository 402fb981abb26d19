package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/internal/testbed/settle"
)

// Issue 9 at runtime, with the real operator and Keycloak.

// An explicit clientId in another namespace's default form is refused
// whether or not that namespace exists yet, so nobody can claim it before
// the rightful owner arrives.
func TestClientIDSquattingCannotBeatTiming(t *testing.T) {
	integration(t)
	realmServer(t, "squat-server")
	ensureNamespace(t, "team-early", nil)
	squatter := &authv1.AuthClient{}
	apply(t, authClient("team-early", "squatter", "squat-server", "  clientId: team-not-yet.web"), squatter)
	cond := waitReady(t, squatter, metav1.ConditionFalse, authv1.ReasonInvalidSpec, 30*time.Second)
	if !strings.Contains(cond.Message, `spec.clientId "team-not-yet.web"`) {
		t.Errorf("message = %q", cond.Message)
	}
	if keycloakClient(t, "squat-server", "team-not-yet.web") != nil {
		t.Fatal("the squatted clientId reached Keycloak")
	}
	// The namespace arrives later; its own AuthClient gets the clientId.
	ensureNamespace(t, "team-not-yet", nil)
	rightful := &authv1.AuthClient{}
	apply(t, authClient("team-not-yet", "web", "squat-server", ""), rightful)
	waitReady(t, rightful, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if got := rightful.Status.ClientID; got != "team-not-yet.web" {
		t.Errorf("clientId %q", got)
	}
	// Its own namespace as prefix, or no namespace-like prefix, is fine.
	own := &authv1.AuthClient{}
	apply(t, authClient("team-early", "own", "squat-server", "  clientId: team-early.portal"), own)
	waitReady(t, own, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	for _, o := range []*authv1.AuthClient{squatter, rightful, own} {
		deleteAndWait(t, o)
	}
}

// Revoking a namespace disables its client in Keycloak at once (the
// Namespace is watched), keeping the client, its credentials and the
// Secret; admitting it again enables the same client with the same secret.
func TestRevokedNamespaceDisablesItsClient(t *testing.T) {
	integration(t)
	longResync(t) // the revocation must arrive through the Namespace watch
	ensureNamespace(t, "security", nil)
	ensureNamespace(t, "team-rev", map[string]string{"nauthera.io/clients": "yes"})
	as := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: revoking-server, namespace: security}
spec:
  issuerUrl: "https://revoking.example.com"
  deletionPolicy: Delete
  clientNamespaceSelector:
    matchLabels: {nauthera.io/clients: "yes"}`, as)
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	t.Cleanup(func() { deleteAndWait(t, as) })
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-rev", "app", "revoking-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	secret := secretOf(t, "team-rev", "app-client-secret")

	setLabel := func(v string) {
		ns := &corev1.Namespace{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: "team-rev"}, ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels["nauthera.io/clients"] = v
		if err := k8s.Update(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
	}
	setLabel("no")
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonNamespaceNotAllowed, 30*time.Second)
	if !strings.Contains(cond.Message, "is disabled") {
		t.Errorf("the condition should say the client is disabled: %q", cond.Message)
	}
	eventually(t, 10*time.Second, "client disabled in Keycloak", func() error {
		if gocloak.PBool(keycloakClient(t, "revoking-server", "team-rev.app").Enabled) {
			return fmt.Errorf("still enabled")
		}
		return nil
	})
	if got := secretOf(t, "team-rev", "app-client-secret"); got.ResourceVersion != secret.ResourceVersion {
		t.Error("the Secret changed on revocation")
	}

	setLabel("yes")
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	cl := keycloakClient(t, "revoking-server", "team-rev.app")
	if !gocloak.PBool(cl.Enabled) {
		t.Error("the client was not enabled again")
	}
	if keycloakSecret(t, "revoking-server", gocloak.PString(cl.ID)) != string(secret.Data["client_secret"]) {
		t.Error("re-admitting changed the credentials")
	}
	deleteAndWait(t, ac)
}

// A name longer than a label value (63 characters) still gets its Secret:
// the AuthClient is named in an annotation, and in the label only if it fits.
func TestLongAuthClientName(t *testing.T) {
	integration(t)
	realmServer(t, "long-server")
	ensureNamespace(t, "team-long", nil)
	name := strings.Repeat("n", 100)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-long", name, "long-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	s := secretOf(t, "team-long", name+"-client-secret")
	if s.Annotations["auth.nauthera.io/authclient"] != name || s.Labels["auth.nauthera.io/authclient"] != "" {
		t.Errorf("annotations %v labels %v", s.Annotations, s.Labels)
	}
	deleteAndWait(t, ac)
}

// A selector Kubernetes could not use is refused by the API server,
// naming the field (issue 21: matchLabels keys and values are checked at
// admission too). An AuthServer stored before that still gets InvalidSpec
// from its reconciler (AsSelector), but can no longer be created to test it.
func TestBrokenSelectorIsRefusedAtAdmission(t *testing.T) {
	integration(t)
	ensureNamespace(t, "security", nil)
	for _, sel := range []string{`matchLabels: {"bad key!": x}`, `matchLabels: {team: "bad value!"}`} {
		as := &authv1.AuthServer{}
		if err := yaml.UnmarshalStrict([]byte(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: broken-selector, namespace: security}
spec:
  issuerUrl: "https://broken.example.com"
  clientNamespaceSelector:
    `+sel), as); err != nil {
			t.Fatal(err)
		}
		err := k8s.Create(context.Background(), as)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.clientNamespaceSelector.matchLabels") {
			t.Errorf("%s: want refused naming spec.clientNamespaceSelector.matchLabels, got %v", sel, err)
		}
	}
}

// An edit refused at reconcile leaves what worked as it was: the Keycloak
// client, its secret and the Secret.
func TestRefusedEditChangesNothing(t *testing.T) {
	integration(t)
	realmServer(t, "refused-edit-server")
	ensureNamespace(t, "team-ref", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-ref", "app", "refused-edit-server", "  scopes: [openid, profile]"), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	before := keycloakClient(t, "refused-edit-server", "team-ref.app")
	secret := secretOf(t, "team-ref", "app-client-secret")

	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Scopes = []string{"openid", "profile", "role_list"} })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonInvalidSpec, 30*time.Second)
	if !strings.Contains(cond.Message, `spec.scopes[2] "role_list"`) {
		t.Errorf("message = %q", cond.Message)
	}
	// Two more reconciles that refuse the spec (resyncs) before comparing.
	refused := func() float64 {
		return reconciler.OutcomeCount("AuthClient", reconciler.OutcomeStalled, authv1.ReasonInvalidSpec)
	}
	settle.Advanced(t, 20*resync, "InvalidSpec reconciles", refused(), 2, refused)
	after := keycloakClient(t, "refused-edit-server", "team-ref.app")
	if !slices.Equal(after.DefaultClientScopes, before.DefaultClientScopes) || !gocloak.PBool(after.Enabled) ||
		keycloakSecret(t, "refused-edit-server", gocloak.PString(after.ID)) != string(secret.Data["client_secret"]) {
		t.Errorf("the Keycloak client changed: scopes %v → %v, enabled %v", before.DefaultClientScopes, after.DefaultClientScopes, gocloak.PBool(after.Enabled))
	}
	if got := secretOf(t, "team-ref", "app-client-secret"); got.ResourceVersion != secret.ResourceVersion {
		t.Error("the Secret changed")
	}
	deleteAndWait(t, ac)
}

// An AuthServer readiness flap (Keycloak unreachable for its realm, then
// back) costs each of its clients at most one reconcile: none when the
// AuthServer goes un-Ready, one (spread) when it recovers, with one
// Keycloak read each.
func TestAuthServerFlapCostsOneReconcilePerClient(t *testing.T) {
	integration(t)
	longResync(t)
	as := realmServer(t, "flap-server")
	ensureNamespace(t, "team-flap", nil)
	t.Cleanup(faults.Clear)
	const n = 5
	var clients []*authv1.AuthClient
	for i := 0; i < n; i++ {
		ac := &authv1.AuthClient{}
		apply(t, authClient("team-flap", fmt.Sprintf("app-%d", i), "flap-server", ""), ac)
		clients = append(clients, ac)
	}
	for _, ac := range clients {
		waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	}
	reconciles := func() float64 { return clientReconciles(t) }
	settle.Stable(t, "client reconciles", reconciles) // the last status writes have landed
	r0, k0 := clientReconciles(t), faults.Requests("/realms/flap-server/clients")

	// Keycloak stops answering for the realm; the AuthServer notices.
	faults.Set("realm.get", testbed.Fault{Status: 503, PathContains: "/realms/flap-server"})
	annotate(t, as, "nudge", "outage")
	waitReady(t, as, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable, 30*time.Second)
	// The client controller's watch of AuthServers has seen the status
	// change before "no reconcile" means anything.
	cacheShows(t, as, "the AuthServer un-Ready", func(s *authv1.AuthServer) bool {
		c := meta.FindStatusCondition(s.Status.Conditions, authv1.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonKeycloakUnavailable
	})
	if d := settle.Stable(t, "client reconciles", reconciles) - r0; d != 0 {
		t.Errorf("the AuthServer going un-Ready cost %.0f client reconciles, want 0", d)
	}
	for _, ac := range clients {
		waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, time.Second)
	}

	faults.Clear()
	r1 := clientReconciles(t)
	annotate(t, as, "nudge", "recovered")
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 30*time.Second)
	eventually(t, 10*time.Second, "one reconcile per client after the recovery", func() error {
		if d := clientReconciles(t) - r1; d < n {
			return fmt.Errorf("%.0f reconciles", d)
		}
		return nil
	})
	if d := settle.Stable(t, "client reconciles", reconciles) - r1; d != n {
		t.Errorf("the recovery cost %.0f client reconciles, want %d (one per client)", d, n)
	}
	if k := faults.Requests("/realms/flap-server/clients") - k0; k != n {
		t.Errorf("the flap cost %d Keycloak requests for the realm's clients, want %d (one look-up each)", k, n)
	}
	for _, ac := range clients {
		deleteAndWait(t, ac)
	}
}

// clientReconciles is controller-runtime's count of AuthClient reconciles
// of the operator in this test process.
func clientReconciles(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "authclient" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// A change to an AuthServer that its clients do not depend on (a label)
// costs no client reconcile: not one Keycloak request for its realm.
func TestAuthServerLabelChangeCostsNoKeycloakRequest(t *testing.T) {
	integration(t)
	longResync(t)
	as := realmServer(t, "quiet-server")
	ensureNamespace(t, "team-quiet", nil)
	var clients []*authv1.AuthClient
	for i := 0; i < 3; i++ {
		ac := &authv1.AuthClient{}
		apply(t, authClient("team-quiet", fmt.Sprintf("app-%d", i), "quiet-server", ""), ac)
		clients = append(clients, ac)
	}
	for _, ac := range clients {
		waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	}
	settle.Stable(t, "client reconciles", func() float64 { return clientReconciles(t) }) // the last status writes have landed
	before := faults.Requests("/realms/quiet-server/")
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
		t.Fatal(err)
	}
	patched := as.DeepCopy()
	patched.Labels = map[string]string{"cost-center": "42"}
	if err := k8s.Patch(context.Background(), patched, client.MergeFrom(as)); err != nil {
		t.Fatal(err)
	}
	// The operator's watches have seen the label before "no request" means anything.
	cacheShows(t, as, "the new label", func(s *authv1.AuthServer) bool { return s.Labels["cost-center"] == "42" })
	requests := func() int { return faults.Requests("/realms/quiet-server/") }
	if n := settle.Stable(t, "Keycloak requests for the realm", requests) - before; n != 0 {
		t.Errorf("a label change on the AuthServer cost %d Keycloak requests for its realm, want 0", n)
	}
	for _, ac := range clients {
		deleteAndWait(t, ac)
	}
}
