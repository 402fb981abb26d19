package keycloak_test

import (
	"context"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Roles made in the console may have any name Keycloak accepts, not only
// the names admission lets into spec.roles. spec.roles is the whole set,
// so the operator updates and deletes them: each write must reach that role
// and nothing else, whatever its name. "." and ".." cannot travel in a path
// (Keycloak answers 400 "Request path not normalized"): by name they could
// never be removed, and the AuthClient would never converge.
func TestClientRoleHostileNames(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("hostile-api"), PublicClient: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"..", ".", "a/../..", "%2e%2e", "100%", "x?y=1", "a#b", "sp ace", "Ärger", "日本", "a;b", `a\b`, "..;"}
	for _, n := range names {
		if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: n}); err != nil {
			t.Fatalf("console-style create of %q: %v", n, err)
		}
	}
	roles, err := c.ListClientRoles(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != len(names) {
		t.Fatalf("Keycloak holds %v, want the %d roles made", roleNames(roles), len(names))
	}
	for _, r := range roles {
		up := r
		up.Description = "restored"
		if err := c.UpdateClientRole(ctx, realm, id, up); err != nil {
			t.Errorf("update %q: %v", r.Name, err)
		}
	}
	roles, err = c.ListClientRoles(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if r.Description != "restored" {
			t.Errorf("role %q has description %q after the update, want restored", r.Name, r.Description)
		}
		if err := c.DeleteClientRole(ctx, realm, id, r); err != nil {
			t.Errorf("delete %q: %v", r.Name, err)
		}
	}
	if left, err := c.ListClientRoles(ctx, realm, id); err != nil || len(left) != 0 {
		t.Errorf("after deleting every role the client holds %v (err %v), want none", roleNames(left), err)
	}
	if got, err := c.GetClient(ctx, realm, id); err != nil || gocloak.PString(got.ClientID) != "hostile-api" {
		t.Errorf("the client itself after the role deletions: %v (err %v)", got, err)
	}
}

// A client role made composite in the console (here: including another
// client role and a realm role) is made plain again, the included roles
// themselves kept; a plain role costs one read and no write.
func TestRemoveRoleComposites(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	realm := testRealm(t, c)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("composite-api"), PublicClient: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"orders:write", "orders:read"} {
		if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	roles, err := c.ListClientRoles(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	write, read := roleNamed(roles, "orders:write"), roleNamed(roles, "orders:read")
	if write.Composite {
		t.Fatal("a new role is composite")
	}
	gc, tok := console(t)
	offline, err := gc.GetRealmRole(ctx, tok, realm, "offline_access")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddClientRoleComposite(ctx, tok, realm, write.ID, []gocloak.Role{{ID: gocloak.StringP(read.ID)}, {ID: offline.ID}}); err != nil {
		t.Fatal(err)
	}
	roles, _ = c.ListClientRoles(ctx, realm, id)
	if !roleNamed(roles, "orders:write").Composite {
		t.Fatal("the list does not say orders:write is composite")
	}
	if err := c.RemoveRoleComposites(ctx, realm, write.ID); err != nil {
		t.Fatal(err)
	}
	if left, err := gc.GetCompositeRolesByRoleID(ctx, tok, realm, write.ID); err != nil || len(left) != 0 {
		t.Errorf("orders:write still includes %d roles (err %v)", len(left), err)
	}
	roles, _ = c.ListClientRoles(ctx, realm, id)
	if roleNamed(roles, "orders:write").Composite || roleNamed(roles, "orders:read") == nil {
		t.Errorf("after the removal: %+v", roles)
	}
	if err := c.RemoveRoleComposites(ctx, realm, read.ID); err != nil {
		t.Errorf("a plain role: %v", err)
	}
	if n := count(m, "role.composites.delete", "DELETE", "204"); n != 1 {
		t.Errorf("role.composites.delete counted %d times, want 1 (none for a plain role)", n)
	}
}
