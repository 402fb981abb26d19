//go:build e2ecluster

package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"golang.org/x/oauth2"
)

const keycloakURL = "http://nauthera-keycloak.nauthera-system.svc:8080"

// (a) The specification's AuthServer and AuthClient become Ready; an app pod
// that mounts an AuthClient's Secret gets a client-credentials token from
// the in-cluster Keycloak through its Service with only the mounted files;
// a user completes an authorization-code login with the same Secret.
func TestSpecExamplesAndAppPod(t *testing.T) {
	needsCluster(t)
	install(t)
	createNamespaces(t, "security", "my-app-dev")

	t.Run("spec-examples", func(t *testing.T) {
		must(t, "", "kubectl", "apply", "-f", repoFile("config", "samples", "auth_v1alpha1_authserver.yaml"),
			"-f", repoFile("config", "samples", "auth_v1alpha1_authclient.yaml"))
		must(t, "", "kubectl", "-n", "my-app-dev", "wait", "authclient/my-webapp", "--for=condition=Ready", "--timeout=300s")
		s := secretData(t, "my-app-dev", "my-webapp-client-secret")
		if s["client_id"] != "my-app-dev.my-webapp" || s["client_secret"] == "" || s["issuer_url"] != "https://auth.prod.example.com/realms/production-server" {
			t.Errorf("Secret: client_id %q, client_secret set %v, issuer_url %q", s["client_id"], s["client_secret"] != "", s["issuer_url"])
		}
	})

	// An AuthServer whose issuer is the in-cluster Keycloak Service, so the
	// Secret's URLs are reachable from pods.
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: in-cluster, namespace: security}
spec:
  issuerUrl: %q
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: shop, namespace: my-app-dev}
spec:
  authServerRef: {name: in-cluster, namespace: security}
  redirectUris: ["http://shop.my-app-dev.example/callback"]
  scopes: [openid, profile, email]
  grantTypes: [authorization_code, client_credentials]
`, keycloakURL))
	must(t, "", "kubectl", "-n", "my-app-dev", "wait", "authclient/shop", "--for=condition=Ready", "--timeout=300s")

	t.Run("app-pod-client-credentials", func(t *testing.T) {
		apply(t, probePod("shop-app", "my-app-dev", "shop-client-secret"))
		phase, logs := waitPodDone(t, "my-app-dev", "shop-app", 5*time.Minute)
		lines := parseProbe(t, logs)
		if phase != "Succeeded" || len(lines) != 1 || !lines[0].OK {
			t.Fatalf("app pod: phase %s, output %s", phase, logs)
		}
		// The control: the same pod with a Secret whose client_secret is wrong is refused,
		// so a success above means the mounted credentials were checked.
		s := secretData(t, "my-app-dev", "shop-client-secret")
		must(t, "", "kubectl", "-n", "my-app-dev", "create", "secret", "generic", "shop-wrong",
			"--from-literal=token_url="+s["token_url"], "--from-literal=client_id="+s["client_id"], "--from-literal=client_secret=wrong")
		apply(t, probePod("shop-wrong", "my-app-dev", "shop-wrong"))
		phase, logs = waitPodDone(t, "my-app-dev", "shop-wrong", 5*time.Minute)
		if lines := parseProbe(t, logs); phase != "Failed" || len(lines) != 1 || lines[0].OK || lines[0].Status != http.StatusUnauthorized {
			t.Errorf("wrong secret: phase %s, output %s; want Failed with HTTP 401", phase, logs)
		}
	})

	t.Run("authorization-code-login", func(t *testing.T) { authCodeLogin(t) })
}

// authCodeLogin creates a user in the AuthServer's realm (as an admin in the
// console would) and signs them in with the authorization code flow and
// PKCE, exchanging the code with the Secret's client secret.
func authCodeLogin(t *testing.T) {
	ctx := context.Background()
	transport := clusterHTTP(t)
	admin := secretData(t, "nauthera-system", "nauthera-keycloak-admin")
	gc := gocloak.NewClient(keycloakURL)
	gc.RestyClient().SetTransport(transport)
	jwt, err := gc.LoginAdmin(ctx, admin["username"], admin["password"], "master")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.CreateUser(ctx, jwt.AccessToken, "in-cluster", gocloak.User{
		Username: gocloak.StringP("alice"), Email: gocloak.StringP("alice@example.com"), EmailVerified: gocloak.BoolP(true),
		FirstName: gocloak.StringP("Alice"), LastName: gocloak.StringP("Liddell"), Enabled: gocloak.BoolP(true),
		Credentials: []gocloak.CredentialRepresentation{{Type: gocloak.StringP("password"), Value: gocloak.StringP("wonderland-42"), Temporary: gocloak.BoolP(false)}},
	}); err != nil && !strings.Contains(err.Error(), "409") {
		t.Fatal(err)
	}

	s := secretData(t, "my-app-dev", "shop-client-secret")
	cfg := oauth2.Config{
		ClientID: s["client_id"], ClientSecret: s["client_secret"], RedirectURL: s["redirect_uri"],
		Endpoint: oauth2.Endpoint{AuthURL: s["authorization_url"], TokenURL: s["token_url"]},
		Scopes:   []string{"openid", "profile", "email"},
	}
	if cfg.RedirectURL == "" {
		cfg.RedirectURL = "http://shop.my-app-dev.example/callback"
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), cfg.RedirectURL) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	verifier := oauth2.GenerateVerifier()
	resp, err := browser.Get(cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?s)<form[^>]*action="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no login form (HTTP %d)", resp.StatusCode)
	}
	action := strings.ReplaceAll(m[1], "&amp;", "&")
	resp, err = browser.PostForm(action, url.Values{"username": {"alice"}, "password": {"wonderland-42"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-1" {
		t.Fatalf("login did not redirect back with a code: HTTP %d, %v", resp.StatusCode, loc)
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: transport}),
		loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no ID token")
	}
	parsed, claims, err := gc.DecodeAccessToken(ctx, idToken, "in-cluster")
	if err != nil || parsed == nil || !parsed.Valid {
		t.Fatalf("ID token does not verify against the realm's keys: %v", err)
	}
	if (*claims)["preferred_username"] != "alice" || (*claims)["iss"] != s["issuer_url"] {
		t.Errorf("ID token: preferred_username %v, iss %v; want alice, %s", (*claims)["preferred_username"], (*claims)["iss"], s["issuer_url"])
	}
	t.Logf("alice signed in through %s", s["authorization_url"])
}

// (b) The webhook, reached by the API server through its Service with the
// chart's own certificate handling, refuses a policy-breaking AuthClient;
// its readiness is visible on the operator pod.
func TestWebhookThroughItsService(t *testing.T) {
	needsCluster(t)
	install(t)
	createNamespaces(t, "security", "webhook-team")
	ready := must(t, "", "kubectl", "-n", "nauthera-system", "get", "pods", "-l", "app.kubernetes.io/name=nauthera-operator",
		"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if !strings.Contains(ready, "=True") {
		t.Fatalf("no Ready operator pod:\n%s", ready)
	}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: webhook-server, namespace: security}
spec:
  issuerUrl: "https://webhook.example.com"
  policySelector: {matchLabels: {tier: webhook-cluster}}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: webhook-policy, namespace: security, labels: {tier: webhook-cluster}}
spec:
  allowedScopes: [openid, profile, "api:read"]`)
	bad := `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: greedy, namespace: webhook-team}
spec:
  authServerRef: {name: webhook-server, namespace: security}
  redirectUris: ["https://greedy.example.com/cb"]
  scopes: [openid, "api:admin"]`
	var out string
	eventually(t, 120*time.Second, "kubectl apply refused by the webhook", func() error {
		o, err := run(t, bad, "kubectl", "apply", "-f", "-")
		if err == nil {
			_, _ = run(t, "", "kubectl", "-n", "webhook-team", "delete", "authclient", "greedy", "--wait=false")
			return fmt.Errorf("accepted (the policy is not in the webhook's cache yet): %s", o)
		}
		out = err.Error()
		if !strings.Contains(out, "AuthPolicy security/webhook-policy") {
			return fmt.Errorf("refused, but not by the webhook: %s", out)
		}
		return nil
	})
	if !strings.Contains(out, `"api:admin" is not allowed by AuthPolicy security/webhook-policy`) || !strings.Contains(out, "spec.scopes[1]") {
		t.Errorf("kubectl output: %s", out)
	}
	// A compliant client is admitted by the same webhook.
	apply(t, strings.ReplaceAll(strings.ReplaceAll(bad, `"api:admin"`, `"api:read"`), "greedy", "modest"))
}
