package keycloak_test

import (
	"context"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The server info, as the master realm's admin and as a realm's own admin
// (a spec.adminIdentity): Keycloak shows its version to the first only, its
// features to both. Read once per client and TTL, whoever asks.
func TestServerInfo(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	info, err := c.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != kc.Version || kc.Version == "" {
		t.Errorf("version %q, the test bed runs %q", info.Version, kc.Version)
	}
	// The test bed builds Keycloak with --features=client-secret-rotation;
	// ORGANIZATION is on by default in every supported version.
	for _, f := range []string{"CLIENT_SECRET_ROTATION", "ORGANIZATION"} {
		if !info.Features[f] {
			t.Errorf("feature %s not enabled in %v", f, info.Features)
		}
	}
	if on, listed := info.Features["DOCKER"]; on || !listed {
		t.Errorf("feature DOCKER (off by default) listed %v, enabled %v", listed, on)
	}
	for range 3 {
		if again, err := c.ServerInfo(ctx); err != nil || again.Version != info.Version {
			t.Fatalf("again: %v, %v", again, err)
		}
	}
	if n := count(m, "serverinfo.get", "GET", "200"); n != 1 {
		t.Errorf("server info read %d times for 4 calls, want 1 (cached for %s)", n, keycloak.ServerInfoTTL)
	}

	// A realm's own admin: a client whose service account holds the
	// realm's realm-admin role, logging in to that realm.
	realm := testRealm(t, c)
	gc, tok := console(t)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("nauthera-admin"), PublicClient: gocloak.BoolP(false),
		ServiceAccountsEnabled: gocloak.BoolP(true), StandardFlowEnabled: gocloak.BoolP(false), Secret: gocloak.StringP("realm-admin-secret-0123")})
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.ServiceAccountUserID(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := c.FindClient(ctx, realm, "realm-management")
	if err != nil {
		t.Fatal(err)
	}
	role, err := gc.GetClientRole(ctx, tok, realm, *rm.ID, "realm-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddClientRolesToUser(ctx, tok, realm, *rm.ID, user, []gocloak.Role{*role}); err != nil {
		t.Fatal(err)
	}
	ra, err := keycloak.New(keycloak.Config{URL: kc.URL, AdminRealm: realm, Credentials: keycloak.Credentials{ClientID: "nauthera-admin", ClientSecret: "realm-admin-secret-0123"}})
	if err != nil {
		t.Fatal(err)
	}
	rinfo, err := ra.ServerInfo(ctx)
	if err != nil {
		t.Fatalf("a realm admin's server info: %v", err)
	}
	if rinfo.Version != "" {
		t.Errorf("a realm admin sees the version %q; Keycloak showed it to master's admins only when measured", rinfo.Version)
	}
	if len(rinfo.Features) == 0 || rinfo.Features["CLIENT_SECRET_ROTATION"] != info.Features["CLIENT_SECRET_ROTATION"] {
		t.Errorf("a realm admin's features %v, master's admin's CLIENT_SECRET_ROTATION=%v", rinfo.Features, info.Features["CLIENT_SECRET_ROTATION"])
	}
}
