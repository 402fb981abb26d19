package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// worker is a client in namespace team-b holding grants of the orders API
// in team-a (across namespaces) and of a local API in team-b.
func worker() *authv1.AuthClient {
	return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "worker"}, Spec: authv1.AuthClientSpec{
		RoleGrants: []authv1.RoleGrant{
			{Client: authv1.ObjectReference{Namespace: "team-a", Name: "orders"}, Roles: []string{"orders:read", "orders:write"}},
			{Client: authv1.ObjectReference{Name: "local-api"}, Roles: []string{"admin"}},
		},
	}}
}

func grantPolicy(name string, r authv1.RoleGrantPolicy) authv1.AuthPolicy {
	return pol("security", name, nil, authv1.AuthPolicySpec{RoleGrants: &r})
}

func fields(vs []Violation) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.Field.String()
	}
	return strings.Join(s, ",")
}

func TestPolicyRoleGrantsEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ps     []authv1.AuthPolicy
		fields string
		in     string // a part of the message
	}{
		{"no policy limits grants", []authv1.AuthPolicy{pol("security", "p", nil, authv1.AuthPolicySpec{})}, "", ""},
		{"empty limits allow all", []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{AcrossNamespaces: authv1.Allowed})}, "", ""},
		{"forbidden across namespaces names the grant, not the local one", []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{AcrossNamespaces: authv1.Forbidden})},
			"spec.roleGrants[0].client", "AuthPolicy security/p forbids role grants across namespaces"},
		{"grantee namespace not listed", []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"team-c"}})},
			"spec.roleGrants[0].client", "only to AuthClients in namespaces team-c"},
		{"grantee namespace listed", []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"team-b"}})}, "", ""},
		{"a role not allowed across namespaces is named by index", []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{Roles: []string{"orders:read", "admin"}})},
			"spec.roleGrants[0].roles[1]", `"orders:write" of AuthClient team-a/orders may not be granted across namespaces by AuthPolicy security/p (allowed across namespaces: orders:read, admin)`},
		{"each policy judges on its own", []authv1.AuthPolicy{
			grantPolicy("a", authv1.RoleGrantPolicy{Roles: []string{"orders:read"}}),
			grantPolicy("b", authv1.RoleGrantPolicy{Roles: []string{"orders:write"}}),
		}, "spec.roleGrants[0].roles[1],spec.roleGrants[0].roles[0]", "AuthPolicy security/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Evaluate(worker(), tc.ps)
			if got := fields(vs); got != tc.fields {
				t.Fatalf("fields %q, want %q (%s)", got, tc.fields, Message(vs))
			}
			if !strings.Contains(Message(vs), tc.in) {
				t.Errorf("message %q lacks %q", Message(vs), tc.in)
			}
			for _, v := range vs {
				if v.Rule != RuleRoleGrants {
					t.Errorf("rule %s", v.Rule)
				}
			}
		})
	}
}

func TestPolicyRoleGrantsMessageRevealsNothingElse(t *testing.T) {
	// The message names what the client wrote and what the policy says,
	// never whether the target exists or what it holds.
	vs := Evaluate(worker(), []authv1.AuthPolicy{grantPolicy("p", authv1.RoleGrantPolicy{AcrossNamespaces: authv1.Forbidden})})
	if len(vs) != 1 || strings.Contains(vs[0].Message, "exist") || strings.Contains(vs[0].Message, "local-api") {
		t.Errorf("message %q", Message(vs))
	}
}

func claimsClient(claims ...authv1.Claim) *authv1.AuthClient {
	return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "frontend"}, Spec: authv1.AuthClientSpec{Claims: claims}}
}

var (
	groupsClaim = authv1.Claim{Name: "groups", Type: authv1.ClaimGroupMembership, Tokens: []authv1.TokenType{authv1.TokenID, authv1.TokenAccess}}
	deptClaim   = authv1.Claim{Name: "department", Type: authv1.ClaimUserAttribute, Tokens: []authv1.TokenType{authv1.TokenAccess}, UserAttribute: &authv1.UserAttributeClaim{Attribute: "department"}}
	rolesClaim  = authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess, authv1.TokenIntrospection}}
)

func claimPolicy(name string, c authv1.ClaimPolicy) authv1.AuthPolicy {
	return pol("security", name, nil, authv1.AuthPolicySpec{Claims: &c})
}

func TestPolicyClaimsEvaluate(t *testing.T) {
	ac := claimsClient(deptClaim, rolesClaim, groupsClaim)
	for _, tc := range []struct {
		name   string
		p      authv1.ClaimPolicy
		fields string
		in     string
	}{
		{"allowed", authv1.ClaimPolicy{Custom: authv1.Allowed}, "", ""},
		{"forbidden names every claim", authv1.ClaimPolicy{Custom: authv1.Forbidden}, "spec.claims[0],spec.claims[1],spec.claims[2]", "spec.claims[1] (claim resource_access (ClientRoles)): AuthPolicy security/p forbids custom claims"},
		{"a type not allowed", authv1.ClaimPolicy{AllowedTypes: []authv1.ClaimType{authv1.ClaimGroupMembership, authv1.ClaimClientRoles}}, "spec.claims[0].type", `spec.claims[0].type "UserAttribute" (claim "department") is not allowed by AuthPolicy security/p (allowed: GroupMembership, ClientRoles)`},
		{"a token not allowed", authv1.ClaimPolicy{AllowedTokens: []authv1.TokenType{authv1.TokenAccess, authv1.TokenIntrospection}}, "spec.claims[2].tokens[0]", `spec.claims[2].tokens[0] "IDToken" (claim "groups") is not allowed by AuthPolicy security/p (claims may reach: AccessToken, Introspection)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Evaluate(ac, []authv1.AuthPolicy{claimPolicy("p", tc.p)})
			if got := fields(vs); got != tc.fields {
				t.Fatalf("fields %q, want %q (%s)", got, tc.fields, Message(vs))
			}
			if !strings.Contains(Message(vs), tc.in) {
				t.Errorf("message %q lacks %q", Message(vs), tc.in)
			}
		})
	}
}

// TestPolicyGovernanceAllowedAgreesWithEvaluate: the functions the grants
// and claims steps call allow exactly what Evaluate does not report, for
// every combination of the policies below, so what is applied and what
// is reported cannot disagree.
func TestPolicyGovernanceAllowedAgreesWithEvaluate(t *testing.T) {
	grantPols := []authv1.AuthPolicy{
		grantPolicy("g-forbid", authv1.RoleGrantPolicy{AcrossNamespaces: authv1.Forbidden}),
		grantPolicy("g-ns-b", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"team-b", "team-c"}}),
		grantPolicy("g-ns-c", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"team-c"}}),
		grantPolicy("g-read", authv1.RoleGrantPolicy{Roles: []string{"orders:read", "admin"}}),
		grantPolicy("g-write", authv1.RoleGrantPolicy{Roles: []string{"orders:write"}}),
		pol("security", "none", nil, authv1.AuthPolicySpec{}),
	}
	claimPols := []authv1.AuthPolicy{
		claimPolicy("c-forbid", authv1.ClaimPolicy{Custom: authv1.Forbidden}),
		claimPolicy("c-types", authv1.ClaimPolicy{AllowedTypes: []authv1.ClaimType{authv1.ClaimGroupMembership, authv1.ClaimClientRoles}}),
		claimPolicy("c-types2", authv1.ClaimPolicy{AllowedTypes: []authv1.ClaimType{authv1.ClaimUserAttribute, authv1.ClaimGroupMembership}}),
		claimPolicy("c-tokens", authv1.ClaimPolicy{AllowedTokens: []authv1.TokenType{authv1.TokenAccess, authv1.TokenIntrospection}}),
		claimPolicy("c-tokens2", authv1.ClaimPolicy{AllowedTokens: []authv1.TokenType{authv1.TokenAccess, authv1.TokenID}}),
	}
	ac := worker()
	ac.Spec.Claims = []authv1.Claim{deptClaim, rolesClaim, groupsClaim}
	all := append(append([]authv1.AuthPolicy{}, grantPols...), claimPols...)
	checked := 0
	for mask := 0; mask < 1<<len(all); mask++ {
		var ps []authv1.AuthPolicy
		for i := range all {
			if mask&(1<<i) != 0 {
				ps = append(ps, all[i])
			}
		}
		eff, _ := Combine(ps)
		reported := map[string]bool{}
		for _, v := range Evaluate(ac, ps) {
			reported[v.Field.String()] = true
		}
		for i, g := range ac.Spec.RoleGrants {
			allowed := AllowedGrantRoles(eff, ac, g)
			for j, role := range g.Roles {
				bad := reported[fmt.Sprintf("spec.roleGrants[%d].client", i)] || reported[fmt.Sprintf("spec.roleGrants[%d].roles[%d]", i, j)]
				if got := AllowedRoleGrant(eff, ac.Namespace, g.Client.In(ac.Namespace).Namespace, role); got == bad {
					t.Fatalf("policies %v: role grant %d/%s allowed=%v but reported=%v", eff.Policies, i, role, got, bad)
				}
				if slicesContains(allowed, role) == bad {
					t.Fatalf("policies %v: AllowedGrantRoles %v disagrees on %s", eff.Policies, allowed, role)
				}
				checked++
			}
		}
		for i, c := range ac.Spec.Claims {
			bad := false
			for f := range reported {
				if strings.HasPrefix(f, fmt.Sprintf("spec.claims[%d]", i)) {
					bad = true
				}
			}
			if AllowedClaim(eff, c) == bad {
				t.Fatalf("policies %v: claim %d allowed=%v but reported=%v", eff.Policies, i, !bad, bad)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

func slicesContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestPolicyGovernanceCombine(t *testing.T) {
	eff, conflicts := Combine([]authv1.AuthPolicy{
		grantPolicy("a", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"x", "y"}, Roles: []string{"r1", "r2"}}),
		grantPolicy("b", authv1.RoleGrantPolicy{GranteeNamespaces: []string{"y", "z"}}),
		claimPolicy("c", authv1.ClaimPolicy{AllowedTokens: []authv1.TokenType{authv1.TokenAccess}}),
	})
	if len(conflicts) != 0 {
		t.Fatalf("conflicts %v", conflicts)
	}
	if g := eff.RoleGrants; g == nil || g.Forbidden || strings.Join(g.GranteeNamespaces, ",") != "y" || strings.Join(g.Roles, ",") != "r1,r2" {
		t.Errorf("role grants %+v", eff.RoleGrants)
	}
	if c := eff.Claims; c == nil || c.Forbidden || c.Types != nil || len(c.Tokens) != 1 {
		t.Errorf("claims %+v", eff.Claims)
	}
	if e, _ := Combine(nil); e.RoleGrants != nil || e.Claims != nil {
		t.Errorf("no policy limits nothing: %+v", e)
	}
	if !AllowedRoleGrant(eff, "team", "team", "anything") {
		t.Error("a grant within one namespace is not the policy's to limit")
	}
}

func TestPolicyGovernanceConsequence(t *testing.T) {
	ac := worker()
	ac.Spec.Claims = []authv1.Claim{groupsClaim}
	ac.Spec.Scopes = []string{"x"}
	vs := Evaluate(ac, []authv1.AuthPolicy{
		grantPolicy("g", authv1.RoleGrantPolicy{AcrossNamespaces: authv1.Forbidden}),
		claimPolicy("c", authv1.ClaimPolicy{Custom: authv1.Forbidden}),
	})
	c := Consequence(vs)
	if strings.Contains(c, "grant types and scopes") || !strings.Contains(c, "role grants the policies forbid are not given") || !strings.Contains(c, "claims the policies forbid are kept out of its tokens") {
		t.Errorf("consequence %q", c)
	}
	vs = Evaluate(ac, []authv1.AuthPolicy{pol("security", "s", nil, authv1.AuthPolicySpec{AllowedScopes: []string{"openid"}})})
	if c := Consequence(vs); c != "the grant types and scopes the policies forbid are switched off in the Keycloak client" {
		t.Errorf("scopes consequence changed: %q", c)
	}
	// An update that keeps an old violation and moves its index is not new.
	old := ac.DeepCopy()
	ac.Spec.Claims = append([]authv1.Claim{deptClaim}, ac.Spec.Claims...)
	ps := []authv1.AuthPolicy{claimPolicy("c", authv1.ClaimPolicy{AllowedTokens: []authv1.TokenType{authv1.TokenAccess}})}
	if got := New(Evaluate(ac, ps), old, ps); len(got) != 0 {
		t.Errorf("new violations %s", Message(got))
	}
}

// The samples of config/samples/roles comply with their own policy, and
// the grant it would refuse is refused: the guide's workflow works as
// written.
func TestPolicyRoleSamplesComply(t *testing.T) {
	read := func(file string) []string {
		b, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "roles", file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n---\n")
	}
	p := authv1.AuthPolicy{}
	if err := yaml.UnmarshalStrict([]byte(read("policy.yaml")[0]), &p); err != nil {
		t.Fatal(err)
	}
	ps := []authv1.AuthPolicy{p}
	var worker *authv1.AuthClient
	for _, doc := range read("orders.yaml") {
		ac := &authv1.AuthClient{}
		if err := yaml.UnmarshalStrict([]byte(doc), ac); err != nil {
			t.Fatal(err)
		}
		if vs := Evaluate(ac, ps); len(vs) > 0 {
			t.Errorf("sample %s breaks the sample policy: %s", ac.Name, Message(vs))
		}
		if len(ac.Spec.RoleGrants) > 0 {
			worker = ac
		}
	}
	if worker == nil {
		t.Fatal("no sample grants a role")
	}
	worker.Namespace = "elsewhere"
	if vs := Evaluate(worker, ps); fields(vs) != "spec.roleGrants[0].client" {
		t.Errorf("the sample policy must refuse a grant to another namespace: %s", Message(vs))
	}
}
