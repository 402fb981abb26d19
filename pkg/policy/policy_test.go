package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func pol(ns, name string, labels map[string]string, spec authv1.AuthPolicySpec) authv1.AuthPolicy {
	return authv1.AuthPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: spec}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

var prod = map[string]string{"env": "prod"}

var prodSelector = map[string]authv1.LabelValue{"env": "prod"}

func server(sel *authv1.LabelSelector) *authv1.AuthServer {
	return &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "s"}, Spec: authv1.AuthServerSpec{PolicySelector: sel}}
}

func TestSelect(t *testing.T) {
	all := []authv1.AuthPolicy{
		pol("security", "b", prod, authv1.AuthPolicySpec{}),
		pol("security", "a", prod, authv1.AuthPolicySpec{}),
		pol("security", "other", map[string]string{"env": "dev"}, authv1.AuthPolicySpec{}),
		pol("team-a", "sneaky", prod, authv1.AuthPolicySpec{}), // an app team's label must not count
	}
	if got := Select(server(nil), all); got != nil {
		t.Errorf("no selector selects nothing, got %d", len(got))
	}
	got := Select(server(&authv1.LabelSelector{MatchLabels: prodSelector}), all)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Errorf("selected %v", got)
	}
	if got := Select(server(&authv1.LabelSelector{MatchLabels: map[string]authv1.LabelValue{"bad key!": "x"}}), all); got != nil {
		t.Errorf("a broken selector selects nothing, got %d", len(got))
	}
	if !Selects(server(&authv1.LabelSelector{MatchLabels: prodSelector}), &all[0]) || Selects(server(&authv1.LabelSelector{MatchLabels: prodSelector}), &all[3]) {
		t.Error("Selects disagrees with Select")
	}
}

func TestCombineToTheStrictest(t *testing.T) {
	e, conflicts := Combine([]authv1.AuthPolicy{
		pol("security", "a", nil, authv1.AuthPolicySpec{
			AllowedGrantTypes:    []authv1.GrantType{"authorization_code", "refresh_token", "client_credentials"},
			AllowedScopes:        []string{"openid", "profile", "api:read"},
			Token:                &authv1.TokenPolicy{AccessTokenTTL: dur(15 * time.Minute), RefreshTokenTTL: dur(24 * time.Hour)},
			ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic},
		}),
		pol("security", "b", nil, authv1.AuthPolicySpec{
			AllowedGrantTypes:    []authv1.GrantType{"authorization_code", "client_credentials"},
			EnforcePKCE:          true,
			Token:                &authv1.TokenPolicy{AccessTokenTTL: dur(5 * time.Minute), IDTokenTTL: dur(2 * time.Minute)},
			ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic},
		}),
	})
	if len(conflicts) != 0 {
		t.Fatalf("conflicts %v", conflicts)
	}
	if strings.Join(e.Policies, ",") != "security/a,security/b" || !e.EnforcePKCE || e.Method != authv1.ClientAuthSecretBasic {
		t.Errorf("effective %+v", e)
	}
	if len(e.AllowedGrantTypes) != 2 || e.AllowedGrantTypes[0] != "authorization_code" || e.AllowedGrantTypes[1] != "client_credentials" {
		t.Errorf("grants %v, want the intersection", e.AllowedGrantTypes)
	}
	if strings.Join(e.AllowedScopes, ",") != "openid,profile,api:read" {
		t.Errorf("scopes %v: a policy without a list allows all", e.AllowedScopes)
	}
	if e.AccessTokenTTL != 5*time.Minute || e.RefreshTokenTTL != 24*time.Hour || e.IDTokenTTL != 2*time.Minute {
		t.Errorf("TTLs %s %s %s, want the smallest set", e.AccessTokenTTL, e.RefreshTokenTTL, e.IDTokenTTL)
	}
	if !e.Governed() || (Effective{}).Governed() {
		t.Error("Governed")
	}
}

func TestCombineReportsContradictions(t *testing.T) {
	_, conflicts := Combine([]authv1.AuthPolicy{
		pol("security", "basic", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic},
			AllowedScopes: []string{"openid"}}),
		pol("security", "jwt", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretJWT},
			AllowedScopes: []string{"profile"}}),
	})
	if len(conflicts) != 2 {
		t.Fatalf("conflicts %v, want the method and the empty scope intersection", conflicts)
	}
	if !strings.Contains(conflicts[0].Message, "security/basic requires client_secret_basic and AuthPolicy security/jwt requires client_secret_jwt") {
		t.Errorf("message %q", conflicts[0].Message)
	}
	if conflicts[1].Field != "spec.allowedScopes" {
		t.Errorf("second conflict %+v", conflicts[1])
	}
	// One policy with an empty list is strict, not a contradiction.
	if _, c := Combine([]authv1.AuthPolicy{pol("security", "none", nil, authv1.AuthPolicySpec{AllowedScopes: []string{}})}); len(c) != 0 {
		t.Errorf("conflicts %v", c)
	}
}

func TestEvaluate(t *testing.T) {
	ps := []authv1.AuthPolicy{pol("security", "web-apps-policy", nil, authv1.AuthPolicySpec{
		AllowedGrantTypes:    []authv1.GrantType{"authorization_code", "refresh_token"},
		AllowedScopes:        []string{"openid", "profile", "email", "api:read", "api:write"},
		ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic},
	})}
	ac := func(spec authv1.AuthClientSpec) *authv1.AuthClient {
		return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}, Spec: spec}
	}
	for _, tc := range []struct {
		name string
		spec authv1.AuthClientSpec
		want []string
	}{
		{"compliant", authv1.AuthClientSpec{Scopes: []string{"openid", "api:read"}}, nil},
		{"grant types left open are filled in, not refused", authv1.AuthClientSpec{}, nil},
		{"forbidden scope", authv1.AuthClientSpec{Scopes: []string{"openid", "profile", "email", "api:admin"}},
			[]string{`spec.scopes[3] "api:admin" is not allowed by AuthPolicy security/web-apps-policy (allowed: openid, profile, email, api:read, api:write)`}},
		{"forbidden grant", authv1.AuthClientSpec{GrantTypes: []authv1.GrantType{"authorization_code", "client_credentials"}},
			[]string{`spec.grantTypes[1] "client_credentials" is not allowed by AuthPolicy security/web-apps-policy (allowed: authorization_code, refresh_token)`}},
		{"public client where a method is required", authv1.AuthClientSpec{ClientType: authv1.ClientTypePublic},
			[]string{`spec.clientType "Public" (no client authentication) is not allowed by AuthPolicy security/web-apps-policy, which requires the client_secret_basic authentication method`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Evaluate(ac(tc.spec), ps)
			if len(vs) != len(tc.want) {
				t.Fatalf("violations %v, want %v", vs, tc.want)
			}
			for i, v := range vs {
				if v.Message != tc.want[i] || !strings.HasPrefix(v.Message, v.Field.String()) || v.Policy != "security/web-apps-policy" {
					t.Errorf("violation %+v, want %q", v, tc.want[i])
				}
			}
		})
	}
	if vs := Evaluate(ac(authv1.AuthClientSpec{Scopes: []string{"anything"}}), nil); vs != nil {
		t.Errorf("no policy, no violation: %v", vs)
	}
}

func TestEvaluateGrantDefaultsAndUnsupportedMethods(t *testing.T) {
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}}
	vs := Evaluate(ac, []authv1.AuthPolicy{pol("security", "svc-only", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"client_credentials"}})})
	if len(vs) != 1 || vs[0].Field.String() != "spec.grantTypes" || !strings.Contains(vs[0].Message, "none of the default grant types") {
		t.Errorf("omitted grant types with no default allowed: %v", vs)
	}
	// Each policy allows a default, but not the same one: together they
	// allow none, and the client would have no grant type at all.
	vs = Evaluate(ac, []authv1.AuthPolicy{
		pol("security", "a", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"authorization_code", "client_credentials"}}),
		pol("security", "b", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"refresh_token", "client_credentials"}}),
	})
	if len(vs) != 1 || vs[0].Field.String() != "spec.grantTypes" || vs[0].Policy != "security/a, security/b" ||
		!strings.Contains(vs[0].Message, "AuthPolicies security/a, security/b together") {
		t.Errorf("omitted grant types, no default allowed by the policies together: %v", vs)
	}
	if eff, _ := Combine([]authv1.AuthPolicy{
		pol("security", "a", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"authorization_code", "client_credentials"}}),
		pol("security", "c", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"authorization_code", "refresh_token"}}),
	}); len(eff.AllowedGrantTypes) != 1 {
		t.Errorf("combined %v", eff.AllowedGrantTypes)
	}
	vs = Evaluate(ac, []authv1.AuthPolicy{
		pol("security", "a", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"authorization_code", "client_credentials"}}),
		pol("security", "c", nil, authv1.AuthPolicySpec{AllowedGrantTypes: []authv1.GrantType{"authorization_code", "refresh_token"}}),
	})
	if len(vs) != 0 {
		t.Errorf("a default both allow (authorization_code) is no violation: %v", vs)
	}
	vs = Evaluate(ac, []authv1.AuthPolicy{pol("security", "pkjwt", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthPrivateKey}})})
	if len(vs) != 1 || !strings.Contains(vs[0].Message, "private_key_jwt") {
		t.Errorf("private_key_jwt cannot be applied yet: %v", vs)
	}
}

// service_account_token is enforced both ways: a client with a secret
// breaks a policy that requires it, a secretless client one that requires a
// secret method, and a Public client any method. Every one of them is an
// authentication violation, whatever field it names.
func TestEvaluateServiceAccountToken(t *testing.T) {
	method := func(m authv1.ClientAuthenticationMethod) []authv1.AuthPolicy {
		return []authv1.AuthPolicy{pol("security", "p", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: m}})}
	}
	withSecret := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}}
	secretless := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"},
		Spec: authv1.AuthClientSpec{ServiceAccount: &authv1.ServiceAccountReference{Name: "app"}}}
	public := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}, Spec: authv1.AuthClientSpec{ClientType: authv1.ClientTypePublic}}
	for _, tc := range []struct {
		name   string
		ac     *authv1.AuthClient
		m      authv1.ClientAuthenticationMethod
		field  string
		phrase string
	}{
		{"secretless under service_account_token", secretless, authv1.ClientAuthServiceAccountToken, "", ""},
		{"a secret under service_account_token", withSecret, authv1.ClientAuthServiceAccountToken, "spec.serviceAccount", "requires service_account_token"},
		{"secretless under client_secret_basic", secretless, authv1.ClientAuthSecretBasic, "spec.serviceAccount", "requires the client_secret_basic authentication method"},
		{"secretless under client_secret_jwt", secretless, authv1.ClientAuthSecretJWT, "spec.serviceAccount", "requires the client_secret_jwt authentication method"},
		{"secretless under private_key_jwt", secretless, authv1.ClientAuthPrivateKey, "spec.serviceAccount", "requires the private_key_jwt authentication method"},
		{"public under service_account_token", public, authv1.ClientAuthServiceAccountToken, "spec.clientType", "requires the service_account_token authentication method"},
		{"a secret under client_secret_post", withSecret, authv1.ClientAuthSecretPost, "", ""},
	} {
		vs := Evaluate(tc.ac, method(tc.m))
		if got, want := ViolatesAuthentication(vs), tc.field != ""; got != want {
			t.Errorf("%s: ViolatesAuthentication %v, want %v", tc.name, got, want)
		}
		if tc.field == "" {
			if len(vs) != 0 {
				t.Errorf("%s: violations %v", tc.name, vs)
			}
			continue
		}
		if len(vs) != 1 || vs[0].Field.String() != tc.field || !strings.Contains(vs[0].Message, tc.phrase) || !strings.Contains(vs[0].Message, "security/p") {
			t.Errorf("%s: violations %v, want one on %s saying %q", tc.name, vs, tc.field, tc.phrase)
		}
	}
}

// The authentication violation is keyed on the rule, for every client type
// and method, not on the field it names; Consequence never says a client
// was brought into line when its violation is one the reconciler leaves.
func TestAuthenticationViolationsAndTheirConsequence(t *testing.T) {
	method := func(m authv1.ClientAuthenticationMethod) []authv1.AuthPolicy {
		return []authv1.AuthPolicy{pol("security", "p", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: m}})}
	}
	clientOf := func(ct authv1.ClientType, sa bool) *authv1.AuthClient {
		ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}, Spec: authv1.AuthClientSpec{ClientType: ct}}
		if sa {
			ac.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: "app"}
		}
		return ac
	}
	for _, m := range []authv1.ClientAuthenticationMethod{authv1.ClientAuthSecretBasic, authv1.ClientAuthSecretPost, authv1.ClientAuthSecretJWT, authv1.ClientAuthPrivateKey, authv1.ClientAuthServiceAccountToken} {
		for _, tc := range []struct {
			ac   *authv1.AuthClient
			want bool
			keep string
		}{
			{clientOf(authv1.ClientTypePublic, false), true, "stays a public client"},
			{clientOf("", false), m == authv1.ClientAuthPrivateKey || m == authv1.ClientAuthServiceAccountToken, "keeps authenticating with its client secret"},
			{clientOf(authv1.ClientTypeConfidential, true), m != authv1.ClientAuthServiceAccountToken, "keeps authenticating with its service-account token"},
		} {
			vs := Evaluate(tc.ac, method(m))
			name := fmt.Sprintf("%s client (secretless %v) under %s", tc.ac.Spec.ClientType, tc.ac.Secretless(), m)
			if got := ViolatesAuthentication(vs); got != tc.want {
				t.Errorf("%s: ViolatesAuthentication %v, want %v (%v)", name, got, tc.want, vs)
				continue
			}
			c := Consequence(vs)
			if !tc.want {
				if c != "" {
					t.Errorf("%s: consequence %q without a violation", name, c)
				}
				continue
			}
			if vs[0].Rule != RuleAuthentication || !strings.Contains(c, "not brought into line") || !strings.Contains(c, tc.keep) || strings.Contains(c, "switched off") {
				t.Errorf("%s: violation %+v, consequence %q", name, vs[0], c)
			}
		}
	}
	// A scope violation next to an authentication one: each consequence is told.
	ps := []authv1.AuthPolicy{pol("security", "p", nil, authv1.AuthPolicySpec{AllowedScopes: []string{"openid"}, ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic}})}
	ac := clientOf(authv1.ClientTypePublic, false)
	ac.Spec.Scopes = []string{"openid", "email"}
	vs := Evaluate(ac, ps)
	c := Consequence(vs)
	if len(vs) != 2 || vs[0].Rule != RuleScopes || vs[1].Rule != RuleAuthentication || !strings.Contains(c, "switched off") || !strings.Contains(c, "stays a public client") {
		t.Errorf("violations %+v, consequence %q", vs, c)
	}
}

// An empty policySelector ({}) selects every AuthPolicy of the AuthServer's
// namespace, as an empty label selector does everywhere in Kubernetes; an
// omitted one selects none.
func TestEmptyPolicySelectorSelectsEveryPolicyOfItsNamespace(t *testing.T) {
	all := []authv1.AuthPolicy{
		pol("security", "b-unlabelled", nil, authv1.AuthPolicySpec{}),
		pol("security", "a-labelled", map[string]string{"tier": "x"}, authv1.AuthPolicySpec{}),
		pol("team", "foreign", nil, authv1.AuthPolicySpec{}),
	}
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "s"}}
	if got := Select(as, all); got != nil {
		t.Errorf("omitted selector selected %v", got)
	}
	as.Spec.PolicySelector = &authv1.LabelSelector{}
	got := Select(as, all)
	if len(got) != 2 || Key(&got[0]) != "security/a-labelled" || Key(&got[1]) != "security/b-unlabelled" {
		t.Errorf("empty selector selected %v, want both policies of namespace security", got)
	}
}

// On update only violations the stored client did not have count; a
// value that moves in its list is the same violation.
func TestNewViolations(t *testing.T) {
	ps := []authv1.AuthPolicy{pol("security", "p", nil, authv1.AuthPolicySpec{AllowedScopes: []string{"openid"}})}
	mk := func(scopes ...string) *authv1.AuthClient {
		return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "c"}, Spec: authv1.AuthClientSpec{Scopes: scopes}}
	}
	old := mk("openid", "api:admin")
	for _, tc := range []struct {
		name string
		new  *authv1.AuthClient
		want []string
	}{
		{"same violation, moved", mk("api:admin", "openid"), nil},
		{"violation removed", mk("openid"), nil},
		{"a new one", mk("openid", "api:admin", "email"), []string{`spec.scopes[2] "email"`}},
	} {
		got := New(Evaluate(tc.new, ps), old, ps)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v", tc.name, got)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i].Message, tc.want[i]) {
				t.Errorf("%s: %q", tc.name, got[i].Message)
			}
		}
	}
	if got := New(Evaluate(old, ps), nil, ps); len(got) != 1 {
		t.Errorf("on create every violation counts: %v", got)
	}
}
