package desired

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

func clientWithRoles(roles ...authv1.ClientRole) *authv1.AuthClient {
	return &authv1.AuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-api", UID: "uid-1"},
		Spec:       authv1.AuthClientSpec{Roles: roles},
	}
}

// held is a role as Keycloak lists it, marked as ours.
func held(name, desc string) keycloak.Role {
	return keycloak.Role{ID: "id-" + name, Name: name, Description: desc, ClientRole: true,
		Attributes: map[string][]string{AttrOwner: {"shop/orders-api"}, AttrOwnerKind: {"AuthClient"}}}
}

func names(roles []keycloak.Role) []string {
	out := []string{}
	for _, r := range roles {
		out = append(out, r.Name)
	}
	return out
}

func TestPlanRoles(t *testing.T) {
	write := authv1.ClientRole{Name: "orders:write", Description: "place orders"}
	read := authv1.ClientRole{Name: "orders:read", Description: "read orders"}
	unmarked := held("orders:read", "read orders")
	unmarked.Attributes = map[string][]string{"console": {"kept"}}
	for _, tc := range []struct {
		name                  string
		spec                  []authv1.ClientRole
		actual                []keycloak.Role
		create, delete, fixed []string
		what                  string
	}{
		{name: "in line: nothing to write", spec: []authv1.ClientRole{write, read},
			actual: []keycloak.Role{held("orders:read", "read orders"), held("orders:write", "place orders")}},
		{name: "new client: every role created", spec: []authv1.ClientRole{write, read},
			create: []string{"orders:write", "orders:read"}},
		{name: "added in the console: deleted", spec: []authv1.ClientRole{write},
			actual: []keycloak.Role{held("orders:write", "place orders"), {ID: "x", Name: "admin"}}, delete: []string{"admin"}},
		{name: "empty list: every role deleted", spec: []authv1.ClientRole{},
			actual: []keycloak.Role{held("orders:write", "place orders")}, delete: []string{"orders:write"}},
		{name: "description edited", spec: []authv1.ClientRole{write},
			actual: []keycloak.Role{held("orders:write", "anything")}, fixed: []string{"orders:write"}, what: "description"},
		{name: "hand-made role of the same name adopted (marker added, its attributes kept)", spec: []authv1.ClientRole{read},
			actual: []keycloak.Role{unmarked}, fixed: []string{"orders:read"}, what: "owner marker"},
		{name: "case differs: another role", spec: []authv1.ClientRole{write},
			actual: []keycloak.Role{held("Orders:write", "place orders")}, create: []string{"orders:write"}, delete: []string{"Orders:write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanRoles(clientWithRoles(tc.spec...), tc.actual)
			var fixed []string
			for _, f := range p.Update {
				fixed = append(fixed, f.Role.Name)
				if f.What != tc.what {
					t.Errorf("%s: what = %q, want %q", f.Role.Name, f.What, tc.what)
				}
			}
			if !slices.Equal(names(p.Create), nz(tc.create)) || !slices.Equal(names(p.Delete), nz(tc.delete)) || !slices.Equal(fixed, tc.fixed) {
				t.Errorf("create %v delete %v update %v; want %v %v %v", names(p.Create), names(p.Delete), fixed, tc.create, tc.delete, tc.fixed)
			}
			if p.Empty() != (len(tc.create)+len(tc.delete)+len(tc.fixed) == 0) {
				t.Errorf("Empty() = %v", p.Empty())
			}
			for _, r := range append(slices.Clone(p.Create), func() []keycloak.Role {
				var out []keycloak.Role
				for _, f := range p.Update {
					out = append(out, f.Role)
				}
				return out
			}()...) {
				if !marked(r, "shop/orders-api") {
					t.Errorf("%s is written without the owner marker: %v", r.Name, r.Attributes)
				}
			}
		})
	}
	// The adopted role keeps the attributes it had, and the role read from
	// Keycloak is not changed in place.
	p := PlanRoles(clientWithRoles(read), []keycloak.Role{unmarked})
	if got := p.Update[0].Role; got.Attributes["console"][0] != "kept" || got.ID != unmarked.ID || got.Description != "read orders" {
		t.Errorf("adopted role %+v", got)
	}
	if _, ok := unmarked.Attributes[AttrOwner]; ok {
		t.Error("PlanRoles changed the role it was given")
	}
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestRoleOwnerFitsKeycloak(t *testing.T) {
	ac := clientWithRoles()
	if got := RoleOwner(ac); got != "shop/orders-api" {
		t.Errorf("RoleOwner = %q", got)
	}
	ac.Name = strings.Repeat("a", 253)
	ac.Namespace = strings.Repeat("n", 63)
	if got := RoleOwner(ac); got != "uid-1" {
		t.Errorf("an owner longer than Keycloak stores: RoleOwner = %q, want the UID", got)
	}
}

func TestHeldRoles(t *testing.T) {
	actual := []keycloak.Role{held("b", ""), held("gone", ""), held("stuck", "")}
	p := RolePlan{Create: []keycloak.Role{{Name: "a"}, {Name: "failed"}}, Delete: []keycloak.Role{{Name: "gone"}, {Name: "stuck"}}}
	ok := func(n string) bool { return n != "failed" && n != "stuck" }
	if got, want := HeldRoles(actual, p, ok), []string{"a", "b", "stuck"}; !slices.Equal(got, want) {
		t.Errorf("HeldRoles = %v, want %v", got, want)
	}
}

func TestRoleDriftMessageNamesTheRoles(t *testing.T) {
	p := PlanRoles(clientWithRoles(authv1.ClientRole{Name: "orders:write"}, authv1.ClientRole{Name: "orders:read", Description: "read"}),
		[]keycloak.Role{held("orders:read", "edited"), {Name: "extra"}})
	msg := RoleDriftMessage("shop.orders-api", p)
	for _, want := range []string{`client "shop.orders-api"`, "orders:write (deleted in Keycloak; created again)", "orders:read (description restored)", "extra (not in spec.roles; deleted)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
}

// A role of spec.roles made composite in the console is decomposed (whoever
// holds it would hold what it includes); a composite role not in the spec
// is simply deleted, and a plain one costs nothing.
func TestPlanRolesDecomposesConsoleComposites(t *testing.T) {
	write := authv1.ClientRole{Name: "orders:write", Description: "place orders"}
	composite := held("orders:write", "place orders")
	composite.Composite = true
	extra := keycloak.Role{ID: "y", Name: "admin", Composite: true}
	p := PlanRoles(clientWithRoles(write), []keycloak.Role{composite, extra})
	if !slices.Equal(names(p.Decompose), []string{"orders:write"}) || !slices.Equal(names(p.Delete), []string{"admin"}) || len(p.Update)+len(p.Create) != 0 {
		t.Errorf("decompose %v delete %v update %d create %d", names(p.Decompose), names(p.Delete), len(p.Update), len(p.Create))
	}
	if p.Empty() {
		t.Error("a composite role of spec.roles is in line")
	}
	if msg := RoleDriftMessage("orders-api", p); !strings.Contains(msg, "orders:write (roles included in it removed)") {
		t.Errorf("drift message %q does not name the decomposed role", msg)
	}
	if p := PlanRoles(clientWithRoles(write), []keycloak.Role{held("orders:write", "place orders")}); len(p.Decompose) != 0 {
		t.Errorf("a plain role decomposed: %v", names(p.Decompose))
	}
}
