package keycloak_test

import (
	"context"
	"testing"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// TestRealmRoleNamesWithSlashAndColon: the names spec.realmRoles allows
// (letters, digits and . _ : / -) go through every RealmRoleAdmin verb of
// the real Keycloak, including those that put the name in the path.
func TestRealmRoleNamesWithSlashAndColon(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	for _, name := range []string{"orders:admin", "team/ops.lead"} {
		t.Run(name, func(t *testing.T) {
			find := func() *keycloak.Role {
				t.Helper()
				roles, err := c.ListRealmRoles(ctx, realm)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range roles {
					if r.Name == name {
						return &r
					}
				}
				return nil
			}
			marker := map[string][]string{"nauthera.io/owner": {"security/server"}}
			if err := c.CreateRealmRole(ctx, realm, keycloak.Role{Name: name, Description: "one", Attributes: marker}); err != nil {
				t.Fatalf("create: %v", err)
			}
			if r := find(); r == nil || r.Attributes["nauthera.io/owner"][0] != "security/server" {
				t.Fatalf("created role %+v: want it listed with its owner marker", r)
			}
			if err := c.UpdateRealmRole(ctx, realm, keycloak.Role{Name: name, Description: "two", Attributes: marker}); err != nil {
				t.Fatalf("update: %v", err)
			}
			r := find()
			if r == nil || r.Description != "two" {
				t.Fatalf("updated role %+v: want description two", r)
			}
			if err := c.CreateGroup(ctx, realm, keycloak.Group{Name: "g-" + r.ID}); err != nil {
				t.Fatal(err)
			}
			groups, err := c.ListGroups(ctx, realm)
			if err != nil {
				t.Fatal(err)
			}
			var gid string
			for _, g := range groups {
				if g.Name == "g-"+r.ID {
					gid = g.ID
				}
			}
			if err := c.AddGroupRealmRoles(ctx, realm, gid, []keycloak.Role{{ID: r.ID, Name: r.Name}}); err != nil {
				t.Fatalf("map: %v", err)
			}
			if mapped, err := c.ListGroupRealmRoles(ctx, realm, gid); err != nil || len(mapped) != 1 || mapped[0].Name != name {
				t.Fatalf("mapped %+v, %v", mapped, err)
			}
			if err := c.RemoveGroupRealmRoles(ctx, realm, gid, []keycloak.Role{{ID: r.ID, Name: r.Name}}); err != nil {
				t.Fatalf("unmap: %v", err)
			}
			if err := c.DeleteRealmRole(ctx, realm, name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if r := find(); r != nil {
				t.Fatalf("deleted role still listed: %+v", r)
			}
			if err := c.DeleteRealmRole(ctx, realm, name); !keycloak.IsNotFound(err) {
				t.Fatalf("second delete: want not found, got %v", err)
			}
		})
	}
}
