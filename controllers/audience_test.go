package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Audiences (issue 14): an AuthClient puts an API's clientId into its
// access tokens, proven with real tokens, only while the API consents.

// audienceOf returns the aud claim of a JWT (a string or a list).
func audienceOf(t *testing.T, token string) []string {
	t.Helper()
	var claims struct {
		Aud any `json:"aud"`
	}
	claimsOf(t, token, &claims)
	switch a := claims.Aud.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, v := range a {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	return nil
}

// waitAudience waits until the access tokens of the AuthClient's Secret do
// (or do not) name audience.
func waitAudience(t *testing.T, realm, ns, name, audience string, want bool) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%s/%s tokens with audience %s: %v", ns, name, audience, want), func() error {
		jwt, err := clientToken(t, realm, ns, name+"-client-secret")
		if err != nil {
			return err
		}
		if aud := audienceOf(t, jwt.AccessToken); slices.Contains(aud, audience) != want {
			return fmt.Errorf("aud is %v", aud)
		}
		return nil
	})
}

func TestAudiencesNeedTheTargetsConsent(t *testing.T) {
	integration(t)
	as := realmServer(t, "aud-server")
	realm := as.Status.RealmName
	for _, ns := range []string{"aud-shop", "aud-web", "aud-evil"} {
		ensureNamespace(t, ns, nil)
	}
	const api = "aud-shop.orders-api"

	// The frontend first: its audience does not exist yet. Another
	// namespace's AuthClient that is missing reads like one that does not
	// consent: its existence is not this client's owner's to learn.
	frontend := &authv1.AuthClient{}
	apply(t, authClient("aud-web", "frontend", "aud-server", worker+"\n"+"  audiences: [{name: orders-api, namespace: aud-shop}]"), frontend)
	t.Cleanup(func() { deleteAndWait(t, frontend) })
	cond := waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonAudienceNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.audiences[0]: AuthClient aud-shop/orders-api does not exist or does not accept tokens issued to this client") {
		t.Errorf("message %q does not name the audience", cond.Message)
	}
	// In its own namespace a missing AuthClient is named as missing.
	ghost := &authv1.AuthClient{}
	apply(t, authClient("aud-web", "ghost", "aud-server", worker+"\n"+"  audiences: [{name: nobody}]"), ghost)
	t.Cleanup(func() { deleteAndWait(t, ghost) })
	cond = waitReady(t, ghost, metav1.ConditionFalse, authv1.ReasonAudienceNotFound, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.audiences[0]: AuthClient aud-web/nobody does not exist") {
		t.Errorf("message %q does not name the missing audience", cond.Message)
	}
	// The client works meanwhile, without the audience.
	waitAudience(t, realm, "aud-web", "frontend", api, false)

	// The API appears, consenting to aud-web: the watch on it brings the
	// frontend to Ready without waiting for a resync.
	apiClient := &authv1.AuthClient{}
	apply(t, authClient("aud-shop", "orders-api", "aud-server", worker+"\n"+"  audienceAccess:\n    namespaces: [aud-web]"), apiClient)
	t.Cleanup(func() { deleteAndWait(t, apiClient) })
	waitReady(t, frontend, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitAudience(t, realm, "aud-web", "frontend", api, true)
	if !slices.Equal(frontend.Status.Audiences, []string{api}) {
		t.Errorf("status.audiences = %v, want [%s]", frontend.Status.Audiences, api)
	}
	// ID tokens keep the client itself as audience; the API is in access tokens only.
	kcFrontend := keycloakClient(t, realm, "aud-web.frontend")
	if got := len(kcFrontend.ProtocolMappers); got != 1 {
		t.Errorf("frontend has %d protocol mappers, want 1", got)
	}

	// Another namespace, not consented to: refused, named, and its tokens
	// do not carry the API; the rest of its client works.
	intruder := &authv1.AuthClient{}
	apply(t, authClient("aud-evil", "intruder", "aud-server", worker+"\n"+"  audiences: [{name: orders-api, namespace: aud-shop}]"), intruder)
	t.Cleanup(func() { deleteAndWait(t, intruder) })
	cond = waitReady(t, intruder, metav1.ConditionFalse, authv1.ReasonAudienceNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, `AuthClient aud-shop/orders-api does not exist or does not accept tokens issued to this client`) || !strings.Contains(cond.Message, `"aud-evil"`) {
		t.Errorf("refusal message %q", cond.Message)
	}
	if note := warningEvent(t, intruder, authv1.ReasonAudienceNotPermitted); !strings.Contains(note, "spec.audienceAccess") {
		t.Errorf("Warning Event %q does not say how to grant access", note)
	}
	waitAudience(t, realm, "aud-evil", "intruder", api, false)

	// A clientId someone else holds cannot be smuggled in through an
	// AuthClient of one's own namespace (implicit consent) that claims it.
	gc, token := console(t)
	if _, err := gc.CreateClient(context.Background(), token, realm, gocloak.Client{ClientID: gocloak.StringP("payments-api")}); err != nil {
		t.Fatal(err)
	}
	fake := &authv1.AuthClient{}
	apply(t, authClient("aud-evil", "fake-payments", "aud-server", worker+"\n"+"  clientId: payments-api"), fake)
	t.Cleanup(func() { deleteAndWait(t, fake) })
	waitReady(t, fake, metav1.ConditionFalse, authv1.ReasonClientIDConflict, 30*time.Second)
	smuggler := &authv1.AuthClient{}
	apply(t, authClient("aud-evil", "smuggler", "aud-server", worker+"\n"+"  audiences: [{name: fake-payments}]"), smuggler)
	t.Cleanup(func() { deleteAndWait(t, smuggler) })
	cond = waitReady(t, smuggler, metav1.ConditionFalse, authv1.ReasonAudienceNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, `clientId "payments-api" in realm`) {
		t.Errorf("message %q does not say the clientId is not the audience's client", cond.Message)
	}
	waitAudience(t, realm, "aud-evil", "smuggler", "payments-api", false)

	// Consent withdrawn while the frontend is stuck on a problem of its own
	// (a Secret template that does not render, past a disabled webhook):
	// the API still leaves its tokens at once.
	editClient(t, frontend, func(ac *authv1.AuthClient) {
		ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"ID": "{{ .no_such_value }}"}}
	})
	waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 30*time.Second)
	editClient(t, apiClient, func(ac *authv1.AuthClient) { ac.Spec.AudienceAccess = nil })
	waitAudience(t, realm, "aud-web", "frontend", api, false)
	editClient(t, frontend, func(ac *authv1.AuthClient) { ac.Spec.SecretTemplate = nil })
	waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonAudienceNotPermitted, 30*time.Second)
	waitAudience(t, realm, "aud-web", "frontend", api, false)
	if len(frontend.Status.Audiences) != 0 {
		t.Errorf("status.audiences = %v after consent was withdrawn", frontend.Status.Audiences)
	}

	// Consent for this one client (not its namespace) brings it back; an
	// audience mapper edited in the console is restored.
	editClient(t, apiClient, func(ac *authv1.AuthClient) {
		ac.Spec.AudienceAccess = &authv1.AudienceAccess{Clients: []authv1.NamespacedReference{{Namespace: "aud-web", Name: "frontend"}}}
	})
	waitReady(t, frontend, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitAudience(t, realm, "aud-web", "frontend", api, true)
	kcFrontend = keycloakClient(t, realm, "aud-web.frontend")
	m := kcFrontend.ProtocolMappers[0]
	m.Config["access.token.claim"] = "false"
	if err := gc.UpdateClientProtocolMapper(context.Background(), token, realm, *kcFrontend.ID, *m.ID, m); err != nil {
		t.Fatal(err)
	}
	waitAudience(t, realm, "aud-web", "frontend", api, false) // the console edit took effect
	annotate(t, frontend, "nudge", "1")
	waitAudience(t, realm, "aud-web", "frontend", api, true)
	if note := warningEvent(t, frontend, authv1.ReasonDriftReverted); !strings.Contains(note, "audience mappers (restore "+api+")") {
		t.Errorf("DriftReverted Event %q does not name the mapper", note)
	}

	// Deleted with deletionPolicy Orphan, the frontend's Keycloak client
	// lives on, without the audiences: nobody could withdraw them any more.
	editClient(t, frontend, func(ac *authv1.AuthClient) { ac.Spec.DeletionPolicy = authv1.DeletionPolicyOrphan })
	deleteAndWait(t, frontend)
	if kcFrontend = keycloakClient(t, realm, "aud-web.frontend"); kcFrontend == nil {
		t.Fatal("the orphaned client is gone")
	}
	if slices.ContainsFunc(kcFrontend.ProtocolMappers, desired.OwnedAudienceMapper) {
		t.Errorf("the orphaned client kept the audiences %v", desired.AudiencesOf(*kcFrontend))
	}
}

// An AuthClient of the frontend's own namespace (which consents
// implicitly) that names the API's clientId gets no say over the API's
// audience: when the API withdraws its consent while the frontend's
// reconcile stops early (a policy conflict), the API leaves the frontend's
// newly issued tokens all the same.
func TestAudiencesImposterKeepsNothingOnEarlyExit(t *testing.T) {
	integration(t)
	realm := policyServer(t, "aud-imposter").Status.RealmName
	for _, ns := range []string{"aud-imp-shop", "aud-imp-web"} {
		ensureNamespace(t, ns, nil)
	}
	const api = "aud-imp-orders"
	apiClient := &authv1.AuthClient{}
	apply(t, authClient("aud-imp-shop", "orders-api", "aud-imposter", worker+"\n  clientId: "+api+"\n  audienceAccess: {namespaces: [aud-imp-web]}"), apiClient)
	t.Cleanup(func() { deleteAndWait(t, apiClient) })
	waitReady(t, apiClient, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)

	frontend := &authv1.AuthClient{}
	apply(t, authClient("aud-imp-web", "frontend", "aud-imposter", worker+"\n  audiences: [{name: orders-api, namespace: aud-imp-shop}]"), frontend)
	t.Cleanup(func() { deleteAndWait(t, frontend) })
	waitReady(t, frontend, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitAudience(t, realm, "aud-imp-web", "frontend", api, true)

	// The imposter claims the API's clientId; the frontend names it as an
	// audience too, and is refused.
	imposter := &authv1.AuthClient{}
	apply(t, authClient("aud-imp-web", "copy", "aud-imposter", worker+"\n  clientId: "+api), imposter)
	t.Cleanup(func() { deleteAndWait(t, imposter) })
	waitReady(t, imposter, metav1.ConditionFalse, authv1.ReasonClientIDConflict, 30*time.Second)
	editClient(t, frontend, func(ac *authv1.AuthClient) {
		ac.Spec.Audiences = append(ac.Spec.Audiences, authv1.ObjectReference{Name: "copy"})
	})
	cond := waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonAudienceNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, fmt.Sprintf("clientId %q in realm %q is not its client", api, realm)) {
		t.Errorf("message %q", cond.Message)
	}
	waitAudience(t, realm, "aud-imp-web", "frontend", api, true)

	// The reconcile stops early; the API withdraws its consent.
	applyPolicy(t, "security", "aud-imp-basic", "aud-imposter", "  clientAuthentication: {method: client_secret_basic}")
	applyPolicy(t, "security", "aud-imp-jwt", "aud-imposter", "  clientAuthentication: {method: client_secret_jwt}")
	waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonPolicyConflict, 30*time.Second)
	editClient(t, apiClient, func(ac *authv1.AuthClient) { ac.Spec.AudienceAccess = nil })
	waitAudience(t, realm, "aud-imp-web", "frontend", api, false)
	waitReady(t, frontend, metav1.ConditionFalse, authv1.ReasonPolicyConflict, time.Second)
	if slices.Contains(frontend.Status.Audiences, api) {
		t.Errorf("status.audiences = %v after consent was withdrawn", frontend.Status.Audiences)
	}
}
