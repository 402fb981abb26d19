package admission_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// A policy that limits role grants across namespaces and custom claims is
// enforced at admission with the reconciler's messages (one pkg/policy
// Evaluate), naming the field down to the list element: the grant of a role
// it does not allow across namespaces, a claim type, a token a claim may
// not reach. What it allows is admitted.
func TestPolicyRoleGrantsAndClaimsAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "gov-security")
	ns(t, "gov-orders")
	ns(t, "gov-workers")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: governed, namespace: gov-security}
spec:
  issuerUrl: "https://governed.example.com"
  policySelector: {matchLabels: {gov: roles}}`, &authv1.AuthServer{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: roles-and-claims, namespace: gov-security, labels: {gov: roles}}
spec:
  roleGrants:
    granteeNamespaces: [gov-workers]
    roles: ["orders:read"]
  claims:
    allowedTypes: [GroupMembership, UserAttribute]
    allowedTokens: [AccessToken, IDToken]`, &authv1.AuthPolicy{})

	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: writer, namespace: gov-workers}
spec:
  authServerRef: {name: governed, namespace: gov-security}
  grantTypes: [client_credentials]
  roleGrants:
  - client: {name: orders, namespace: gov-orders}
    roles: ["orders:read", "orders:write"]`,
		`spec.roleGrants[0].roles[1]`,
		`spec.roleGrants[0].roles[1] "orders:write" of AuthClient gov-orders/orders may not be granted across namespaces by AuthPolicy gov-security/roles-and-claims (allowed across namespaces: orders:read)`)
	// orders:read across namespaces, and any role within the namespace.
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: reader, namespace: gov-workers}
spec:
  authServerRef: {name: governed, namespace: gov-security}
  grantTypes: [client_credentials]
  roleGrants:
  - client: {name: orders, namespace: gov-orders}
    roles: ["orders:read"]
  - client: {name: local-api}
    roles: ["admin"]`, &authv1.AuthClient{})
	// A namespace the policy does not list may not be granted across namespaces at all.
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: intruder, namespace: gov-security}
spec:
  authServerRef: {name: governed, namespace: gov-security}
  grantTypes: [client_credentials]
  roleGrants:
  - client: {name: orders, namespace: gov-orders}
    roles: ["orders:read"]`,
		`spec.roleGrants[0].client`, `allows role grants across namespaces only to AuthClients in namespaces gov-workers`)

	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: frontend, namespace: gov-workers}
spec:
  authServerRef: {name: governed, namespace: gov-security}
  redirectUris: ["https://frontend.example.com/cb"]
  claims:
  - {name: groups, type: GroupMembership, tokens: [IDToken]}
  - {name: tier, type: HardCoded, tokens: [AccessToken], hardCoded: {value: gold}}
  - {name: dept, type: UserAttribute, tokens: [AccessToken, UserInfo], userAttribute: {attribute: department}}`,
		`spec.claims[1].type "HardCoded" (claim "tier") is not allowed by AuthPolicy gov-security/roles-and-claims (allowed: GroupMembership, UserAttribute)`,
		`spec.claims[2].tokens[1] "UserInfo" (claim "dept") is not allowed by AuthPolicy gov-security/roles-and-claims (claims may reach: AccessToken, IDToken)`)
	ac := &authv1.AuthClient{}
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: frontend, namespace: gov-workers}
spec:
  authServerRef: {name: governed, namespace: gov-security}
  redirectUris: ["https://frontend.example.com/cb"]
  claims:
  - {name: groups, type: GroupMembership, tokens: [IDToken]}`, ac)

	// An edit that adds a forbidden token is refused, naming it alone.
	before := ac.DeepCopy()
	ac.Spec.Claims[0].Tokens = append(ac.Spec.Claims[0].Tokens, authv1.TokenIntrospection)
	err := k8s.Patch(context.Background(), ac, client.MergeFrom(before))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.claims[0].tokens[1] "Introspection"`) {
		t.Fatalf("an edit adding a forbidden token: want refused naming spec.claims[0].tokens[1], got %v", err)
	}
}

// The policy fields' own rules are the schema's: a limit that has no
// effect next to Forbidden is refused with a message that says so, as is
// a claim type or token that does not exist.
func TestPolicyGovernanceSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "gov-security")
	for _, tc := range []struct{ doc, want string }{
		{`roleGrants: {acrossNamespaces: Forbidden, roles: ["orders:read"]}`, "granteeNamespaces and roles have no effect when acrossNamespaces is Forbidden"},
		{`claims: {custom: Forbidden, allowedTokens: [IDToken]}`, "allowedTypes and allowedTokens have no effect when custom is Forbidden"},
		{`claims: {allowedTypes: [Script]}`, `spec.claims.allowedTypes[0]: Unsupported value: "Script"`},
		{`roleGrants: {acrossNamespaces: Maybe}`, `Unsupported value: "Maybe"`},
	} {
		err := create(t, "apiVersion: auth.nauthera.io/v1alpha1\nkind: AuthPolicy\nmetadata: {name: bad, namespace: gov-security}\nspec:\n  "+tc.doc, &authv1.AuthPolicy{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want refused with %q, got %v", tc.doc, tc.want, err)
		}
	}
	p := &authv1.AuthPolicy{}
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: defaults, namespace: gov-security}
spec:
  roleGrants: {}
  claims: {}`, p)
	if p.Spec.RoleGrants.AcrossNamespaces != authv1.Allowed || p.Spec.Claims.Custom != authv1.Allowed {
		t.Errorf("defaults %+v %+v, want Allowed", p.Spec.RoleGrants, p.Spec.Claims)
	}
}

// The AuthServer's realm roles and groups are checked by the schema: a
// group's realm role must be declared, Keycloak's own roles cannot be.
func TestRealmRolesSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "gov-security")
	for _, tc := range []struct{ doc, want string }{
		{"realmRoles: [{name: operator}]\n  groups: [{name: ops, realmRoles: [auditor]}]", "every groups[].realmRoles entry must name one of spec.realmRoles"},
		{"groups: [{name: ops, realmRoles: [auditor]}]", "every groups[].realmRoles entry must name one of spec.realmRoles"},
		{"realmRoles: [{name: offline_access}]", "must not be one of Keycloak's own realm roles"},
		{"realmRoles: [{name: default-roles-x}]", "must not be one of Keycloak's own realm roles"},
		{"groups: [{name: a/b}]", "spec.groups[0].name"},
		{`groups: [{name: "   "}]`, "spec.groups[0].name"},
		{`groups: [{name: " ops"}]`, "spec.groups[0].name"},
		{`groups: [{name: "ops\nadmins"}]`, "spec.groups[0].name"},
	} {
		err := create(t, "apiVersion: auth.nauthera.io/v1alpha1\nkind: AuthServer\nmetadata: {name: bad-roles, namespace: gov-security}\nspec:\n  issuerUrl: https://bad.example.com\n  "+tc.doc, &authv1.AuthServer{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want refused with %q, got %v", tc.doc, tc.want, err)
		}
	}
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: good-roles, namespace: gov-security}
spec:
  issuerUrl: https://good.example.com
  realmRoles: [{name: operator, description: "Runs the platform"}, {name: auditor}]
  groups: [{name: ops, realmRoles: [operator, auditor]}, {name: support}, {name: "Domain Admins"}, {name: x}]`, &authv1.AuthServer{})
}
