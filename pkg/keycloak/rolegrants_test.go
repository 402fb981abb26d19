package keycloak_test

import (
	"context"
	"slices"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The service account's client-role mappings of every client come back
// in one request, keyed by clientId with the client's internal id, and
// follow adds and removes (the verbs of RoleAdmin).
func TestListUserClientRoleMappings(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	realm := testRealm(t, c)
	apiID, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("shop.orders-api"), Protocol: gocloak.StringP("openid-connect")})
	if err != nil {
		t.Fatal(err)
	}
	workerID, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("jobs.worker"), Protocol: gocloak.StringP("openid-connect"), ServiceAccountsEnabled: gocloak.BoolP(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"orders:read", "orders:write"} {
		if err := c.CreateClientRole(ctx, realm, apiID, keycloak.Role{Name: r}); err != nil {
			t.Fatal(err)
		}
	}
	user, err := c.ServiceAccountUserID(ctx, realm, workerID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ListUserClientRoleMappings(ctx, realm, user)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("a new service account holds client roles: %+v", got)
	}
	roles, err := c.ListClientRoles(ctx, realm, apiID)
	if err != nil {
		t.Fatal(err)
	}
	write := roles[slices.IndexFunc(roles, func(r keycloak.Role) bool { return r.Name == "orders:write" })]
	if err := c.AddUserClientRoles(ctx, realm, user, apiID, []keycloak.Role{write}); err != nil {
		t.Fatal(err)
	}
	got, err = c.ListUserClientRoleMappings(ctx, realm, user)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ClientID != "shop.orders-api" || got[0].ClientUUID != apiID || len(got[0].Roles) != 1 || got[0].Roles[0].Name != "orders:write" || got[0].Roles[0].ID != write.ID {
		t.Errorf("mappings = %+v", got)
	}
	if err := c.RemoveUserClientRoles(ctx, realm, user, apiID, got[0].Roles); err != nil {
		t.Fatal(err)
	}
	if got, err = c.ListUserClientRoleMappings(ctx, realm, user); err != nil || len(got) != 0 {
		t.Errorf("after removal: %+v, %v", got, err)
	}
	if n := count(m, "user.rolemappings.list", "GET", "200"); n != 3 {
		t.Errorf("metrics: user.rolemappings.list counted %d times, want 3", n)
	}
}
