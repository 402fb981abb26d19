package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/nauthera/nauthera/internal/testbed"
)

// TestOperator runs the operator binary as its own process against the
// test API server and Keycloak, and checks the product from the outside:
// kubectl, the Secret, and an application signing a user in.
func TestOperator(t *testing.T) {
	needsControlPlane(t)
	root := testbed.RepoRoot()
	mustTool(t, nil, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "config", "crd", "bases"))
	for _, ns := range []string{"nauthera-system", "security", "my-app-dev", "outsider"} {
		if _, err := tool(t, nil, "kubectl", "create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
	}
	mustTool(t, nil, "kubectl", "-n", "nauthera-system", "create", "secret", "generic", "keycloak-admin",
		"--from-literal=username="+kc.AdminUser, "--from-literal=password="+kc.AdminPassword)

	probes, metrics := freePort(t), freePort(t)
	op, err := testbed.StartOperator(cluster, filepath.Join(workDir, "operator.log"),
		"--keycloak-url="+kc.URL, "--keycloak-admin-secret=nauthera-system/keycloak-admin",
		"--resync-interval=3s", "--max-backoff=3s", "--log-format=json",
		"--health-probe-bind-address=127.0.0.1:"+probes, "--metrics-bind-address=127.0.0.1:"+metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log tail:\n%s", testbed.Tail(op.LogFile, 40))
		}
	})
	waitHTTP(t, "http://127.0.0.1:"+probes+"/readyz")

	t.Run("samples", func(t *testing.T) {
		mustTool(t, nil, "kubectl", "apply", "-f", filepath.Join(root, "config", "samples", "auth_v1alpha1_authserver.yaml"),
			"-f", filepath.Join(root, "config", "samples", "auth_v1alpha1_authclient.yaml"))
		mustTool(t, nil, "kubectl", "-n", "my-app-dev", "wait", "authclient/my-webapp", "--for=condition=Ready", "--timeout=120s")
		status := mustTool(t, nil, "kubectl", "-n", "my-app-dev", "get", "authclient", "my-webapp", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].reason}|{.status.conditions[?(@.type=="Ready")].message}|{.status.clientSecretRef.name}`)
		if status != "ClientProvisioned|OIDC client has been successfully provisioned.|my-webapp-client-secret" {
			t.Errorf("status = %q", status)
		}
		s := secretData(t, "my-app-dev", "my-webapp-client-secret")
		if s["client_id"] != "my-app-dev.my-webapp" || s["client_secret"] == "" || s["issuer_url"] != "https://auth.prod.example.com/realms/production-server" {
			t.Errorf("Secret: client_id %q, client_secret set %v, issuer_url %q", s["client_id"], s["client_secret"] != "", s["issuer_url"])
		}
		out := mustTool(t, nil, "kubectl", "get", "authservers,authclients", "-A")
		if !strings.Contains(out, "production-server") || !strings.Contains(out, "my-app-dev.my-webapp") {
			t.Errorf("kubectl get shows:\n%s", out)
		}
	})

	t.Run("application-signs-a-user-in", func(t *testing.T) { applicationLogin(t) })

	t.Run("describe-shows-failures", func(t *testing.T) {
		kubectlApply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: orphan-app, namespace: my-app-dev}
spec:
  authServerRef: {name: does-not-exist, namespace: security}
  redirectUris: ["https://orphan.example.com/cb"]
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: restricted, namespace: security}
spec:
  issuerUrl: "https://restricted.example.com"
  clientNamespaceSelector:
    matchLabels: {team: trusted}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: intruder, namespace: outsider}
spec:
  authServerRef: {name: restricted, namespace: security}
  redirectUris: ["https://intruder.example.com/cb"]
`)
		for _, c := range []struct{ ns, name, reason, message string }{
			{"my-app-dev", "orphan-app", "AuthServerNotFound", "AuthServer security/does-not-exist not found"},
			{"outsider", "intruder", "NamespaceNotAllowed", `does not accept clients from namespace "outsider"`},
		} {
			var out string
			eventually(t, 60*time.Second, "describe "+c.name, func() error {
				out = mustTool(t, nil, "kubectl", "-n", c.ns, "describe", "authclient", c.name)
				// The condition, and the Warning Event in the Events table.
				for _, want := range []string{
					`Message:\s+.*` + regexp.QuoteMeta(c.message),
					`Reason:\s+` + c.reason,
					`Warning\s+` + c.reason + `\s+.*\bnauthera\s+.*` + regexp.QuoteMeta(c.message), // the age column may read "3s (x2 over 5s)"
				} {
					if !regexp.MustCompile(want).MatchString(out) {
						return fmt.Errorf("lacks %s", want)
					}
				}
				return nil
			})
			t.Logf("kubectl describe authclient %s (tail):\n%s", c.name, lastLines(out, 16))
		}
	})

	t.Run("restart-after-sigkill", func(t *testing.T) {
		before := secretVersions(t)
		clientsBefore := managedClients(t, "production-server")
		if err := op.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := op.Restart(cluster); err != nil {
			t.Fatal(err)
		}
		waitHTTP(t, "http://127.0.0.1:"+probes+"/readyz")
		// The restarted process has reconciled every object, twice over
		// (its first pass and a resync, --resync-interval=3s), before
		// anything is compared: its own outcome counters, which start at
		// zero with the process, reach twice the number of objects of
		// each kind. The workqueue holds an object once, so a kind's
		// count cannot reach that while one of its objects waits for its
		// first pass, unless another fails and is retried quickly.
		for _, kind := range []string{"AuthServer", "AuthClient"} {
			n := len(strings.Fields(mustTool(t, nil, "kubectl", "get", strings.ToLower(kind)+"s", "-A", "-o", "name")))
			eventually(t, 90*time.Second, fmt.Sprintf("the restarted operator reconciles all %d %ss", n, kind), func() error {
				if got := reconcileOutcomes(httpGet(t, "http://127.0.0.1:"+metrics+"/metrics"), kind); got < float64(2*n) {
					return fmt.Errorf("%.0f reconciles of %d %ss", got, n, kind)
				}
				return nil
			})
		}
		if exited, err := op.Exited(); exited {
			t.Fatalf("operator exited after restart: %v\n%s", err, testbed.Tail(op.LogFile, 30))
		}
		if after := secretVersions(t); after != before {
			t.Errorf("Secrets changed across the restart:\nbefore %s\nafter  %s", before, after)
		}
		clientsAfter := managedClients(t, "production-server")
		if strings.Join(clientsAfter, ",") != strings.Join(clientsBefore, ",") {
			t.Errorf("Keycloak clients before %v, after %v", clientsBefore, clientsAfter)
		}
		mustTool(t, nil, "kubectl", "-n", "my-app-dev", "wait", "authclient/my-webapp", "--for=condition=Ready", "--timeout=30s")
		body := httpGet(t, "http://127.0.0.1:"+metrics+"/metrics")
		if !strings.Contains(body, "nauthera_keycloak_requests_total") || !strings.Contains(body, "controller_runtime_reconcile_total") {
			t.Error("the metrics endpoint lacks Keycloak request or reconcile metrics")
		}
		// The status gauges the chart's alerts and dashboard read (cmd/nauthera registers them).
		for _, series := range []string{
			`nauthera_authclients{namespace="my-app-dev",ready="True",reason="ClientProvisioned",stalled="false"} `,
			`nauthera_authserver_ready{name="production-server",namespace="security",reason="RealmProvisioned"} 1`,
		} {
			if !strings.Contains(body, series) {
				t.Errorf("the metrics endpoint lacks %s", series)
			}
		}
	})
}

// reconcileOutcomes sums nauthera_reconcile_outcomes_total of one kind in a
// Prometheus text exposition.
func reconcileOutcomes(body, kind string) float64 {
	total := 0.0
	prefix := `nauthera_reconcile_outcomes_total{kind="` + kind + `"`
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		if f := strings.Fields(line); len(f) == 2 {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				total += v
			}
		}
	}
	return total
}

// applicationLogin plays an application that has only the Secret: it runs
// the authorization code flow with PKCE for a user through Keycloak's login
// form, exchanges the code with the client secret, and verifies the ID token.
func applicationLogin(t *testing.T) {
	ctx := context.Background()
	// An AuthServer whose issuer is the local Keycloak, so the login form is
	// reachable here (the spec's example names a public host).
	kubectlApply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: local, namespace: security}
spec:
  issuerUrl: %q
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: shop, namespace: my-app-dev}
spec:
  displayName: "Shop"
  authServerRef: {name: local, namespace: security}
  redirectUris: ["http://127.0.0.1:18555/callback"]
  scopes: [openid, profile, email]
`, kc.URL))
	mustTool(t, nil, "kubectl", "-n", "my-app-dev", "wait", "authclient/shop", "--for=condition=Ready", "--timeout=120s")
	createUser(t, "local", "alice", "wonderland-42")

	s := secretData(t, "my-app-dev", "shop-client-secret")
	cfg, _, claims := authCodeLogin(t, s, "http://127.0.0.1:18555/", "alice", "wonderland-42")
	if claims.Issuer != s["issuer_url"] || claims.Username != "alice" || claims.Email != "alice@example.com" {
		t.Errorf("ID token: iss %q, preferred_username %q, email %q", claims.Issuer, claims.Username, claims.Email)
	}
	state, verifier := randomString(t), oauth2.GenerateVerifier()
	t.Logf("signed in alice: ID token from %s", claims.Issuer)

	// A redirect URI that is not registered is refused before any login.
	evil := cfg
	evil.RedirectURL = "https://evil.example.com/callback"
	resp, err := newBrowser(t, "https://evil.example.com/").Get(evil.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "redirect") {
		t.Errorf("unregistered redirect URI: HTTP %d, want 400 with an invalid redirect_uri page", resp.StatusCode)
	}

	// A wrong client secret cannot exchange a code.
	wrong := cfg
	wrong.ClientSecret = "not-the-secret"
	if _, err := wrong.Exchange(ctx, "any-code", oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "unauthorized_client") && !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("exchange with a wrong secret: %v", err)
	}
}

// newBrowser returns an HTTP client with cookies that follows redirects
// until one leads to stopAt (the application's callback, which no server
// answers here).
func newBrowser(t *testing.T, stopAt string) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), stopAt) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var loginForm = regexp.MustCompile(`(?s)<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="kc-form-login"`)

func formAction(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: HTTP %d\n%s", resp.StatusCode, lastLines(string(body), 20))
	}
	m := loginForm.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no login form in Keycloak's page:\n%s", lastLines(string(body), 40))
	}
	return html.UnescapeString(m[1] + m[2])
}

func createUser(t *testing.T, realm, name, password string) {
	t.Helper()
	ctx := context.Background()
	gc, tok := kc.Console(t)
	id, err := gc.CreateUser(ctx, tok, realm, gocloak.User{
		Username: gocloak.StringP(name), Enabled: gocloak.BoolP(true), EmailVerified: gocloak.BoolP(true),
		Email: gocloak.StringP(name + "@example.com"), FirstName: gocloak.StringP("Alice"), LastName: gocloak.StringP("Liddell"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.SetPassword(ctx, tok, id, realm, password, false); err != nil {
		t.Fatal(err)
	}
}

func kubectlApply(t *testing.T, manifests string) {
	t.Helper()
	mustTool(t, strings.NewReader(manifests), "kubectl", "apply", "-f", "-")
}

func secretData(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	var s struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(mustTool(t, nil, "kubectl", "-n", ns, "get", "secret", name, "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(b)
	}
	return out
}

// secretVersions lists the credentials Secrets with their resource versions.
func secretVersions(t *testing.T) string {
	t.Helper()
	return mustTool(t, nil, "kubectl", "get", "secrets", "-A", "-l", "app.kubernetes.io/managed-by=nauthera",
		"-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}@{.metadata.resourceVersion} {end}`)
}

// managedClients lists the clientIds in a realm that Nauthera owns.
func managedClients(t *testing.T, realm string) []string {
	t.Helper()
	gc, tok := kc.Console(t)
	clients, err := gc.GetClients(context.Background(), tok, realm, gocloak.GetClientsParams{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range clients {
		if c.Attributes["nauthera.io/owner"] != "" {
			ids = append(ids, gocloak.PString(c.ClientID))
		}
	}
	return ids
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	eventually(t, 30*time.Second, "GET "+u, func() error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})
}

func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	testbed.Eventually(t, timeout, what, f)
}

func randomString(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Issuer   string   `json:"iss"`
	Username string   `json:"preferred_username"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
}

// authCodeLogin plays an application that has only its credentials Secret
// (s): the authorization code flow with PKCE for a user through Keycloak's
// login form, the code exchanged with the Secret's client credentials, the
// ID token verified (signature, issuer, audience). callback is where the
// browser stops (the redirect URI's prefix; no server answers there).
func authCodeLogin(t *testing.T, s map[string]string, callback, user, password string) (oauth2.Config, *oidc.Provider, idClaims) {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s["issuer_url"])
	if err != nil {
		t.Fatalf("discovery at issuer_url %q: %v", s["issuer_url"], err)
	}
	cfg := oauth2.Config{
		ClientID: s["client_id"], ClientSecret: s["client_secret"], Endpoint: provider.Endpoint(),
		RedirectURL: s["redirect_uri"], Scopes: strings.Fields(s["scopes"]),
	}
	state, verifier := randomString(t), oauth2.GenerateVerifier()
	browser := newBrowser(t, callback)

	loginPage, err := browser.Get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	action := formAction(t, loginPage)
	resp, err := browser.PostForm(action, url.Values{"username": {user}, "password": {password}, "credentialId": {""}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("login did not redirect (HTTP %d): %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(loc.String(), s["redirect_uri"]) {
		t.Fatalf("redirected to %s, not the registered redirect URI", loc)
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("redirect lacks the state or the code: %s", loc)
	}

	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange with the Secret's client credentials: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: s["client_id"]}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token signature, issuer or audience: %v", err)
	}
	var claims idClaims
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	claims.Issuer = idToken.Issuer
	return cfg, provider, claims
}
