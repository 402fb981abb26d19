package keycloak_test

import (
	"context"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/internal/testbed"
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
	// 26.4.0 leaves systemInfo out for another realm's admin, 26.5.6
	// shows it: either way, what is shown is the server's version.
	t.Logf("Keycloak %s shows a realm admin the version %q", kc.Version, rinfo.Version)
	if rinfo.Version != "" && rinfo.Version != info.Version {
		t.Errorf("a realm admin sees the version %q, master's admin %q", rinfo.Version, info.Version)
	}
	if len(rinfo.Features) == 0 || rinfo.Features["CLIENT_SECRET_ROTATION"] != info.Features["CLIENT_SECRET_ROTATION"] {
		t.Errorf("a realm admin's features %v, master's admin's CLIENT_SECRET_ROTATION=%v", rinfo.Features, info.Features["CLIENT_SECRET_ROTATION"])
	}

	// An identity without any admin role: Keycloak answers 403 (measured
	// on 26.5.6). Nothing is known, which is no error, and it is not asked
	// again at every call.
	if _, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("no-roles"), PublicClient: gocloak.BoolP(false),
		ServiceAccountsEnabled: gocloak.BoolP(true), StandardFlowEnabled: gocloak.BoolP(false), Secret: gocloak.StringP("no-roles-secret-0123")}); err != nil {
		t.Fatal(err)
	}
	nm := keycloak.NewMetrics()
	nr, err := keycloak.New(keycloak.Config{URL: kc.URL, AdminRealm: realm, Metrics: nm, Credentials: keycloak.Credentials{ClientID: "no-roles", ClientSecret: "no-roles-secret-0123"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ninfo, err := nr.ServerInfo(ctx)
		if err != nil || ninfo.Version != "" || ninfo.Features != nil {
			t.Fatalf("an identity without admin roles: %+v, %v; want nothing known and no error", ninfo, err)
		}
	}
	if n := count(nm, "serverinfo.get", "GET", "403"); n != 1 {
		t.Errorf("the refused server info was asked %d times for 2 calls, want 1", n)
	}
}

// A proxy in front of Keycloak that does not pass /admin/serverinfo on
// (404): nothing known, no error, and not asked again at every call; an
// outage (503) is an error, asked again.
func TestServerInfoNotServed(t *testing.T) {
	integration(t)
	ctx := context.Background()
	faults := &testbed.Faults{}
	m := keycloak.NewMetrics()
	c, err := keycloak.New(keycloak.Config{URL: kc.URL, Metrics: m, WrapTransport: faults.Wrap,
		Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	faults.Set("serverinfo.get", testbed.Fault{Status: 503})
	if _, err := c.ServerInfo(ctx); err == nil {
		t.Error("an outage read as an answer")
	}
	outage := count(m, "serverinfo.get", "GET", "503")
	faults.Set("serverinfo.get", testbed.Fault{Status: 404})
	for range 2 {
		info, err := c.ServerInfo(ctx)
		if err != nil || info.Version != "" || info.Features != nil {
			t.Fatalf("server info not served: %+v, %v; want nothing known and no error", info, err)
		}
	}
	if n := count(m, "serverinfo.get", "GET", "404"); n != 1 || outage == 0 {
		t.Errorf("the unserved server info was asked %d times for 2 calls, want 1 (the outage: %d requests)", n, outage)
	}
}
