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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Client roles (issue 22, item 1): spec.roles is the whole set of the
// Keycloak client's roles once set, proven against the real Keycloak and
// with real tokens.

const ordersRoles = `  roles:
  - {name: "orders:write", description: "Place orders"}
  - {name: "orders:read", description: "Read orders"}`

// kcRoles reads the client roles of the Keycloak client clientID, with
// their attributes, by name.
func kcRoles(t *testing.T, realm, clientID string) map[string]*gocloak.Role {
	t.Helper()
	c := keycloakClient(t, realm, clientID)
	if c == nil {
		t.Fatalf("no Keycloak client %s", clientID)
	}
	gc, tok := console(t)
	list, err := gc.GetClientRoles(context.Background(), tok, realm, *c.ID, gocloak.GetRoleParams{BriefRepresentation: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*gocloak.Role{}
	for _, r := range list {
		out[gocloak.PString(r.Name)] = r
	}
	return out
}

// waitRoles waits until the Keycloak client holds exactly the roles names.
func waitRoles(t *testing.T, realm, clientID string, names ...string) map[string]*gocloak.Role {
	t.Helper()
	slices.Sort(names)
	var roles map[string]*gocloak.Role
	eventually(t, 30*time.Second, fmt.Sprintf("client %s with roles %v", clientID, names), func() error {
		roles = kcRoles(t, realm, clientID)
		var got []string
		for n := range roles {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, names) {
			return fmt.Errorf("roles are %v", got)
		}
		return nil
	})
	return roles
}

// waitStatusRoles waits until the AuthClient is Ready for its current
// generation with status.roles names (sorted).
func waitStatusRoles(t *testing.T, ac *authv1.AuthClient, names ...string) {
	t.Helper()
	slices.Sort(names)
	eventually(t, 30*time.Second, fmt.Sprintf("Ready for the generation, status.roles %v", names), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if ac.Status.ObservedGeneration != ac.Generation || !meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.ReadyCondition) {
			return fmt.Errorf("observedGeneration %d of %d", ac.Status.ObservedGeneration, ac.Generation)
		}
		if !slices.Equal(ac.Status.Roles, names) && !(len(names) == 0 && len(ac.Status.Roles) == 0) {
			return fmt.Errorf("status.roles is %v", ac.Status.Roles)
		}
		return nil
	})
}

func TestClientRolesCreatedWithDescriptionsAndMarker(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-shop", nil)
	api := &authv1.AuthClient{}
	apply(t, authClient("roles-shop", "orders-api", "roles-server", worker+"\n"+ordersRoles), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	if !slices.Equal(api.Status.Roles, []string{"orders:read", "orders:write"}) {
		t.Errorf("status.roles = %v, want [orders:read orders:write]", api.Status.Roles)
	}
	roles := waitRoles(t, realm, "roles-shop.orders-api", "orders:read", "orders:write")
	for name, desc := range map[string]string{"orders:write": "Place orders", "orders:read": "Read orders"} {
		r := roles[name]
		if gocloak.PString(r.Description) != desc {
			t.Errorf("%s: description %q, want %q", name, gocloak.PString(r.Description), desc)
		}
		if !slices.Equal(r.Attributes[desired.AttrOwner], []string{"roles-shop/orders-api"}) {
			t.Errorf("%s: attributes %v lack the owner marker", name, r.Attributes)
		}
	}

	// The Roles column, shown with -o wide (priority 1).
	if col := printerColumn(t, "authclients.auth.nauthera.io", "Roles"); col["jsonPath"] != ".status.roles" || fmt.Sprint(col["priority"]) != "1" {
		t.Error("the AuthClient CRD has no Roles printer column on .status.roles with priority 1 (-o wide)")
	}

	// Names that differ only in letter case are refused at admission.
	bad := &authv1.AuthClient{}
	doc := authClient("roles-shop", "case-clash", "roles-server", worker+`
  roles: [{name: "orders:write"}, {name: "Orders:Write"}]`)
	if err := yaml.UnmarshalStrict([]byte(doc), bad); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "differ in more than letter case") {
		_ = k8s.Delete(context.Background(), bad)
		t.Errorf("roles orders:write and Orders:Write: want refused at admission, got %v", err)
	}
}

// TestClientRolesRemovedLeaveNewTokensAdminGrant grants the role through
// Keycloak's admin API; once spec.roleGrants lands the grant can be made
// through it instead (the rest of the test stays).
func TestClientRolesRemovedLeaveNewTokensAdminGrant(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-token-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-tok", nil)
	api := &authv1.AuthClient{}
	apply(t, authClient("roles-tok", "orders-api", "roles-token-server", worker+"\n"+ordersRoles), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	w := &authv1.AuthClient{}
	apply(t, authClient("roles-tok", "worker", "roles-token-server", worker), w)
	t.Cleanup(func() { deleteAndWait(t, w) })
	waitReady(t, w, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)

	const apiID = "roles-tok.orders-api"
	ctx := context.Background()
	gc, tok := console(t)
	kcAPI, kcWorker := keycloakClient(t, realm, apiID), keycloakClient(t, realm, "roles-tok.worker")
	user, err := gc.GetClientServiceAccount(ctx, tok, realm, *kcWorker.ID)
	if err != nil {
		t.Fatal(err)
	}
	roles := kcRoles(t, realm, apiID)
	if err := gc.AddClientRolesToUser(ctx, tok, realm, *kcAPI.ID, *user.ID, []gocloak.Role{*roles["orders:write"], *roles["orders:read"]}); err != nil {
		t.Fatal(err)
	}
	if got := mustTokenRoles(t, realm, "roles-tok", "worker", apiID); !slices.Equal(got, []string{"orders:read", "orders:write"}) {
		t.Fatalf("worker token: resource_access.%s.roles = %v, want both roles", apiID, got)
	}

	editClient(t, api, func(ac *authv1.AuthClient) {
		ac.Spec.Roles = []authv1.ClientRole{{Name: "orders:read", Description: "Read orders"}}
	})
	waitStatusRoles(t, api, "orders:read")
	waitRoles(t, realm, apiID, "orders:read")
	// Measured on a newly issued token.
	if got := mustTokenRoles(t, realm, "roles-tok", "worker", apiID); !slices.Equal(got, []string{"orders:read"}) {
		t.Errorf("worker token after orders:write left spec.roles: roles %v, want [orders:read]", got)
	}
}

// mustTokenRoles gets a new client-credentials token for the AuthClient ns/name
// and returns its resource_access.<clientID>.roles, sorted.
func mustTokenRoles(t *testing.T, realm, ns, name, clientID string) []string {
	t.Helper()
	roles, _, err := tokenRoles(t, realm, ns, name, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func TestClientRolesConsoleEditsAreReverted(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-drift-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-drift", nil)
	api := &authv1.AuthClient{}
	apply(t, authClient("roles-drift", "orders-api", "roles-drift-server", worker+"\n"+ordersRoles), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	const apiID = "roles-drift.orders-api"
	roles := waitRoles(t, realm, apiID, "orders:read", "orders:write")

	// A person in the console adds a role, deletes one and rewrites a
	// description, all at once.
	ctx := context.Background()
	gc, tok := console(t)
	id := *keycloakClient(t, realm, apiID).ID
	if _, err := gc.CreateClientRole(ctx, tok, realm, id, gocloak.Role{Name: gocloak.StringP("orders:admin")}); err != nil {
		t.Fatal(err)
	}
	if err := gc.DeleteClientRole(ctx, tok, realm, id, "orders:read"); err != nil {
		t.Fatal(err)
	}
	edited := *roles["orders:write"]
	edited.Description = gocloak.StringP("anything goes")
	if err := gc.UpdateRole(ctx, tok, realm, id, edited); err != nil {
		t.Fatal(err)
	}

	waitRoles(t, realm, apiID, "orders:read", "orders:write")
	eventually(t, 30*time.Second, "orders:write's description restored", func() error {
		if d := gocloak.PString(kcRoles(t, realm, apiID)["orders:write"].Description); d != "Place orders" {
			return fmt.Errorf("description %q", d)
		}
		return nil
	})
	// The restored role is marked as ours again.
	if r := kcRoles(t, realm, apiID)["orders:read"]; len(r.Attributes[desired.AttrOwner]) != 1 {
		t.Errorf("restored orders:read lacks the owner marker: %v", r.Attributes)
	}
	// The Events name every role (one reconcile may have seen only some of
	// the edits: the notes are read together).
	eventually(t, 10*time.Second, "DriftReverted Events naming each role", func() error {
		var notes []string
		for _, e := range events(t, api, corev1.EventTypeWarning, authv1.ReasonDriftReverted) {
			notes = append(notes, e.Note)
		}
		all := strings.Join(notes, "\n")
		for _, want := range []string{"orders:admin (not in spec.roles; deleted)", "orders:read (deleted in Keycloak; created again)", "orders:write (description restored)"} {
			if !strings.Contains(all, want) {
				return fmt.Errorf("no Event says %q; notes: %q", want, all)
			}
		}
		return nil
	})
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)
}

func TestClientRolesOmittedLeaveHandMadeRoles(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-keep-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-keep", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("roles-keep", "legacy", "roles-keep-server", worker), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	const clientID = "roles-keep.legacy"
	ctx := context.Background()
	gc, tok := console(t)
	id := *keycloakClient(t, realm, clientID).ID
	if _, err := gc.CreateClientRole(ctx, tok, realm, id, gocloak.Role{Name: gocloak.StringP("hand-made")}); err != nil {
		t.Fatal(err)
	}
	lists := faults.Requests("/clients/"+id+"/roles", "GET")
	// A new generation, reconciled to Ready, and resyncs meanwhile: the
	// role stays, and the roles are never even read.
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.DisplayName = "Legacy app" })
	waitStatusRoles(t, ac)
	// Each reconcile looks the client up (the realm holds no other).
	clients := "/realms/" + realm + "/clients"
	clientReads := faults.Requests(clients, "GET")
	eventually(t, 30*time.Second, "two more reconciles (resyncs)", func() error {
		if n := faults.Requests(clients, "GET"); n < clientReads+2 {
			return fmt.Errorf("%d reads of the client since", n-clientReads)
		}
		return nil
	})
	waitRoles(t, realm, clientID, "hand-made")
	if n := faults.Requests("/clients/"+id+"/roles", "GET") - lists; n != 0 {
		t.Errorf("the roles of a client without spec.roles were listed %d times", n)
	}
	if len(ac.Status.Roles) != 0 {
		t.Errorf("status.roles = %v without spec.roles", ac.Status.Roles)
	}

	// An empty list is a set too: the hand-made role goes.
	patch := []byte(`{"spec":{"roles":[]}}`)
	if err := k8s.Patch(ctx, ac, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	waitRoles(t, realm, clientID)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
}

// TestClientRolesCostOneWritePerChange counts the requests on the client's
// roles: each change of spec.roles costs one write per role changed, and a
// resync with nothing to change costs no write.
func TestClientRolesCostOneWritePerChange(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-cost-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-cost", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("roles-cost", "api", "roles-cost-server", worker+`
  roles: [{name: a, description: A}, {name: b, description: B}, {name: c, description: C}]`), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	id := *keycloakClient(t, realm, "roles-cost.api").ID
	path := "/clients/" + id + "/roles"
	if n := faults.Requests(path, "POST"); n != 3 {
		t.Errorf("3 roles created with %d requests", n)
	}
	// Updates and deletions address the role by id (roles-by-id): a role
	// made in the console may be named "." or "..", which no path carries.
	byID := "/realms/" + realm + "/roles-by-id/"
	count := func(method string) int {
		if method == "POST" {
			return faults.Requests(path, method)
		}
		return faults.Requests(byID, method) + faults.Requests(path, method)
	}
	writes := func() int { return count("POST") + count("PUT") + count("DELETE") }

	// Steady state: resyncs list the roles and write nothing.
	base, lists := writes(), faults.Requests(path, "GET")
	eventually(t, 30*time.Second, "three resyncs", func() error {
		if n := faults.Requests(path, "GET") - lists; n < 3 {
			return fmt.Errorf("%d lists", n)
		}
		return nil
	})
	if n := writes() - base; n != 0 {
		t.Errorf("%d role writes in steady state, want 0", n)
	}

	for _, step := range []struct {
		what   string
		roles  []authv1.ClientRole
		method string
	}{
		{"one description changed", []authv1.ClientRole{{Name: "a", Description: "A2"}, {Name: "b", Description: "B"}, {Name: "c", Description: "C"}}, "PUT"},
		{"one role added", []authv1.ClientRole{{Name: "a", Description: "A2"}, {Name: "b", Description: "B"}, {Name: "c", Description: "C"}, {Name: "d"}}, "POST"},
		{"one role removed", []authv1.ClientRole{{Name: "a", Description: "A2"}, {Name: "c", Description: "C"}, {Name: "d"}}, "DELETE"},
	} {
		before, method := writes(), count(step.method)
		editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Roles = step.roles })
		var names []string
		for _, r := range step.roles {
			names = append(names, r.Name)
		}
		waitStatusRoles(t, ac, names...)
		if n := writes() - before; n != 1 || count(step.method)-method != 1 {
			t.Errorf("%s: %d role writes, want exactly one %s", step.what, n, step.method)
		}
	}
}

// TestClientRolesFailureIsReportedAndRetried: Keycloak failing the role
// writes (HTTP 503) is reported on Ready with a Warning Event and retried
// with backoff; the client and its Secret are in place meanwhile.
func TestClientRolesFailureIsReportedAndRetried(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-fail-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-fail", nil)
	faults.Clear()
	faults.Set("client.role.create", testbed.Fault{Status: 503, PathContains: "/realms/" + realm + "/"})
	t.Cleanup(faults.Clear)
	ac := &authv1.AuthClient{}
	apply(t, authClient("roles-fail", "orders-api", "roles-fail-server", worker+"\n"+ordersRoles), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable, 60*time.Second)
	if !strings.Contains(cond.Message, `creating client role "orders:write"`) {
		t.Errorf("message %q does not name the role", cond.Message)
	}
	warningEvent(t, ac, authv1.ReasonKeycloakUnavailable)
	if s := secretOf(t, "roles-fail", "orders-api-client-secret"); len(s.Data["client_secret"]) == 0 {
		t.Error("the Secret was not written while the roles failed")
	}
	hits := faults.Hits("client.role.create")
	eventually(t, 30*time.Second, "a retry", func() error {
		if faults.Hits("client.role.create") <= hits {
			return fmt.Errorf("no retry yet")
		}
		return nil
	})
	faults.Clear()
	waitStatusRoles(t, ac, "orders:read", "orders:write")
	waitRoles(t, realm, "roles-fail.orders-api", "orders:read", "orders:write")
}

// TestClientRolesConsoleCompositeIsReverted: a role of spec.roles made
// composite in the console (here it includes realm-management's
// manage-users, so whoever is granted orders:write could manage the realm's
// users) is made plain again, with the Event naming the role.
func TestClientRolesConsoleCompositeIsReverted(t *testing.T) {
	integration(t)
	as := realmServer(t, "roles-comp-server")
	realm := as.Status.RealmName
	ensureNamespace(t, "roles-comp", nil)
	api := &authv1.AuthClient{}
	apply(t, authClient("roles-comp", "orders-api", "roles-comp-server", worker+"\n"+ordersRoles), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	const apiID = "roles-comp.orders-api"
	write := waitRoles(t, realm, apiID, "orders:read", "orders:write")["orders:write"]

	ctx := context.Background()
	gc, tok := console(t)
	mgmt := keycloakClient(t, realm, "realm-management")
	manage, err := gc.GetClientRole(ctx, tok, realm, *mgmt.ID, "manage-users")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddClientRoleComposite(ctx, tok, realm, *write.ID, []gocloak.Role{*manage}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "orders:write plain again", func() error {
		left, err := gc.GetCompositeRolesByRoleID(ctx, tok, realm, *write.ID)
		if err != nil {
			return err
		}
		if len(left) != 0 {
			return fmt.Errorf("orders:write includes %d roles", len(left))
		}
		return nil
	})
	eventually(t, 10*time.Second, "a DriftReverted Event naming orders:write", func() error {
		for _, e := range events(t, api, corev1.EventTypeWarning, authv1.ReasonDriftReverted) {
			if strings.Contains(e.Note, "orders:write (roles included in it removed)") {
				return nil
			}
		}
		return fmt.Errorf("no such Event")
	})
	if kcRoles(t, realm, apiID)["orders:write"] == nil || keycloakClient(t, realm, "realm-management") == nil {
		t.Error("the role or realm-management is gone")
	}
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)
}
