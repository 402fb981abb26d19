package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// AuthPolicy governance of role grants and custom claims (issue 22),
// against the real Keycloak: a policy that forbids what a client already
// declares makes it a PolicyViolation naming the field, while its Keycloak
// client, its Secret and its credentials are kept (a token is still issued
// with the same secret).

// keptCredentials checks that the client's Secret still holds secret and
// that Keycloak still issues a client-credentials token for it; it returns
// the token's claims.
func keptCredentials(t *testing.T, realm, ns, name, secret string) map[string]any {
	t.Helper()
	s := secretOf(t, ns, name+"-client-secret")
	if got := string(s.Data["client_secret"]); got != secret || got == "" {
		t.Fatalf("the policy changed the credentials of %s/%s", ns, name)
	}
	var claims map[string]any
	eventually(t, 10*time.Second, "a token for the kept credentials", func() error {
		jwt, err := clientToken(t, realm, ns, name+"-client-secret")
		if err != nil {
			return err
		}
		claims = map[string]any{}
		claimsOf(t, jwt.AccessToken, &claims)
		return nil
	})
	return claims
}

// rolesIn lists resource_access.<clientID>.roles of token claims.
func rolesIn(claims map[string]any, clientID string) []string {
	ra, _ := claims["resource_access"].(map[string]any)
	c, _ := ra[clientID].(map[string]any)
	var out []string
	roles, _ := c["roles"].([]any)
	for _, r := range roles {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

func policyViolating(t *testing.T, p *authv1.AuthPolicy, want int32) {
	t.Helper()
	eventually(t, 30*time.Second, "AuthPolicy status.violatingClients", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if got := ptr.Deref(p.Status.ViolatingClients, -1); got != want {
			return fmt.Errorf("violatingClients %d, want %d", got, want)
		}
		return nil
	})
}

// A grant of orders:write across namespaces, which a policy applied later
// does not allow (only orders:read may cross): PolicyViolation naming
// spec.roleGrants[0].roles[0] and the policy, a Warning Event, the
// credentials kept, and the role not in the worker's token. Loosening the
// policy makes the worker Ready again with the same credentials.
func TestPolicyRoleGrantForbiddenKeepsCredentials(t *testing.T) {
	integration(t)
	policyServer(t, "rg-server")
	ensureNamespace(t, "rg-api", nil)
	ensureNamespace(t, "rg-worker", nil)
	api, worker := &authv1.AuthClient{}, &authv1.AuthClient{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: orders, namespace: rg-api}
spec:
  authServerRef: {name: rg-server, namespace: security}
  grantTypes: [client_credentials]
  roles:
  - {name: "orders:read", description: "Read orders"}
  - {name: "orders:write", description: "Create and change orders"}
  roleGrantAccess: {namespaces: [rg-worker]}`, api)
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: rg-worker}
spec:
  authServerRef: {name: rg-server, namespace: security}
  grantTypes: [client_credentials]
  roleGrants:
  - client: {name: orders, namespace: rg-api}
    roles: ["orders:write"]`, worker)
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	waitReady(t, worker, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	secret := string(secretOf(t, "rg-worker", "worker-client-secret").Data["client_secret"])
	// Granted first: the role is in a token issued before the policy, so
	// its absence below is the policy taking it away.
	eventually(t, 30*time.Second, "orders:write in the worker's token before the policy", func() error {
		if roles := rolesIn(keptCredentials(t, "rg-server", "rg-worker", "worker", secret), "rg-api.orders"); !slices.Contains(roles, "orders:write") {
			return fmt.Errorf("roles %v", roles)
		}
		return nil
	})

	p := applyPolicy(t, "security", "rg-policy", "rg-server", `  roleGrants: {roles: ["orders:read"]}`)
	cond := waitReady(t, worker, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	for _, want := range []string{
		`spec.roleGrants[0].roles[0] "orders:write" of AuthClient rg-api/orders may not be granted across namespaces by AuthPolicy security/rg-policy (allowed across namespaces: orders:read)`,
		"the role grants the policies forbid are not given to its service account",
	} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if strings.Contains(cond.Message, "grant types and scopes") {
		t.Errorf("message %q claims grant types or scopes were switched off", cond.Message)
	}
	if note := warningEvent(t, worker, authv1.ReasonPolicyViolation); !strings.Contains(note, "spec.roleGrants[0].roles[0]") {
		t.Errorf("Event %q does not name the field", note)
	}
	// A newly issued token has lost the role (it was taken from the
	// service account in the reconcile that reported the violation).
	claims := keptCredentials(t, "rg-server", "rg-worker", "worker", secret)
	if slices.Contains(rolesIn(claims, "rg-api.orders"), "orders:write") {
		t.Errorf("the forbidden role is in the worker's token: %v", claims["resource_access"])
	}
	if worker.Status.RoleGrants != nil && strings.Contains(fmt.Sprint(worker.Status.RoleGrants), "orders:write") {
		t.Errorf("status.roleGrants still shows the forbidden role: %+v", worker.Status.RoleGrants)
	}
	// The API itself breaks nothing.
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)
	policyViolating(t, p, 1)

	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.RoleGrants.Roles = append(p.Spec.RoleGrants.Roles, "orders:write") })
	waitReady(t, worker, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	keptCredentials(t, "rg-server", "rg-worker", "worker", secret)
	policyViolating(t, p, 0)
	deleteAndWait(t, worker)
	deleteAndWait(t, api)
}

// Custom claims a policy applied later restricts: a token type it does not
// allow, then custom claims forbidden altogether. Each is a PolicyViolation
// naming the field, the credentials kept, and the claim not in the token.
func TestPolicyClaimsForbiddenKeepsCredentials(t *testing.T) {
	integration(t)
	policyServer(t, "claims-server")
	ensureNamespace(t, "claims-app", nil)
	ac := &authv1.AuthClient{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: frontend, namespace: claims-app}
spec:
  authServerRef: {name: claims-server, namespace: security}
  grantTypes: [authorization_code, client_credentials]
  redirectUris: ["https://frontend.example.com/callback"]
  claims:
  - {name: groups, type: GroupMembership, tokens: [IDToken]}
  - {name: tier, type: HardCoded, tokens: [AccessToken, IDToken], hardCoded: {value: gold}}`, ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	secret := string(secretOf(t, "claims-app", "frontend-client-secret").Data["client_secret"])
	// The claim is in force before the policy, so its absence below is the
	// policy keeping it out.
	if claims := keptCredentials(t, "claims-server", "claims-app", "frontend", secret); claims["tier"] != "gold" {
		t.Fatalf("before the policy the access token lacks tier: %v", claims["tier"])
	}

	p := applyPolicy(t, "security", "claims-policy", "claims-server", `  claims: {allowedTokens: [IDToken, UserInfo]}`)
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	for _, want := range []string{
		`spec.claims[1].tokens[0] "AccessToken" (claim "tier") is not allowed by AuthPolicy security/claims-policy (claims may reach: IDToken, UserInfo)`,
		"the claims the policies forbid are kept out of its tokens",
	} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if strings.Contains(cond.Message, "spec.claims[0]") {
		t.Errorf("the allowed claim is reported: %q", cond.Message)
	}
	warningEvent(t, ac, authv1.ReasonPolicyViolation)
	if claims := keptCredentials(t, "claims-server", "claims-app", "frontend", secret); claims["tier"] != nil {
		t.Errorf("the forbidden claim is in the access token: %v", claims["tier"])
	}

	patchPolicy(t, p, func(p *authv1.AuthPolicy) {
		p.Spec.Claims = &authv1.ClaimPolicy{Custom: authv1.Forbidden}
	})
	eventually(t, 30*time.Second, "both claims reported", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		msg := ""
		if c := meta.FindStatusCondition(ac.Status.Conditions, authv1.ReadyCondition); c != nil {
			msg = c.Message
		}
		if !strings.Contains(msg, `spec.claims[0] (claim "groups"): AuthPolicy security/claims-policy forbids custom claims`) || !strings.Contains(msg, `spec.claims[1] (claim "tier")`) {
			return fmt.Errorf("message %q", msg)
		}
		return nil
	})
	keptCredentials(t, "claims-server", "claims-app", "frontend", secret)

	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.Claims = nil })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	keptCredentials(t, "claims-server", "claims-app", "frontend", secret)
	deleteAndWait(t, ac)
}
