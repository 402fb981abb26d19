package controllers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// AuthPolicy (issue 10), proven with real tokens from the real Keycloak.

// policyServer creates an AuthServer selecting policies labelled tier=<name>.
func policyServer(t *testing.T, name string) *authv1.AuthServer {
	t.Helper()
	return serverWith(t, name, fmt.Sprintf("  policySelector:\n    matchLabels: {tier: %s}", name))
}

func applyPolicy(t *testing.T, ns, name, tier, spec string) *authv1.AuthPolicy {
	t.Helper()
	ensureNamespace(t, ns, nil)
	p := &authv1.AuthPolicy{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: %s, namespace: %s, labels: {tier: %s}}
spec:
%s`, name, ns, tier, spec), p)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	return p
}

// clientToken gets a token with the client credentials grant, using only
// what the AuthClient's Secret holds.
func clientToken(t *testing.T, realm, ns, secretName string) (*gocloak.JWT, error) {
	t.Helper()
	s := secretOf(t, ns, secretName)
	return gocloak.NewClient(kc.URL).LoginClient(context.Background(), string(s.Data["client_id"]), string(s.Data["client_secret"]), realm)
}

// claimsOf decodes the payload of a JWT into claims (no signature check:
// the token came straight from Keycloak).
func claimsOf(t *testing.T, token string, claims any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, claims); err != nil {
		t.Fatal(err)
	}
}

// lifetime is exp - iat of a JWT.
func lifetime(t *testing.T, token string) time.Duration {
	t.Helper()
	var claims struct{ Exp, Iat int64 }
	claimsOf(t, token, &claims)
	return time.Duration(claims.Exp-claims.Iat) * time.Second
}

func waitTokenLifetime(t *testing.T, realm, ns, secretName string, want time.Duration) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("access token lifetime %s", want), func() error {
		jwt, err := clientToken(t, realm, ns, secretName)
		if err != nil {
			return err
		}
		if got := lifetime(t, jwt.AccessToken); got != want {
			return fmt.Errorf("exp - iat = %s", got)
		}
		return nil
	})
}

func patchPolicy(t *testing.T, p *authv1.AuthPolicy, edit func(*authv1.AuthPolicy)) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	if err := k8s.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// The spec's web-apps-policy, applied verbatim with the spec's AuthServer
// and AuthClient: the client (api:read, allowed) is Ready and governed, with
// PKCE S256 and the policy's lifespans in Keycloak; a client asking for
// api:admin is refused at reconcile, naming field and policy, and its
// allowed part still works.
func TestSpecPolicyGovernsTheSpecClient(t *testing.T) {
	integration(t)
	_, ac := specExample(t)
	p := &authv1.AuthPolicy{}
	apply(t, sample(t, "auth_v1alpha1_authpolicy.yaml"), p)
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), p)
		// Ungoverned again: the lifespans the policy set go back to the realm's.
		eventually(t, 30*time.Second, "policy attributes reset", func() error {
			cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
			if cl.Attributes["access.token.lifespan"] != "" || cl.Attributes["pkce.code.challenge.method"] != "" {
				return fmt.Errorf("attributes %v", cl.Attributes)
			}
			return nil
		})
	})
	eventually(t, 30*time.Second, "spec client governed", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if len(ac.Status.Policies) != 1 || ac.Status.Policies[0] != "security/web-apps-policy" {
			return fmt.Errorf("status.policies %v", ac.Status.Policies)
		}
		cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
		// 5m: Keycloak gives ID tokens the access-token lifespan, so the
		// smaller of accessTokenTTL (15m) and idTokenTTL (5m) bounds both.
		// refreshTokenTTL 24h is bounded by the realm's own session idle
		// timeout (30m by default), which Keycloak applies anyway and which
		// the operator never raises; offline tokens by 24h (the realm allows 30 days).
		if cl.Attributes["pkce.code.challenge.method"] != "S256" || cl.Attributes["access.token.lifespan"] != "300" ||
			cl.Attributes["client.session.idle.timeout"] != "1800" || cl.Attributes["client.offline.session.idle.timeout"] != "86400" {
			return fmt.Errorf("attributes %v", cl.Attributes)
		}
		return nil
	})
	gc, tok := console(t)
	realm, err := gc.GetRealm(context.Background(), tok, "production-server")
	if err != nil || gocloak.PInt(realm.SSOSessionIdleTimeout) != 1800 {
		t.Errorf("the realm's sessions must not be changed by a policy: %v, idle %d", err, gocloak.PInt(realm.SSOSessionIdleTimeout))
	}
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)

	bad := &authv1.AuthClient{}
	ensureNamespace(t, "team-pol", nil)
	apply(t, authClient("team-pol", "admin-app", "production-server", `  scopes: [openid, "api:read", "api:admin"]`), bad)
	cond := waitReady(t, bad, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	want := `spec.scopes[2] "api:admin" is not allowed by AuthPolicy security/web-apps-policy (allowed: openid, profile, email, api:read, api:write)`
	if !strings.Contains(cond.Message, want) {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, bad, authv1.ReasonPolicyViolation)
	if kstatusOf(t, bad) != status.FailedStatus {
		t.Error("a client that violates its policy is Failed for kstatus")
	}
	cl := keycloakClient(t, "production-server", "team-pol.admin-app")
	if cl == nil || strings.Contains(strings.Join(cl.DefaultClientScopes, ","), "api:admin") {
		t.Fatalf("the client must exist without the forbidden scope: %+v", cl)
	}
	if string(secretOf(t, "team-pol", "admin-app-client-secret").Data["client_secret"]) == "" {
		t.Error("the Secret must be kept for what stays allowed")
	}
	eventually(t, 30*time.Second, "AuthPolicy status counts", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if ptr.Deref(p.Status.SelectedBy, 0) != 1 || ptr.Deref(p.Status.GovernedClients, 0) < 2 || ptr.Deref(p.Status.ViolatingClients, 0) != 1 {
			return fmt.Errorf("status %+v", p.Status)
		}
		return nil
	})
	deleteAndWait(t, bad)

	// Leaving scopes out does not get the realm's defaults (offline_access,
	// address, phone) past allowedScopes; asking only for forbidden scopes
	// leaves the client with none of them.
	quiet, greedy := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, authClient("team-pol", "quiet", "production-server", ""), quiet)
	apply(t, authClient("team-pol", "greedy", "production-server", `  scopes: ["api:admin", "offline_access"]`), greedy)
	waitReady(t, quiet, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitReady(t, greedy, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	for _, id := range []string{"team-pol.quiet", "team-pol.greedy"} {
		cl := keycloakClient(t, "production-server", id)
		all := strings.Join(append(append([]string{}, cl.DefaultClientScopes...), cl.OptionalClientScopes...), ",")
		for _, forbidden := range []string{"offline_access", "address", "phone", "api:admin"} {
			if strings.Contains(all, forbidden) {
				t.Errorf("%s has the forbidden scope %s: %s", id, forbidden, all)
			}
		}
	}
	if all := strings.Join(keycloakClient(t, "production-server", "team-pol.quiet").DefaultClientScopes, ","); !strings.Contains(all, "profile") || !strings.Contains(all, "email") {
		t.Errorf("a client without scopes gets the allowed usual ones: %s", all)
	}
	deleteAndWait(t, quiet)
	deleteAndWait(t, greedy)
}

// Token lifetimes map to Keycloak (exp - iat of a real token); a policy
// edit re-reconciles the clients it governs; two policies combine to the
// smallest TTL; a policy in another namespace is ignored; a grant the
// policy takes away is refused by Keycloak, and the client reports it.
func TestPolicyTokenLifetimesAndGrants(t *testing.T) {
	integration(t)
	longResync(t) // a policy edit must arrive through the watch, not a resync
	policyServer(t, "ttl-server")
	ensureNamespace(t, "team-ttl", nil)
	p := applyPolicy(t, "security", "ttl-a", "ttl-server", "  token: {accessTokenTTL: 45s}")
	ac := &authv1.AuthClient{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: team-ttl}
spec:
  authServerRef: {name: ttl-server, namespace: security}
  grantTypes: [client_credentials]`, ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitTokenLifetime(t, "ttl-server", "team-ttl", "worker-client-secret", 45*time.Second)

	// A policy edit reaches the governed client without touching the client.
	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.Token.AccessTokenTTL = &metav1.Duration{Duration: 90 * time.Second} })
	waitTokenLifetime(t, "ttl-server", "team-ttl", "worker-client-secret", 90*time.Second)

	// A second policy: the smaller TTL wins. One in another namespace with
	// the same label is ignored.
	applyPolicy(t, "team-ttl", "sneaky", "ttl-server", "  token: {accessTokenTTL: 20m}\n  allowedGrantTypes: [client_credentials, authorization_code]")
	applyPolicy(t, "security", "ttl-b", "ttl-server", "  token: {accessTokenTTL: 30s}")
	waitTokenLifetime(t, "ttl-server", "team-ttl", "worker-client-secret", 30*time.Second)
	// The status is patched at the end of the reconcile that wrote Keycloak.
	eventually(t, 10*time.Second, "status.policies", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if got := strings.Join(ac.Status.Policies, ","); got != "security/ttl-a,security/ttl-b" {
			return fmt.Errorf("status.policies %s", got)
		}
		return nil
	})

	// Tightening the grants: Keycloak refuses the grant, the client says why.
	secret := string(secretOf(t, "team-ttl", "worker-client-secret").Data["client_secret"])
	patchPolicy(t, p, func(p *authv1.AuthPolicy) {
		p.Spec.AllowedGrantTypes = []authv1.GrantType{authv1.GrantTypeAuthorizationCode, authv1.GrantTypeRefreshToken}
	})
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	if !strings.Contains(cond.Message, `spec.grantTypes[0] "client_credentials" is not allowed by AuthPolicy security/ttl-a`) {
		t.Errorf("message = %q", cond.Message)
	}
	eventually(t, 30*time.Second, "Keycloak refuses the forbidden grant", func() error {
		if _, err := clientToken(t, "ttl-server", "team-ttl", "worker-client-secret"); err == nil {
			return fmt.Errorf("client credentials still accepted")
		}
		return nil
	})
	if got := string(secretOf(t, "team-ttl", "worker-client-secret").Data["client_secret"]); got != secret {
		t.Error("tightening a policy changed the credentials")
	}
	// Loosening it again restores the grant with the same credentials.
	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.AllowedGrantTypes = nil })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitTokenLifetime(t, "ttl-server", "team-ttl", "worker-client-secret", 30*time.Second)
	deleteAndWait(t, ac)
}

// refreshTokenTTL bounds the refresh token: refresh_expires_in equals it,
// and a refresh after it has passed is refused.
func TestPolicyRefreshTokenTTL(t *testing.T) {
	integration(t)
	policyServer(t, "refresh-server")
	ensureNamespace(t, "team-rt", nil)
	applyPolicy(t, "security", "short-refresh", "refresh-server", "  token: {accessTokenTTL: 10s, refreshTokenTTL: 15s}")
	ac := &authv1.AuthClient{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: team-rt}
spec:
  authServerRef: {name: refresh-server, namespace: security}
  grantTypes: [client_credentials, refresh_token]`, ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	// Refresh tokens for the client credentials grant are a Keycloak client
	// option Nauthera does not manage: set it as an administrator would.
	gc, tok := console(t)
	cl := keycloakClient(t, "refresh-server", "team-rt.worker")
	cl.Attributes["client_credentials.use_refresh_token"] = "true"
	cl.Secret = nil
	if err := gc.UpdateClient(context.Background(), tok, "refresh-server", *cl); err != nil {
		t.Fatal(err)
	}
	var jwt *gocloak.JWT
	eventually(t, 30*time.Second, "a refresh token that lives 15s", func() error {
		var err error
		if jwt, err = clientToken(t, "refresh-server", "team-rt", "worker-client-secret"); err != nil {
			return err
		}
		if jwt.RefreshToken == "" || jwt.RefreshExpiresIn != 15 {
			return fmt.Errorf("refresh token %v, refresh_expires_in %d", jwt.RefreshToken != "", jwt.RefreshExpiresIn)
		}
		return nil
	})
	s := secretOf(t, "team-rt", "worker-client-secret")
	if _, err := gc.RefreshToken(context.Background(), jwt.RefreshToken, string(s.Data["client_id"]), string(s.Data["client_secret"]), "refresh-server"); err != nil {
		t.Fatalf("a refresh within the TTL: %v", err)
	}
	// Refused once the 15s TTL is over (polled: Keycloak's clock decides).
	eventually(t, 30*time.Second, "a refresh after the TTL is refused", func() error {
		if _, err := gc.RefreshToken(context.Background(), jwt.RefreshToken, string(s.Data["client_id"]), string(s.Data["client_secret"]), "refresh-server"); err == nil {
			return fmt.Errorf("refresh accepted")
		}
		return nil
	})
	deleteAndWait(t, ac)
}

// enforcePKCE: Keycloak refuses an authorization request without a code
// challenge for a governed confidential client, and accepts one with it.
func TestPolicyEnforcesPKCE(t *testing.T) {
	integration(t)
	policyServer(t, "pkce-server")
	ensureNamespace(t, "team-pkce", nil)
	applyPolicy(t, "security", "pkce", "pkce-server", "  enforcePKCE: true")
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-pkce", "web", "pkce-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// authorize returns the status and the Location header of Keycloak's answer.
	authorize := func(extra url.Values) (int, string) {
		q := url.Values{"client_id": {"team-pkce.web"}, "redirect_uri": {"https://web.example.com/callback"},
			"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
		for k, v := range extra {
			q[k] = v
		}
		resp, err := noRedirects.Get(kc.URL + "/realms/pkce-server/protocol/openid-connect/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	eventually(t, 30*time.Second, "request without code challenge refused", func() error {
		code, loc := authorize(nil)
		if code != http.StatusFound || !strings.Contains(loc, "error=invalid_request") || !strings.Contains(loc, "code_challenge") {
			return fmt.Errorf("HTTP %d, Location %q", code, loc)
		}
		return nil
	})
	if code, _ := authorize(url.Values{"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}); code != http.StatusOK {
		t.Errorf("with a code challenge: HTTP %d (want the login page)", code)
	}
	deleteAndWait(t, ac)
}

// Two policies that cannot be combined (two authentication methods) are
// reported on the AuthServer and refuse its clients, touching nothing.
func TestPolicyConflict(t *testing.T) {
	integration(t)
	as := policyServer(t, "conflict-server")
	ensureNamespace(t, "team-cf", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-cf", "web", "conflict-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	applyPolicy(t, "security", "basic", "conflict-server", "  clientAuthentication: {method: client_secret_basic}")
	applyPolicy(t, "security", "jwt", "conflict-server", "  clientAuthentication: {method: client_secret_jwt}")
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonPolicyConflict, 30*time.Second)
	if !strings.Contains(cond.Message, "security/basic") || !strings.Contains(cond.Message, "security/jwt") {
		t.Errorf("message = %q", cond.Message)
	}
	eventually(t, 30*time.Second, "conflict on the AuthServer", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		for _, c := range as.Status.Conditions {
			if c.Type == authv1.PoliciesCondition && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonPolicyConflict {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", as.Status.Conditions)
	})
	warningEvent(t, as, authv1.ReasonPolicyConflict)
	if got := gocloak.PString(keycloakClient(t, "conflict-server", "team-cf.web").ClientAuthenticatorType); got != "client-secret" {
		t.Errorf("a conflict must not change the client: authenticator %q", got)
	}
	deleteAndWait(t, ac)
}

// longResync restarts the operator with an hour-long resync for the test, so
// that what it checks can only arrive through watches.
func longResync(t *testing.T) {
	t.Helper()
	saved := resync
	resync = time.Hour
	restartOperator(t)
	t.Cleanup(func() { resync = saved; restartOperator(t) })
}
