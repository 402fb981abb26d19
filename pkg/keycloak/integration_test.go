package keycloak_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// kc is the real Keycloak every integration test in this package talks to.
var kc *testbed.Keycloak

func TestMain(m *testing.M) { testbed.Main(m, run) }

func run(m *testing.M) int {
	var err error
	if kc, err = testbed.StartKeycloak("keycloak-pkg"); err != nil {
		return testbed.Fail(err)
	}
	defer func() {
		if err := kc.Cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	return m.Run()
}

func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a Keycloak server (run without -short)")
	}
}

// newAdmin returns a client with its own metrics, so a test can count its requests.
func newAdmin(t *testing.T) (*keycloak.AdminClient, *keycloak.Metrics) {
	t.Helper()
	m := keycloak.NewMetrics()
	c, err := keycloak.New(keycloak.Config{
		URL:         kc.URL,
		Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword},
		Metrics:     m,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

// console is a plain gocloak client playing a human in the Keycloak console.
func console(t *testing.T) (*gocloak.GoCloak, string) { return kc.Console(t) }

// count sums the requests of one operation, method and status code, on
// whichever server.
func count(m *keycloak.Metrics, op, method, code string) int {
	return testbed.KeycloakRequests(m, func(l map[string]string) bool {
		return l["operation"] == op && l["method"] == method && l["code"] == code
	})
}

// testRealm creates a realm for one test and deletes it afterwards.
func testRealm(t *testing.T, c *keycloak.AdminClient) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	// Creating a realm can outlast a short request timeout on a busy
	// machine (measured over 10 s on a cold Keycloak): a patient client
	// creates it, whatever timeout c has.
	slow, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.CreateRealm(context.Background(), gocloak.RealmRepresentation{Realm: &name, Enabled: gocloak.BoolP(true)}); err != nil {
		t.Fatalf("create realm %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.DeleteRealm(context.Background(), name) })
	return name
}

func TestRealmLifecycle(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	name := "realm-lifecycle"

	if _, err := c.GetRealm(ctx, name); !keycloak.IsNotFound(err) {
		t.Fatalf("GetRealm of a missing realm: want not found, got %v", err)
	}
	rep := gocloak.RealmRepresentation{
		Realm:      &name,
		Enabled:    gocloak.BoolP(true),
		Attributes: map[string]string{"nauthera.io/owner": "security/production-server"},
	}
	if err := c.CreateRealm(ctx, rep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteRealm(ctx, name) })
	if err := c.CreateRealm(ctx, rep); !keycloak.IsConflict(err) {
		t.Fatalf("second CreateRealm: want conflict (409), got %v", err)
	}

	frontend := "https://auth.prod.example.com"
	if err := c.UpdateRealm(ctx, gocloak.RealmRepresentation{
		Realm:       &name,
		DisplayName: gocloak.StringP("Production"),
		Attributes:  map[string]string{"nauthera.io/owner": "security/production-server", "frontendUrl": frontend},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRealm(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if gocloak.PString(got.DisplayName) != "Production" || got.Attributes["nauthera.io/owner"] != "security/production-server" {
		t.Errorf("realm after update: displayName=%q attributes=%v", gocloak.PString(got.DisplayName), got.Attributes)
	}

	disc, err := c.GetDiscovery(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if want := frontend + "/realms/" + name; disc.Issuer != want {
		t.Errorf("issuer = %q, want the frontend URL %q", disc.Issuer, want)
	}
	if !strings.HasSuffix(disc.TokenEndpoint, "/protocol/openid-connect/token") {
		t.Errorf("token endpoint = %q", disc.TokenEndpoint)
	}

	if err := c.DeleteRealm(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRealm(ctx, name); !keycloak.IsNotFound(err) {
		t.Fatalf("GetRealm after delete: want not found, got %v", err)
	}
	if _, err := c.GetDiscovery(ctx, name); !keycloak.IsNotFound(err) {
		t.Fatalf("GetDiscovery after delete: want not found, got %v", err)
	}
	if err := c.DeleteRealm(ctx, name); !keycloak.IsNotFound(err) {
		t.Fatalf("second DeleteRealm: want not found, got %v", err)
	}
}

func TestClientLifecycle(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	realm := testRealm(t, c)
	clientID := "my-app-dev.my-webapp"

	if _, err := c.FindClient(ctx, realm, clientID); !keycloak.IsNotFound(err) {
		t.Fatalf("FindClient of a missing client: want not found, got %v", err)
	}
	want := gocloak.Client{
		ClientID:                &clientID,
		Name:                    gocloak.StringP("My Awesome Web App"),
		Protocol:                gocloak.StringP("openid-connect"),
		PublicClient:            gocloak.BoolP(false),
		StandardFlowEnabled:     gocloak.BoolP(true),
		RedirectURIs:            []string{"https://my-webapp.dev.example.com/callback"},
		Attributes:              map[string]string{"nauthera.io/owner": "my-app-dev/my-webapp"},
		ClientAuthenticatorType: gocloak.StringP("client-secret"),
	}
	id, err := c.CreateClient(ctx, realm, want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateClient(ctx, realm, want); !keycloak.IsConflict(err) {
		t.Fatalf("CreateClient with a taken clientId: want conflict (409), got %v", err)
	} else if !strings.Contains(err.Error(), "409") {
		t.Errorf("conflict error should carry the status: %v", err)
	}
	if n := count(m, "client.create", "POST", "409"); n != 1 {
		t.Errorf("metrics: client.create 409 counted %d times, want 1", n)
	}

	found, err := c.FindClient(ctx, realm, clientID)
	if err != nil {
		t.Fatal(err)
	}
	if gocloak.PString(found.ID) != id {
		t.Errorf("FindClient id = %q, CreateClient returned %q", gocloak.PString(found.ID), id)
	}
	if found.Attributes["nauthera.io/owner"] != "my-app-dev/my-webapp" {
		t.Errorf("owner attribute lost: %v", found.Attributes)
	}
	// Exact match only: a prefix must not find it.
	if _, err := c.FindClient(ctx, realm, "my-app-dev.my-web"); !keycloak.IsNotFound(err) {
		t.Errorf("FindClient must match clientId exactly, got %v", err)
	}

	got, err := c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	got.RedirectURIs = []string{"https://my-webapp.dev.example.com/callback", "https://my-webapp.dev.example.com/cb2"}
	if err := c.UpdateClient(ctx, realm, *got); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.RedirectURIs, "https://my-webapp.dev.example.com/cb2") {
		t.Errorf("redirect URIs after update: %v", got.RedirectURIs)
	}

	s1, err := c.GetClientSecret(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.GetClientSecret(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if s1 == "" || s1 != s2 {
		t.Fatal("client secret must be non-empty and stable across reads")
	}
	s3, err := c.RegenerateClientSecret(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if s3 == "" || s3 == s1 {
		t.Fatal("regenerated secret must be new")
	}
	if s4, err := c.GetClientSecret(ctx, realm, id); err != nil || s4 != s3 {
		t.Fatalf("secret after regenerate: err=%v, equal to regenerated=%v", err, s4 == s3)
	}
	// got was read before the regeneration and still carries the old secret:
	// updating with it must not roll the secret back.
	if gocloak.PString(got.Secret) != s1 {
		t.Fatal("test premise: the representation read earlier should carry the old secret")
	}
	// The realm's token endpoint accepts the new secret (client credentials need a service account).
	got.ServiceAccountsEnabled = gocloak.BoolP(true)
	if err := c.UpdateClient(ctx, realm, *got); err != nil {
		t.Fatal(err)
	}
	if _, err := gocloak.NewClient(kc.URL).LoginClient(ctx, clientID, s3, realm); err != nil {
		t.Errorf("token endpoint refused the regenerated secret: %v", err)
	}
	if _, err := gocloak.NewClient(kc.URL).LoginClient(ctx, clientID, s1, realm); err == nil {
		t.Error("token endpoint accepted the old secret")
	}

	if err := c.DeleteClient(ctx, realm, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetClient(ctx, realm, id); !keycloak.IsNotFound(err) {
		t.Fatalf("GetClient after delete: want not found, got %v", err)
	}
	if err := c.DeleteClient(ctx, realm, id); !keycloak.IsNotFound(err) {
		t.Fatalf("second DeleteClient: want not found, got %v", err)
	}
	if err := c.UpdateClient(ctx, realm, gocloak.Client{}); err == nil {
		t.Error("UpdateClient without id must fail")
	}
}

func TestClientScopes(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)

	scopes, err := c.ListClientScopes(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	builtin := map[string]string{}
	for _, s := range scopes {
		builtin[gocloak.PString(s.Name)] = gocloak.PString(s.ID)
	}
	for _, name := range []string{"profile", "email", "offline_access"} {
		if builtin[name] == "" {
			t.Fatalf("built-in scope %q missing from %v", name, builtin)
		}
	}
	if id, created, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP("profile")}); err != nil || created || id != builtin["profile"] {
		t.Fatalf("EnsureClientScope(profile) = %q, created=%v, %v; want the built-in %q", id, created, err, builtin["profile"])
	}

	apiRead, created, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP("api:read")})
	if err != nil || !created || apiRead == "" {
		t.Fatalf("EnsureClientScope(api:read) = %q, created=%v, %v", apiRead, created, err)
	}
	again, created, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP("api:read")})
	if err != nil || created || again != apiRead {
		t.Fatalf("second EnsureClientScope(api:read) = %q, created=%v, %v; want %q", again, created, err, apiRead)
	}

	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("scoped")})
	if err != nil {
		t.Fatal(err)
	}
	names := func(kind keycloak.ScopeKind) []string {
		t.Helper()
		list, err := c.GetClientScopesOf(ctx, realm, id, kind)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, gocloak.PString(s.Name))
		}
		return out
	}
	if slices.Contains(names(keycloak.DefaultScope), "api:read") {
		t.Fatal("api:read assigned before AddClientScope")
	}
	if err := c.AddClientScope(ctx, realm, id, apiRead, keycloak.DefaultScope); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(keycloak.DefaultScope), "api:read") {
		t.Fatalf("api:read not among default scopes: %v", names(keycloak.DefaultScope))
	}
	if err := c.RemoveClientScope(ctx, realm, id, apiRead, keycloak.DefaultScope); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names(keycloak.DefaultScope), "api:read") {
		t.Fatal("api:read still a default scope after RemoveClientScope")
	}
	if err := c.AddClientScope(ctx, realm, id, apiRead, keycloak.OptionalScope); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(keycloak.OptionalScope), "api:read") {
		t.Fatalf("api:read not among optional scopes: %v", names(keycloak.OptionalScope))
	}
	if err := c.RemoveClientScope(ctx, realm, id, apiRead, keycloak.OptionalScope); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names(keycloak.OptionalScope), "api:read") {
		t.Fatal("api:read still optional after RemoveClientScope")
	}
}

func TestComponents(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	rep, err := c.GetRealm(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	const keyProvider = "org.keycloak.keys.KeyProvider"
	before, err := c.ListComponents(ctx, realm, gocloak.PString(rep.ID), keyProvider)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateComponent(ctx, realm, gocloak.Component{
		Name:            gocloak.StringP("nauthera-test-key"),
		ProviderID:      gocloak.StringP("rsa-generated"),
		ProviderType:    gocloak.StringP(keyProvider),
		ParentID:        rep.ID,
		ComponentConfig: map[string][]string{"priority": {"10"}},
	})
	if err != nil || id == "" {
		t.Fatalf("CreateComponent = %q, %v", id, err)
	}
	after, err := c.ListComponents(ctx, realm, gocloak.PString(rep.ID), keyProvider)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("components: %d before, %d after create", len(before), len(after))
	}
	var mine *gocloak.Component
	for _, comp := range after {
		if gocloak.PString(comp.ID) == id {
			mine = comp
		}
	}
	if mine == nil {
		t.Fatal("created component not listed")
	}
	mine.ComponentConfig["priority"] = []string{"20"}
	if err := c.UpdateComponent(ctx, realm, *mine); err != nil {
		t.Fatal(err)
	}
	after, _ = c.ListComponents(ctx, realm, gocloak.PString(rep.ID), keyProvider)
	for _, comp := range after {
		if gocloak.PString(comp.ID) == id && comp.ComponentConfig["priority"][0] != "20" {
			t.Errorf("priority after update = %v", comp.ComponentConfig["priority"])
		}
	}
	if err := c.DeleteComponent(ctx, realm, id); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteComponent(ctx, realm, id); !keycloak.IsNotFound(err) {
		t.Fatalf("second DeleteComponent: want not found, got %v", err)
	}
}

// One login serves many calls, also when they run concurrently.
func TestAdminTokenIsReused(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			_, err := c.GetRealm(ctx, "master")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(m, "token.login", "POST", "200"); n != 1 {
		t.Errorf("40 calls made %d admin logins, want 1", n)
	}
	if n := count(m, "realm.get", "GET", "200"); n != 40 {
		t.Errorf("realm.get counted %d times, want 40", n)
	}
}

// withMasterTokenLifespan shortens the lifetime of master-realm tokens for one test.
func withMasterTokenLifespan(t *testing.T, seconds int) {
	t.Helper()
	gc, tok := console(t)
	set := func(s int) error {
		return gc.UpdateRealm(context.Background(), tok, gocloak.RealmRepresentation{Realm: gocloak.StringP("master"), AccessTokenLifespan: &s})
	}
	if err := set(seconds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gc, tok := console(t)
		s := 60
		if err := gc.UpdateRealm(context.Background(), tok, gocloak.RealmRepresentation{Realm: gocloak.StringP("master"), AccessTokenLifespan: &s}); err != nil {
			t.Errorf("restore master token lifespan: %v", err)
		}
	})
}

// Shortly before the access token expires the client refreshes it, and does
// not log in again.
func TestAdminTokenRefreshedBeforeExpiry(t *testing.T) {
	integration(t)
	withMasterTokenLifespan(t, 4)
	ctx := context.Background()
	c, m := newAdmin(t)
	if _, err := c.GetRealm(ctx, "master"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRealm(ctx, "master"); err != nil {
		t.Fatal(err)
	}
	if l, r := count(m, "token.login", "POST", "200"), count(m, "token.refresh", "POST", "200"); l != 1 || r != 0 {
		t.Fatalf("before expiry: %d logins, %d refreshes; want 1, 0", l, r)
	}
	time.Sleep(3500 * time.Millisecond) // within the last quarter of the 4s lifetime
	if _, err := c.GetRealm(ctx, "master"); err != nil {
		t.Fatal(err)
	}
	if l, r := count(m, "token.login", "POST", "200"), count(m, "token.refresh", "POST", "200"); l != 1 || r != 1 {
		t.Fatalf("near expiry: %d logins, %d refreshes; want 1, 1", l, r)
	}
	if n := count(m, "realm.get", "GET", "401"); n != 0 {
		t.Errorf("%d requests were sent with an expired token", n)
	}
}

// A token that Keycloak revoked (the admin's sessions were logged out) is
// replaced by a new login and the call succeeds.
func TestAdminTokenRevokedLogsInAgain(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	if _, err := c.GetRealm(ctx, "master"); err != nil {
		t.Fatal(err)
	}
	gc, tok := console(t)
	users, err := gc.GetUsers(ctx, tok, "master", gocloak.GetUsersParams{Username: &kc.AdminUser, Exact: gocloak.BoolP(true)})
	if err != nil || len(users) != 1 {
		t.Fatalf("find admin user: %v (%d found)", err, len(users))
	}
	if err := gc.LogoutAllSessions(ctx, tok, "master", gocloak.PString(users[0].ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRealm(ctx, "master"); err != nil {
		t.Fatalf("call after the session was revoked: %v", err)
	}
	if n := count(m, "realm.get", "GET", "401"); n != 1 {
		t.Errorf("realm.get 401 counted %d times, want 1 (the revoked token)", n)
	}
	if n := count(m, "token.login", "POST", "200"); n != 2 {
		t.Errorf("%d logins, want 2 (first, then after the revocation)", n)
	}
}

func TestWrongCredentialsAreUnauthorized(t *testing.T) {
	integration(t)
	c, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: "wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRealm(context.Background(), "master")
	if !keycloak.IsUnauthorized(err) || keycloak.IsTransient(err) {
		t.Fatalf("want unauthorized, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}

	// A wrong admin realm (or base URL) makes login answer 404; that must not
	// read as "object not found", which callers take for "already deleted".
	c, err = keycloak.New(keycloak.Config{URL: kc.URL, AdminRealm: "no-such-realm", Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindClient(context.Background(), "master", "admin-cli")
	if !keycloak.IsUnauthorized(err) || keycloak.IsNotFound(err) {
		t.Fatalf("login to a missing admin realm: want unauthorized, got %v", err)
	}
}

func TestUnreachableKeycloakIsTransient(t *testing.T) {
	integration(t)
	m := keycloak.NewMetrics()
	// Port 1 on loopback: nothing listens there.
	c, err := keycloak.New(keycloak.Config{URL: "http://127.0.0.1:1", Credentials: keycloak.Credentials{Username: "a", Password: "b"}, Metrics: m, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindClient(context.Background(), "r", "c")
	if !keycloak.IsTransient(err) {
		t.Fatalf("want transient, got %v", err)
	}
	if n := count(m, "token.login", "POST", "error"); n != 1 {
		t.Errorf("transport failure counted %d times, want 1", n)
	}
}

// A value longer than Keycloak's 255-character columns is answered with HTTP
// 500. The client reports it as a failed write (transient, but not an
// outage): an update is retried once first, a create never (it may have
// been stored before the 500).
func TestOverlongValueIsAFailedWriteNotAnOutage(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	realm := testRealm(t, c)
	long := "https://app.example.com/" + strings.Repeat("a", 256-len("https://app.example.com/"))
	_, err := c.CreateClient(ctx, realm, gocloak.Client{
		ClientID: gocloak.StringP("too-long"), Protocol: gocloak.StringP("openid-connect"), RedirectURIs: []string{long},
	})
	if !keycloak.IsWriteFailed(err) || !keycloak.IsTransient(err) {
		t.Fatalf("want a failed write (transient), got %#v", err)
	}
	if !strings.Contains(err.Error(), "255 characters") {
		t.Errorf("the error should say what is probably wrong: %v", err)
	}
	if n := count(m, "client.create", "POST", "500"); n != 1 {
		t.Errorf("client.create answered 500 %d times, want 1 (creates are not retried)", n)
	}
	if n := count(m, "health.probe", "GET", "200"); n != 1 {
		t.Errorf("health probes: %d, want 1", n)
	}
	// 255 characters fit; an update to 256 is retried once, then reported.
	id, err := c.CreateClient(ctx, realm, gocloak.Client{
		ClientID: gocloak.StringP("just-fits"), Protocol: gocloak.StringP("openid-connect"), RedirectURIs: []string{long[:255]},
	})
	if err != nil {
		t.Fatalf("255 characters: %v", err)
	}
	got, err := c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	got.RedirectURIs = []string{long}
	if err := c.UpdateClient(ctx, realm, *got); !keycloak.IsWriteFailed(err) {
		t.Fatalf("update to 256 characters: want a failed write, got %v", err)
	}
	if n := count(m, "client.update", "PUT", "500"); n != 2 {
		t.Errorf("client.update answered 500 %d times, want 2 (one retry)", n)
	}
}

// With faults injected in front of the real Keycloak: a single 500 on an
// update is retried and succeeds; 500s while Keycloak does not answer reads
// either are an outage; reads are not retried by the client.
func TestServerErrorsOnWrites(t *testing.T) {
	integration(t)
	ctx := context.Background()
	faults := &testbed.Faults{}
	m := keycloak.NewMetrics()
	c, err := keycloak.New(keycloak.Config{
		URL:           kc.URL,
		Credentials:   keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword},
		Metrics:       m,
		WrapTransport: faults.Wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	realm := testRealm(t, c)
	newClient := func(id string) gocloak.Client {
		return gocloak.Client{ClientID: gocloak.StringP(id), Protocol: gocloak.StringP("openid-connect")}
	}

	if _, err := c.CreateClient(ctx, realm, newClient("once")); err != nil {
		t.Fatal(err)
	}
	cl, err := c.FindClient(ctx, realm, "once")
	if err != nil {
		t.Fatal(err)
	}
	faults.Set("client.update", testbed.Fault{Status: 500, Times: 1})
	if err := c.UpdateClient(ctx, realm, *cl); err != nil {
		t.Fatalf("one 500 on an update, then success: %v", err)
	}
	if faults.Hits("client.update") != 1 {
		t.Errorf("fault hits %d, want 1", faults.Hits("client.update"))
	}

	faults.Set("client.create", testbed.Fault{Status: 500})
	faults.Set("health.probe", testbed.Fault{Err: fmt.Errorf("connection refused (injected)")})
	_, err = c.CreateClient(ctx, realm, newClient("down"))
	if !keycloak.IsTransient(err) || keycloak.IsWriteFailed(err) {
		t.Fatalf("500 while Keycloak does not answer reads: want an outage (transient), got %v", err)
	}

	faults.Clear()
	faults.Set("client.find", testbed.Fault{Status: 500})
	if _, err := c.FindClient(ctx, realm, "once"); !keycloak.IsTransient(err) {
		t.Fatalf("500 on a read: want transient, got %v", err)
	}
	if faults.Hits("client.find") != 1 {
		t.Errorf("reads are not retried by the client: %d hits", faults.Hits("client.find"))
	}
}

// UpdateClient never sends the secret's bookkeeping back: a stale
// client.secret.* attribute cannot roll it back.
func TestUpdateClientKeepsSecretAttributes(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("bookkeeping"), Protocol: gocloak.StringP("openid-connect")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	created := got.Attributes["client.secret.creation.time"]
	if created == "" {
		t.Fatalf("Keycloak set no client.secret.creation.time: %v", got.Attributes)
	}
	got.Attributes["client.secret.creation.time"] = "1"
	got.Attributes["client.secret.rotated"] = "stale-previous-secret"
	got.Name = gocloak.StringP("renamed")
	if err := c.UpdateClient(ctx, realm, *got); err != nil {
		t.Fatal(err)
	}
	after, err := c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if gocloak.PString(after.Name) != "renamed" {
		t.Error("the update did not apply")
	}
	if after.Attributes["client.secret.creation.time"] != created || after.Attributes["client.secret.rotated"] != "" {
		t.Errorf("secret bookkeeping was overwritten: %v", after.Attributes)
	}
}

// A client scope create that Keycloak stored while the operator heard a
// timeout or a 400 "Database operation failed" returns the stored scope;
// one that stored nothing returns a transient error, never an empty id.
func TestEnsureClientScopeOutcomeUnknown(t *testing.T) {
	integration(t)
	ctx := context.Background()
	faults := &testbed.Faults{}
	c, err := keycloak.New(keycloak.Config{
		URL:           kc.URL,
		Credentials:   keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword},
		WrapTransport: faults.Wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	realm := testRealm(t, c)
	dbFailed := `{"errorMessage":"Database operation failed"}`
	for name, fault := range map[string]testbed.Fault{
		"api:timeout":  {AfterSend: true, Err: errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers) (injected)"), Times: 1},
		"api:dbfailed": {AfterSend: true, Status: 400, Body: dbFailed, Times: 1},
	} {
		faults.Set("clientscope.create", fault)
		id, created, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP(name)})
		if err != nil || id == "" || created {
			t.Errorf("%s: EnsureClientScope = %q, created=%v, %v; want the stored scope", name, id, created, err)
		}
		if again, _, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP(name)}); err != nil || again != id {
			t.Errorf("%s: the scope found is %q, want %q (%v)", name, again, id, err)
		}
		if faults.Hits("clientscope.create") != 1 {
			t.Errorf("%s: fault hits %d, want 1", name, faults.Hits("clientscope.create"))
		}
		faults.Clear()
	}
	faults.Set("clientscope.create", testbed.Fault{Status: 400, Body: dbFailed, Times: 1})
	if id, _, err := c.EnsureClientScope(ctx, realm, gocloak.ClientScope{Name: gocloak.StringP("api:notstored")}); !keycloak.IsTransient(err) || id != "" {
		t.Errorf("a database failure with nothing stored: %q, %v; want a transient error", id, err)
	}
}
