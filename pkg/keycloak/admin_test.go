package keycloak_test

import (
	"reflect"
	"testing"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Every verb of Admin belongs to exactly one area interface: none is
// declared on Admin alone, none in two areas. A verb added to Admin
// directly, or to two areas, fails here.
func TestAdminIsTheSumOfItsAreas(t *testing.T) {
	areas := []reflect.Type{
		reflect.TypeFor[keycloak.RealmAdmin](),
		reflect.TypeFor[keycloak.ClientAdmin](),
		reflect.TypeFor[keycloak.ClientSecretAdmin](),
		reflect.TypeFor[keycloak.ClientScopeAdmin](),
		reflect.TypeFor[keycloak.ClientPolicyAdmin](),
		reflect.TypeFor[keycloak.FederationAdmin](),
		reflect.TypeFor[keycloak.IdentityProviderAdmin](),
		reflect.TypeFor[keycloak.RoleAdmin](),
		reflect.TypeFor[keycloak.RoleGrantAdmin](),
		reflect.TypeFor[keycloak.RealmRoleAdmin](),
		reflect.TypeFor[keycloak.ServerAdmin](),
		reflect.TypeFor[keycloak.AdminEventAdmin](),
	}
	area := map[string]string{}
	for _, a := range areas {
		for i := range a.NumMethod() {
			m := a.Method(i).Name
			if prev, dup := area[m]; dup {
				t.Errorf("%s is in both %s and %s", m, prev, a.Name())
			}
			area[m] = a.Name()
		}
	}
	admin := reflect.TypeFor[keycloak.Admin]()
	for i := range admin.NumMethod() {
		if m := admin.Method(i).Name; area[m] == "" {
			t.Errorf("Admin.%s belongs to no area interface: add it to the interface of its area", m)
		}
	}
	if admin.NumMethod() != len(area) {
		t.Errorf("Admin has %d methods, its areas %d", admin.NumMethod(), len(area))
	}
}
