package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// Role grants (issue 22): a machine client's service account holds roles
// of an API, proven with real client-credentials tokens, only while the
// API's owner consents.

// declareRoles creates client roles on the Keycloak client clientID
// through Keycloak's admin API, as the roles step (spec.roles, built
// separately) does; the tests also list them in the target's spec.roles,
// so that both agree. A role that exists is kept.
func declareRoles(t *testing.T, realm, clientID string, roles ...string) {
	t.Helper()
	gc, tok := console(t)
	c := keycloakClient(t, realm, clientID)
	if c == nil {
		t.Fatalf("no Keycloak client %s", clientID)
	}
	for _, role := range roles {
		_, err := gc.CreateClientRole(context.Background(), tok, realm, *c.ID, gocloak.Role{Name: gocloak.StringP(role)})
		var apiErr *gocloak.APIError
		if err != nil && !(errors.As(err, &apiErr) && apiErr.Code == 409) {
			t.Fatal(err)
		}
	}
}

// tokenRoles returns the roles a client-credentials token of the
// AuthClient's Secret carries for clientID (resource_access), and its aud.
func tokenRoles(t *testing.T, realm, ns, name, clientID string) (roles, aud []string, err error) {
	t.Helper()
	jwt, err := clientToken(t, realm, ns, name+"-client-secret")
	if err != nil {
		return nil, nil, err
	}
	var claims struct {
		ResourceAccess map[string]struct {
			Roles []string `json:"roles"`
		} `json:"resource_access"`
	}
	claimsOf(t, jwt.AccessToken, &claims)
	roles = claims.ResourceAccess[clientID].Roles
	slices.Sort(roles)
	return roles, audienceOf(t, jwt.AccessToken), nil
}

// waitTokenRoles waits until a newly issued token of the AuthClient
// carries exactly want of clientID's roles, and names clientID in its aud
// exactly when it carries some.
func waitTokenRoles(t *testing.T, realm, ns, name, clientID string, want ...string) {
	t.Helper()
	waitTokenRolesWithin(t, 30*time.Second, realm, ns, name, clientID, want...)
}

// waitTokenRolesWithin is waitTokenRoles with its own timeout.
func waitTokenRolesWithin(t *testing.T, timeout time.Duration, realm, ns, name, clientID string, want ...string) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s/%s tokens with roles %v of %s", ns, name, want, clientID), func() error {
		roles, aud, err := tokenRoles(t, realm, ns, name, clientID)
		if err != nil {
			return err
		}
		if !slices.Equal(roles, want) {
			return fmt.Errorf("roles %v", roles)
		}
		if slices.Contains(aud, clientID) != (len(want) > 0) {
			return fmt.Errorf("aud %v with roles %v", aud, roles)
		}
		return nil
	})
}

// waitDriftEvent waits for a DriftReverted Event about obj whose note
// contains text.
func waitDriftEvent(t *testing.T, obj *authv1.AuthClient, text string) {
	t.Helper()
	waitEventNote(t, 30*time.Second, obj, corev1.EventTypeWarning, authv1.ReasonDriftReverted, text)
}

// waitEventNote waits for an Event of typ and reason about obj whose note
// contains text.
func waitEventNote(t *testing.T, timeout time.Duration, obj *authv1.AuthClient, typ, reason, text string) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("a %s Event saying %q", reason, text), func() error {
		for _, e := range events(t, obj, typ, reason) {
			if strings.Contains(e.Note, text) {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
}

// mapConsoleRole maps role of client roleClientID to the service account
// of clientID, as an administrator would in the console.
func mapConsoleRole(t *testing.T, realm, clientID, roleClientID, role string) {
	t.Helper()
	gc, tok := console(t)
	ctx := context.Background()
	sa, err := gc.GetClientServiceAccount(ctx, tok, realm, *keycloakClient(t, realm, clientID).ID)
	if err != nil {
		t.Fatal(err)
	}
	api := keycloakClient(t, realm, roleClientID)
	r, err := gc.GetClientRole(ctx, tok, realm, *api.ID, role)
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddClientRolesToUser(ctx, tok, realm, *api.ID, *sa.ID, []gocloak.Role{*r}); err != nil {
		t.Fatal(err)
	}
}

const grantOrdersRoles = `  roles: [{name: "orders:read"}, {name: "orders:write"}, {name: "orders:admin"}]`

func grantOf(ns, name string, roles ...string) string {
	return fmt.Sprintf("  roleGrants: [{client: {name: %s, namespace: %s}, roles: [%q]}]", name, ns, strings.Join(roles, `", "`))
}

func TestRoleGrantsNeedTheTargetsConsent(t *testing.T) {
	integration(t)
	realm := policyServer(t, "grant-server").Status.RealmName
	for _, ns := range []string{"grant-shop", "grant-jobs", "grant-evil"} {
		ensureNamespace(t, ns, nil)
	}
	const api = "grant-shop.orders-api"
	apiClient := &authv1.AuthClient{}
	apply(t, authClient("grant-shop", "orders-api", "grant-server", grantOrdersRoles), apiClient)
	t.Cleanup(func() { deleteAndWait(t, apiClient) })
	waitReady(t, apiClient, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	declareRoles(t, realm, api, "orders:read", "orders:write", "orders:admin")

	// Before the API consents, the worker of another namespace is refused
	// and its tokens carry nothing of the API; the client works meanwhile.
	workerAC := &authv1.AuthClient{}
	apply(t, authClient("grant-jobs", "worker", "grant-server", worker+"\n"+grantOf("grant-shop", "orders-api", "orders:write")), workerAC)
	t.Cleanup(func() { deleteAndWait(t, workerAC) })
	cond := waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonRoleGrantNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.roleGrants[0]: AuthClient grant-shop/orders-api does not exist or does not let this client hold its roles") || !strings.Contains(cond.Message, "spec.roleGrantAccess") {
		t.Errorf("refusal message %q", cond.Message)
	}
	waitTokenRoles(t, realm, "grant-jobs", "worker", api)

	// The API consents to the namespace: the watch on it grants the role.
	editClient(t, apiClient, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrantAccess = &authv1.RoleGrantAccess{Namespaces: []string{"grant-jobs"}}
	})
	waitReady(t, workerAC, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitTokenRoles(t, realm, "grant-jobs", "worker", api, "orders:write")
	if want := []authv1.RoleGrantStatus{{ClientID: api, Roles: []string{"orders:write"}}}; fmt.Sprint(workerAC.Status.RoleGrants) != fmt.Sprint(want) {
		t.Errorf("status.roleGrants = %+v, want %+v", workerAC.Status.RoleGrants, want)
	}

	// An intruder of a namespace the API does not consent to is refused
	// with a message that names nothing of the API's roles, and its tokens
	// carry nothing of it.
	intruder := &authv1.AuthClient{}
	apply(t, authClient("grant-evil", "intruder", "grant-server", worker+"\n"+grantOf("grant-shop", "orders-api", "orders:admin")), intruder)
	t.Cleanup(func() { deleteAndWait(t, intruder) })
	cond = waitReady(t, intruder, metav1.ConditionFalse, authv1.ReasonRoleGrantNotPermitted, 30*time.Second)
	if strings.Contains(cond.Message, "orders:") || !strings.Contains(cond.Message, `"grant-evil"`) {
		t.Errorf("intruder's message %q names the API's roles or not how to ask", cond.Message)
	}
	if note := warningEvent(t, intruder, authv1.ReasonRoleGrantNotPermitted); strings.Contains(note, "orders:") {
		t.Errorf("intruder's Event %q names the API's roles", note)
	}
	waitTokenRoles(t, realm, "grant-evil", "intruder", api)
	if len(intruder.Status.RoleGrants) != 0 {
		t.Errorf("intruder status.roleGrants = %+v", intruder.Status.RoleGrants)
	}

	// A role mapping added in the console is reverted, with an Event
	// naming it.
	mapConsoleRole(t, realm, "grant-jobs.worker", api, "orders:admin")
	waitTokenRoles(t, realm, "grant-jobs", "worker", api, "orders:write")
	waitDriftEvent(t, workerAC, api+" (-orders:admin)")

	// A limit on the roles other namespaces may hold: a role outside it is
	// refused without saying whether it exists.
	editClient(t, apiClient, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrantAccess = &authv1.RoleGrantAccess{Namespaces: []string{"grant-jobs"}, Roles: []string{"orders:read"}}
	})
	cond = waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonRoleGrantNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, `role "orders:write" of AuthClient grant-shop/orders-api does not exist or may not be granted`) {
		t.Errorf("limit message %q", cond.Message)
	}
	waitTokenRoles(t, realm, "grant-jobs", "worker", api)

	// Consent withdrawn: a newly issued token loses the role.
	editClient(t, apiClient, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrantAccess = &authv1.RoleGrantAccess{Namespaces: []string{"grant-jobs"}}
	})
	waitTokenRoles(t, realm, "grant-jobs", "worker", api, "orders:write")
	editClient(t, apiClient, func(ac *authv1.AuthClient) { ac.Spec.RoleGrantAccess = nil })
	waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonRoleGrantNotPermitted, 30*time.Second)
	waitTokenRoles(t, realm, "grant-jobs", "worker", api)
	if len(workerAC.Status.RoleGrants) != 0 {
		t.Errorf("status.roleGrants = %+v after consent was withdrawn", workerAC.Status.RoleGrants)
	}

	// Deleted with deletionPolicy Orphan, the worker's Keycloak client
	// lives on without the roles: nobody could withdraw them any more.
	editClient(t, apiClient, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrantAccess = &authv1.RoleGrantAccess{Clients: []authv1.NamespacedReference{{Namespace: "grant-jobs", Name: "worker"}}}
	})
	waitTokenRoles(t, realm, "grant-jobs", "worker", api, "orders:write")
	creds := secretOf(t, "grant-jobs", "worker-client-secret").Data
	editClient(t, workerAC, func(ac *authv1.AuthClient) { ac.Spec.DeletionPolicy = authv1.DeletionPolicyOrphan })
	deleteAndWait(t, workerAC)
	jwt, err := gocloak.NewClient(kc.URL).LoginClient(context.Background(), string(creds["client_id"]), string(creds["client_secret"]), realm)
	if err != nil {
		t.Fatalf("the orphaned client no longer works: %v", err)
	}
	var claims struct {
		ResourceAccess map[string]any `json:"resource_access"`
	}
	claimsOf(t, jwt.AccessToken, &claims)
	if _, ok := claims.ResourceAccess[api]; ok {
		t.Errorf("the orphaned client's token still carries roles of %s: %v", api, claims.ResourceAccess)
	}
}

// A grant whose target is missing or lacks the role is RoleNotFound; one
// whose target has no Keycloak client yet waits (RoleGrantPending) without
// a hot loop and converges; consent withdrawn while the reconcile stops
// early (a policy conflict) still leaves the tokens.
func TestRoleGrantsPendingMissingAndEarlyExit(t *testing.T) {
	integration(t)
	realm := policyServer(t, "grant-pending").Status.RealmName
	ensureNamespace(t, "grant-team", nil)

	ghost := &authv1.AuthClient{}
	apply(t, authClient("grant-team", "ghost", "grant-pending", worker+"\n"+grantOf("grant-team", "nobody", "x")), ghost)
	t.Cleanup(func() { deleteAndWait(t, ghost) })
	cond := waitReady(t, ghost, metav1.ConditionFalse, authv1.ReasonRoleNotFound, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.roleGrants[0]: AuthClient grant-team/nobody does not exist") {
		t.Errorf("message %q", cond.Message)
	}

	// The API's Keycloak client cannot be created for now.
	const api = "grant-team.late-api"
	faults.Set("client.create", testbed.Fault{Status: 503, BodyContains: api})
	t.Cleanup(func() { faults.Set("client.create", testbed.Fault{}) })
	lateAPI := &authv1.AuthClient{}
	apply(t, authClient("grant-team", "late-api", "grant-pending", grantOrdersRoles), lateAPI)
	t.Cleanup(func() { deleteAndWait(t, lateAPI) })
	job := &authv1.AuthClient{}
	apply(t, authClient("grant-team", "job", "grant-pending", worker+"\n"+grantOf("grant-team", "late-api", "orders:read")), job)
	t.Cleanup(func() { deleteAndWait(t, job) })
	cond = waitReady(t, job, metav1.ConditionFalse, authv1.ReasonRoleGrantPending, 30*time.Second)
	if !strings.Contains(cond.Message, "AuthClient grant-team/late-api has no Keycloak client yet") {
		t.Errorf("pending message %q", cond.Message)
	}
	// While the API retries its create (with backoff), the job is not
	// reconciled over and over: it waits for the API's readiness.
	// (Events already under way when it turned pending, such as the API's
	// first Ready condition, may still arrive: a few reconciles, not one
	// per retry of the API.)
	// Each reconcile of the job reads its service account's user once.
	saPath := *keycloakClient(t, realm, "grant-team.job").ID + "/service-account-user"
	before, hits := faults.Requests(saPath), faults.Hits("client.create")
	eventually(t, 60*time.Second, "the API's create retried 6 times", func() error {
		if n := faults.Hits("client.create") - hits; n < 6 {
			return fmt.Errorf("%d retries", n)
		}
		return nil
	})
	if faults.Requests(saPath) == 0 {
		t.Fatalf("no request to %s seen: the count below would measure nothing", saPath)
	}
	n := faults.Requests(saPath) - before
	t.Logf("the pending grant was reconciled %d times while the API retried its create %d times", n, faults.Hits("client.create")-hits)
	if n > 3 {
		t.Errorf("the pending grant was reconciled %d times while the API retried 6 times", n)
	}
	faults.Set("client.create", testbed.Fault{})
	waitReady(t, lateAPI, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	declareRoles(t, realm, api, "orders:read", "orders:write")
	waitReady(t, job, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitTokenRoles(t, realm, "grant-team", "job", api, "orders:read")

	// A role the API does not declare.
	editClient(t, job, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrants = []authv1.RoleGrant{{Client: authv1.ObjectReference{Name: "late-api"}, Roles: []string{"orders:read", "orders:delete"}}}
	})
	cond = waitReady(t, job, metav1.ConditionFalse, authv1.ReasonRoleNotFound, 30*time.Second)
	if !strings.Contains(cond.Message, `AuthClient grant-team/late-api declares no role "orders:delete" in its spec.roles`) {
		t.Errorf("message %q", cond.Message)
	}
	waitTokenRoles(t, realm, "grant-team", "job", api, "orders:read")

	// The reconcile stops early (two policies contradict each other)
	// while the API stops declaring the role: it leaves the tokens all the
	// same.
	applyPolicy(t, "security", "grant-basic", "grant-pending", "  clientAuthentication: {method: client_secret_basic}")
	applyPolicy(t, "security", "grant-jwt", "grant-pending", "  clientAuthentication: {method: client_secret_jwt}")
	waitReady(t, job, metav1.ConditionFalse, authv1.ReasonPolicyConflict, 30*time.Second)
	editClient(t, lateAPI, func(ac *authv1.AuthClient) {
		ac.Spec.Roles = []authv1.ClientRole{{Name: "orders:write"}}
	})
	waitTokenRoles(t, realm, "grant-team", "job", api)
	waitReady(t, job, metav1.ConditionFalse, authv1.ReasonPolicyConflict, time.Second)
}

// A grant on a client without a service account (no client_credentials
// grant) is refused at admission, naming the field.
func TestRoleGrantsNeedAServiceAccount(t *testing.T) {
	integration(t)
	ensureNamespace(t, "grant-admission", nil)
	grant := []authv1.RoleGrant{{Client: authv1.ObjectReference{Name: "orders-api"}, Roles: []string{"orders:read"}}}
	for name, spec := range map[string]authv1.AuthClientSpec{
		"default grants":     {RedirectURIs: []string{"https://app.example.com/cb"}},
		"authorization code": {RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []authv1.GrantType{authv1.GrantTypeAuthorizationCode}},
		"public":             {ClientType: authv1.ClientTypePublic, RedirectURIs: []string{"https://app.example.com/cb"}},
	} {
		spec.AuthServerRef = authv1.ObjectReference{Name: "production-server", Namespace: "security"}
		spec.RoleGrants = grant
		ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "grant-admission", Name: "app"}, Spec: spec}
		err := k8s.Create(context.Background(), ac, client.DryRunAll)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.roleGrants") || !strings.Contains(err.Error(), "client_credentials") {
			t.Errorf("%s: %v", name, err)
		}
	}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "grant-admission", Name: "job"}, Spec: authv1.AuthClientSpec{
		AuthServerRef: authv1.ObjectReference{Name: "production-server", Namespace: "security"},
		GrantTypes:    []authv1.GrantType{authv1.GrantTypeClientCredentials},
		RoleGrants:    grant,
	}}
	if err := k8s.Create(context.Background(), ac, client.DryRunAll); err != nil {
		t.Errorf("a machine client's grant was refused: %v", err)
	}
}

// An AuthClient of the worker's own namespace (which consents implicitly)
// that names the API's clientId gets no say over the API's roles: when the
// API withdraws its consent while the worker's reconcile stops early (a
// policy conflict), the role leaves the worker's tokens all the same.
func TestRoleGrantsImposterKeepsNothingOnEarlyExit(t *testing.T) {
	integration(t)
	realm := policyServer(t, "grant-imposter").Status.RealmName
	for _, ns := range []string{"grant-imp-shop", "grant-imp-jobs"} {
		ensureNamespace(t, ns, nil)
	}
	const api = "imp-orders"
	apiClient := &authv1.AuthClient{}
	apply(t, authClient("grant-imp-shop", "orders-api", "grant-imposter", ordersRoles+"\n  clientId: "+api+"\n  roleGrantAccess: {namespaces: [grant-imp-jobs]}"), apiClient)
	t.Cleanup(func() { deleteAndWait(t, apiClient) })
	waitReady(t, apiClient, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	declareRoles(t, realm, api, "orders:write")

	workerAC := &authv1.AuthClient{}
	apply(t, authClient("grant-imp-jobs", "worker", "grant-imposter", worker+"\n"+grantOf("grant-imp-shop", "orders-api", "orders:write")), workerAC)
	t.Cleanup(func() { deleteAndWait(t, workerAC) })
	waitReady(t, workerAC, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitTokenRoles(t, realm, "grant-imp-jobs", "worker", api, "orders:write")

	// The imposter claims the API's clientId and declares its role; the
	// worker asks for the role through it too, and is refused.
	imposter := &authv1.AuthClient{}
	apply(t, authClient("grant-imp-jobs", "copy", "grant-imposter", worker+"\n  clientId: "+api+"\n"+ordersRoles), imposter)
	t.Cleanup(func() { deleteAndWait(t, imposter) })
	waitReady(t, imposter, metav1.ConditionFalse, authv1.ReasonClientIDConflict, 30*time.Second)
	editClient(t, workerAC, func(ac *authv1.AuthClient) {
		ac.Spec.RoleGrants = append(ac.Spec.RoleGrants, authv1.RoleGrant{Client: authv1.ObjectReference{Name: "copy"}, Roles: []string{"orders:write"}})
	})
	cond := waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonRoleGrantNotPermitted, 30*time.Second)
	if !strings.Contains(cond.Message, fmt.Sprintf("clientId %q in realm %q is not its client", api, realm)) {
		t.Errorf("message %q", cond.Message)
	}
	waitTokenRoles(t, realm, "grant-imp-jobs", "worker", api, "orders:write")

	// The reconcile stops early; the API withdraws its consent.
	applyPolicy(t, "security", "grant-imp-basic", "grant-imposter", "  clientAuthentication: {method: client_secret_basic}")
	applyPolicy(t, "security", "grant-imp-jwt", "grant-imposter", "  clientAuthentication: {method: client_secret_jwt}")
	waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonPolicyConflict, 30*time.Second)
	editClient(t, apiClient, func(ac *authv1.AuthClient) { ac.Spec.RoleGrantAccess = nil })
	waitTokenRoles(t, realm, "grant-imp-jobs", "worker", api)
	waitReady(t, workerAC, metav1.ConditionFalse, authv1.ReasonPolicyConflict, time.Second)
	if len(workerAC.Status.RoleGrants) != 0 {
		t.Errorf("status.roleGrants = %+v after consent was withdrawn", workerAC.Status.RoleGrants)
	}
}
