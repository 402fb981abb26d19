package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Pure decisions of the roleGrants step; their effect on a real operator
// is tested in rolegrants_test.go.

func grantClient(ns, name string, spec authv1.AuthClientSpec) *authv1.AuthClient {
	spec.AuthServerRef = authv1.ObjectReference{Name: "server", Namespace: "security"}
	return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

// Another namespace's target that does not exist and one that does not
// consent give the same message, naming none of its roles.
func TestRoleGrantRefusalRevealsNothing(t *testing.T) {
	worker := grantClient("jobs", "worker", authv1.AuthClientSpec{})
	key := types.NamespacedName{Namespace: "shop", Name: "orders-api"}
	silent := grantClient("shop", "orders-api", authv1.AuthClientSpec{Roles: []authv1.ClientRole{{Name: "orders:write"}}})
	others := grantClient("shop", "orders-api", authv1.AuthClientSpec{
		Roles:           []authv1.ClientRole{{Name: "orders:write"}},
		RoleGrantAccess: &authv1.RoleGrantAccess{Namespaces: []string{"web"}},
	})
	var msgs []string
	for _, target := range []*authv1.AuthClient{nil, silent, others} {
		g := &roleGrants{}
		if _, ok := g.admit(worker, target, key, "spec.roleGrants[0]", []string{"orders:write"}); ok {
			t.Fatalf("target %v admitted", target)
		}
		if len(g.notPermitted) != 1 || len(g.notFound)+len(g.pending) != 0 {
			t.Fatalf("problems %+v", g)
		}
		msgs = append(msgs, g.notPermitted[0])
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
		t.Errorf("messages differ:\n%s", strings.Join(msgs, "\n"))
	}
	if strings.Contains(msgs[0], "orders:") {
		t.Errorf("message %q names a role", msgs[0])
	}
	if f := reconciler.Classify((&roleGrants{notPermitted: msgs[:1]}).failure()); f.Reason != authv1.ReasonRoleGrantNotPermitted || f.Transient || f.Waiting {
		t.Errorf("failure %+v", f)
	}
}

func TestRoleGrantAdmitsWhatIsConsentedAndDeclared(t *testing.T) {
	worker := grantClient("jobs", "worker", authv1.AuthClientSpec{})
	key := types.NamespacedName{Namespace: "shop", Name: "orders-api"}
	target := grantClient("shop", "orders-api", authv1.AuthClientSpec{
		Roles:           []authv1.ClientRole{{Name: "orders:read"}, {Name: "orders:write"}},
		RoleGrantAccess: &authv1.RoleGrantAccess{Namespaces: []string{"jobs"}, Roles: []string{"orders:read", "orders:delete"}},
	})
	g := &roleGrants{}
	got, ok := g.admit(worker, target, key, "spec.roleGrants[0]", []string{"orders:read", "orders:write", "orders:delete"})
	if !ok || got.clientID != "shop.orders-api" || len(got.roles) != 1 || got.roles[0] != "orders:read" {
		t.Fatalf("admitted %+v, %v", got, ok)
	}
	// orders:write is outside the limit: not permitted, without saying
	// whether it exists; orders:delete is within it but not declared.
	if len(g.notPermitted) != 1 || !strings.Contains(g.notPermitted[0], `role "orders:write"`) || !strings.Contains(g.notPermitted[0], "does not exist or may not be granted") {
		t.Errorf("notPermitted %v", g.notPermitted)
	}
	if len(g.notFound) != 1 || !strings.Contains(g.notFound[0], `declares no role "orders:delete"`) {
		t.Errorf("notFound %v", g.notFound)
	}
	if f := reconciler.Classify(g.failure()); f.Reason != authv1.ReasonRoleGrantNotPermitted {
		t.Errorf("the refusal is not reported first: %+v", f)
	}

	// Another AuthServer's client is refused even within the namespace.
	other := grantClient("jobs", "api", authv1.AuthClientSpec{})
	other.Spec.AuthServerRef.Name = "other"
	g = &roleGrants{}
	if _, ok := g.admit(worker, other, types.NamespacedName{Namespace: "jobs", Name: "api"}, "spec.roleGrants[0]", []string{"x"}); ok || len(g.notPermitted) != 1 {
		t.Errorf("a client of another AuthServer was admitted: %+v", g)
	}
}

func TestRoleGrantFailureOrder(t *testing.T) {
	var none *roleGrants
	if none.failure() != nil {
		t.Error("nil roleGrants reports a failure")
	}
	f := reconciler.Classify((&roleGrants{pending: []string{"p"}}).failure())
	if f.Reason != authv1.ReasonRoleGrantPending || !f.Waiting || f.RetryAfter != 30*time.Second {
		t.Errorf("pending: %+v", f)
	}
	f = reconciler.Classify((&roleGrants{pending: []string{"p"}, notFound: []string{"n"}}).failure())
	if f.Reason != authv1.ReasonRoleNotFound || f.Waiting || !strings.Contains(f.Msg, "n; p") {
		t.Errorf("not found: %+v", f)
	}
}

// A target that is Stalled will not get its Keycloak client or roles before
// its owner acts: the grant reports RoleGrantPending without a timed retry
// (the watch on the target brings it back), as audiences do.
func TestRoleGrantStalledTargetIsNotPolled(t *testing.T) {
	worker := grantClient("jobs", "worker", authv1.AuthClientSpec{})
	key := types.NamespacedName{Namespace: "jobs", Name: "api"}
	api := grantClient("jobs", "api", authv1.AuthClientSpec{Roles: []authv1.ClientRole{{Name: "x"}}})
	api.Generation = 2
	api.Status.Conditions = []metav1.Condition{
		{Type: authv1.ReadyCondition, Status: metav1.ConditionFalse, Reason: authv1.ReasonInvalidSpec, ObservedGeneration: 2},
		{Type: authv1.StalledCondition, Status: metav1.ConditionTrue, Reason: authv1.ReasonInvalidSpec, ObservedGeneration: 2},
	}
	g := &roleGrants{}
	got, ok := g.admit(worker, api, key, "spec.roleGrants[0]", []string{"x"})
	if !ok || got.stalled != authv1.ReasonInvalidSpec || got.ready {
		t.Fatalf("admitted %+v, %v", got, ok)
	}
	f := reconciler.Classify((&roleGrants{stalled: []string{"s"}, pending: []string{"p"}}).failure())
	if f.Reason != authv1.ReasonRoleGrantPending || f.Waiting || f.Transient || f.RetryAfter != 0 || !strings.Contains(f.Msg, "s; p") {
		t.Errorf("stalled: %+v", f)
	}
}

// A role held before (status.roles) that a reconcile created again lost
// its mappings: the grantees are kicked. A first creation, a failed write
// or a description restored are no such loss.
func TestRestoredRolesKickTheGrantees(t *testing.T) {
	role := func(name string) keycloak.Role { return keycloak.Role{Name: name} }
	held := []string{"read", "write"}
	for _, tc := range []struct {
		name string
		plan desired.RolePlan
		done map[string]bool
		want bool
	}{
		{"created again", desired.RolePlan{Create: []keycloak.Role{role("write")}}, map[string]bool{"write": true}, true},
		{"created for the first time", desired.RolePlan{Create: []keycloak.Role{role("admin")}}, map[string]bool{"admin": true}, false},
		{"create failed", desired.RolePlan{Create: []keycloak.Role{role("write")}}, map[string]bool{}, false},
		{"description back", desired.RolePlan{Update: []desired.RoleFix{{Role: role("read"), What: "description"}}}, map[string]bool{"read": true}, false},
		{"nothing to do", desired.RolePlan{}, map[string]bool{}, false},
	} {
		if got := restored(tc.plan, tc.done, held); got != tc.want {
			t.Errorf("%s: restored = %v, want %v", tc.name, got, tc.want)
		}
	}
}
