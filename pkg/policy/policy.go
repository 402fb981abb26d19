// Package policy is the one place where AuthPolicies are interpreted: which
// policies govern an AuthServer's clients (Select), what they add up to
// (Combine), and whether a client complies (Evaluate). The admission
// webhook and the reconcilers both call it, so a rule has one copy.
// Pure logic: no I/O.
package policy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Key names a policy in messages and status: <namespace>/<name>.
func Key(p *authv1.AuthPolicy) string { return p.Namespace + "/" + p.Name }

// Select returns the policies that govern the clients of as, sorted by
// name: those in the AuthServer's own namespace (an app team must not be
// able to label a policy of its own into force) whose labels match its
// policySelector. No selector selects nothing; an empty one ({}) selects
// every policy of the namespace, the Kubernetes convention. A selector that
// cannot be parsed (stored before admission refused it) selects nothing;
// the AuthServer reports it.
func Select(as *authv1.AuthServer, all []authv1.AuthPolicy) []authv1.AuthPolicy {
	if as.Spec.PolicySelector == nil {
		return nil
	}
	sel, err := as.Spec.PolicySelector.AsSelector()
	if err != nil {
		return nil
	}
	var out []authv1.AuthPolicy
	for _, p := range all {
		if p.Namespace == as.Namespace && p.DeletionTimestamp.IsZero() && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Selects reports whether as's policySelector selects p (same namespace,
// matching labels).
func Selects(as *authv1.AuthServer, p *authv1.AuthPolicy) bool {
	return len(Select(as, []authv1.AuthPolicy{*p})) == 1
}

// Effective is what several policies add up to: the strictest of each.
// A nil allowed list allows everything.
type Effective struct {
	// Policies are the keys of the combined policies, sorted.
	Policies []string
	// AllowedGrantTypes is the intersection of the policies' lists.
	AllowedGrantTypes []authv1.GrantType
	// AllowedScopes is the intersection of the policies' lists.
	AllowedScopes []string
	// EnforcePKCE is set if any policy enforces PKCE.
	EnforcePKCE bool
	// AccessTokenTTL, RefreshTokenTTL and IDTokenTTL are the smallest set; zero when none is.
	AccessTokenTTL, RefreshTokenTTL, IDTokenTTL time.Duration
	// Method is the one authentication method the policies require, if any.
	Method authv1.ClientAuthenticationMethod
	// Rotation is the secret rotation the policies enable; nil when none does.
	Rotation *Rotation
	// RoleGrants limits role grants across namespaces; nil when no policy
	// does (AllowedRoleGrant).
	RoleGrants *RoleGrantLimits
	// Claims limits custom claims; nil when no policy does (AllowedClaim).
	Claims *ClaimLimits
}

// Governed reports whether any policy applies.
func (e Effective) Governed() bool { return len(e.Policies) > 0 }

// Conflict says that two policies of one AuthServer contradict each other.
type Conflict struct {
	Field   string
	Message string
	// Policies are the keys of the policies that contradict each other.
	Policies []string
}

// Combine adds policies up to the strictest settings. Contradictions that
// have no strictest answer (two different authentication methods, allowed
// lists without a common element) are returned as conflicts, never
// resolved silently.
func Combine(ps []authv1.AuthPolicy) (Effective, []Conflict) {
	var e Effective
	var conflicts []Conflict
	methodFrom := ""
	grantsSet, scopesSet := false, false
	var grantsFrom, scopesFrom []string
	for i := range ps {
		p := &ps[i]
		k := Key(p)
		e.Policies = append(e.Policies, k)
		s := p.Spec
		if r := rotationOf(p); r != nil {
			switch {
			case e.Rotation == nil:
				e.Rotation = r
			case e.Rotation.Schedule != r.Schedule || e.Rotation.GracePeriod != r.GracePeriod:
				conflicts = append(conflicts, Conflict{Field: "spec.clientAuthentication.secretRotation", Policies: []string{e.Rotation.Policy, k},
					Message: fmt.Sprintf("AuthPolicy %s rotates secrets on schedule %q and AuthPolicy %s on schedule %q (or with another gracePeriod); a client secret can follow one schedule", e.Rotation.Policy, e.Rotation.Schedule, k, r.Schedule)})
			}
		}
		if s.AllowedGrantTypes != nil {
			e.AllowedGrantTypes = intersect(e.AllowedGrantTypes, s.AllowedGrantTypes, !grantsSet)
			grantsSet = true
			grantsFrom = append(grantsFrom, k)
		}
		if s.AllowedScopes != nil {
			e.AllowedScopes = intersect(e.AllowedScopes, s.AllowedScopes, !scopesSet)
			scopesSet = true
			scopesFrom = append(scopesFrom, k)
		}
		e.EnforcePKCE = e.EnforcePKCE || s.EnforcePKCE
		e.RoleGrants = combineRoleGrants(e.RoleGrants, s.RoleGrants)
		e.Claims = combineClaims(e.Claims, s.Claims)
		if t := s.Token; t != nil {
			e.AccessTokenTTL = minSet(e.AccessTokenTTL, t.AccessTokenTTL)
			e.RefreshTokenTTL = minSet(e.RefreshTokenTTL, t.RefreshTokenTTL)
			e.IDTokenTTL = minSet(e.IDTokenTTL, t.IDTokenTTL)
		}
		if ca := s.ClientAuthentication; ca != nil && ca.Method != "" {
			switch {
			case e.Method == "":
				e.Method, methodFrom = ca.Method, k
			case e.Method != ca.Method:
				conflicts = append(conflicts, Conflict{Field: "spec.clientAuthentication.method", Policies: []string{methodFrom, k},
					Message: fmt.Sprintf("AuthPolicy %s requires %s and AuthPolicy %s requires %s", methodFrom, e.Method, k, ca.Method)})
			}
		}
	}
	sort.Strings(e.Policies)
	if len(grantsFrom) > 1 && len(e.AllowedGrantTypes) == 0 {
		conflicts = append(conflicts, Conflict{Field: "spec.allowedGrantTypes", Policies: grantsFrom, Message: "the allowedGrantTypes of AuthPolicies " + strings.Join(grantsFrom, ", ") + " have no grant type in common"})
	}
	if len(scopesFrom) > 1 && len(e.AllowedScopes) == 0 {
		conflicts = append(conflicts, Conflict{Field: "spec.allowedScopes", Policies: scopesFrom, Message: "the allowedScopes of AuthPolicies " + strings.Join(scopesFrom, ", ") + " have no scope in common"})
	}
	return e, conflicts
}

// intersect returns a ∩ b, or a copy of b when first (nothing to intersect with yet).
func intersect[T comparable](a, b []T, first bool) []T {
	if first {
		return slices.Clone(b)
	}
	out := []T{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func minSet(cur time.Duration, d *metav1.Duration) time.Duration {
	if d == nil {
		return cur
	}
	v := d.Duration
	if cur == 0 || v < cur {
		return v
	}
	return cur
}

// DefaultGrantTypes apply when an AuthClient lists none (the same as
// desired.DefaultGrantTypes, which cannot be imported here without a cycle).
var DefaultGrantTypes = []authv1.GrantType{authv1.GrantTypeAuthorizationCode, authv1.GrantTypeRefreshToken}

// Rule names the kind of rule a violation breaks, so that callers decide
// by the rule, never by a field path.
type Rule string

const (
	// RuleGrantTypes: a grant type the policy does not allow, or grant
	// types left to the defaults when the policy allows none of them.
	RuleGrantTypes Rule = "GrantTypes"
	// RuleScopes: a scope the policy does not allow.
	RuleScopes Rule = "Scopes"
	// RuleAuthentication: the client authenticates (or, Public, does not)
	// other than the policy's clientAuthentication.method requires.
	RuleAuthentication Rule = "Authentication"
)

// Violation is one way an AuthClient breaks a policy.
type Violation struct {
	// Rule is the kind of rule broken.
	Rule Rule
	// Field is the offending field, such as spec.scopes[3].
	Field *field.Path
	// Policy is the key of the policy that forbids it.
	Policy string
	// Message says it all, for conditions, Events and admission responses.
	// It states the rule only, never what the reconciler did about it
	// (Consequence says that), so it is true at admission too.
	Message string
	// keeps says how a Keycloak client that breaks an authentication
	// rule goes on authenticating (for Consequence).
	keeps string
}

// Evaluate returns how ac breaks the policies, each violation naming the
// field and the policy, in a stable order. What the client leaves open
// (grant types omitted) is not a violation: the policy fills it in.
func Evaluate(ac *authv1.AuthClient, ps []authv1.AuthPolicy) []Violation {
	var out []Violation
	for i := range ps {
		p := &ps[i]
		k := Key(p)
		s := p.Spec
		if s.AllowedGrantTypes != nil {
			for j, g := range ac.Spec.GrantTypes {
				if !slices.Contains(s.AllowedGrantTypes, g) {
					out = append(out, Violation{Rule: RuleGrantTypes, Field: field.NewPath("spec", "grantTypes").Index(j), Policy: k,
						Message: fmt.Sprintf("spec.grantTypes[%d] %q is not allowed by AuthPolicy %s (allowed: %s)", j, g, k, join(s.AllowedGrantTypes))})
				}
			}
		}
		if s.AllowedScopes != nil {
			for j, sc := range ac.Spec.Scopes {
				if !slices.Contains(s.AllowedScopes, sc) {
					out = append(out, Violation{Rule: RuleScopes, Field: field.NewPath("spec", "scopes").Index(j), Policy: k,
						Message: fmt.Sprintf("spec.scopes[%d] %q is not allowed by AuthPolicy %s (allowed: %s)", j, sc, k, strings.Join(s.AllowedScopes, ", "))})
				}
			}
		}
		if ca := s.ClientAuthentication; ca != nil && ca.Method != "" {
			if v, ok := methodViolation(ac, k, ca.Method); ok {
				out = append(out, v)
			}
		}
		out = append(out, roleGrantViolations(ac, k, s.RoleGrants)...)
		out = append(out, claimViolations(ac, k, s.Claims)...)
	}
	if v, ok := omittedGrants(ac, ps); ok {
		out = append(out, v)
	}
	return out
}

// omittedGrants checks a client that omits spec.grantTypes against what
// all its policies allow together (each may allow a default the others do
// not: the defaults that remain are those all of them allow), so that it
// is never left with no grant type at all.
func omittedGrants(ac *authv1.AuthClient, ps []authv1.AuthPolicy) (Violation, bool) {
	if len(ac.Spec.GrantTypes) > 0 {
		return Violation{}, false
	}
	left := slices.Clone(DefaultGrantTypes)
	var from, allowed []string
	for i := range ps {
		if a := ps[i].Spec.AllowedGrantTypes; a != nil {
			left = slices.DeleteFunc(left, func(g authv1.GrantType) bool { return !slices.Contains(a, g) })
			from = append(from, Key(&ps[i]))
			allowed = append(allowed, Key(&ps[i])+": "+join(a))
		}
	}
	if len(from) == 0 || len(left) > 0 {
		return Violation{}, false
	}
	what := "AuthPolicy " + from[0]
	if len(from) > 1 {
		what = "AuthPolicies " + strings.Join(from, ", ") + " together"
	}
	return Violation{Rule: RuleGrantTypes, Field: field.NewPath("spec", "grantTypes"), Policy: strings.Join(from, ", "),
		Message: fmt.Sprintf("spec.grantTypes is omitted, and none of the default grant types (%s) is allowed by %s (allowed: %s): list the grant types this client needs", join(DefaultGrantTypes), what, strings.Join(allowed, "; "))}, true
}

// ViolatesAuthentication says whether a violation is about how the client
// authenticates (a secret, a service-account token, or none for a Public
// client), as opposed to what it may do. A client that does not exist yet
// is not created while it does: whatever it would be created with is
// what the policy forbids.
func ViolatesAuthentication(vs []Violation) bool {
	return slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == RuleAuthentication })
}

// Consequence says, truthfully, what the reconciler does about vs to a
// Keycloak client that exists: forbidden grant types and scopes are
// switched off (the client is brought into line), forbidden role grants
// and claims are not applied (or are removed), an authentication method
// is never switched (its workloads would be locked out), so a client that
// breaks that rule is not in line and the message says so. Empty for no
// violations.
func Consequence(vs []Violation) string {
	var parts []string
	if slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == RuleGrantTypes || v.Rule == RuleScopes }) {
		parts = append(parts, "the grant types and scopes the policies forbid are switched off in the Keycloak client")
	}
	parts = append(parts, governanceConsequences(vs)...)
	for _, v := range vs {
		if v.Rule == RuleAuthentication {
			parts = append(parts, "its authentication method is not brought into line: the Keycloak client "+v.keeps)
			break
		}
	}
	return strings.Join(parts, "; ")
}

// methodViolation says how ac's authentication breaks a policy's method m,
// whatever the client's type. The client is never switched to a method it
// cannot use: a Public client stays public, one with a secret keeps it, a
// secretless one keeps its service-account token.
func methodViolation(ac *authv1.AuthClient, k string, m authv1.ClientAuthenticationMethod) (Violation, bool) {
	v := Violation{Rule: RuleAuthentication, Policy: k}
	switch {
	case ac.Spec.ClientType == authv1.ClientTypePublic:
		v.Field, v.keeps = field.NewPath("spec", "clientType"), "stays a public client (no client authentication)"
		v.Message = fmt.Sprintf("spec.clientType \"Public\" (no client authentication) is not allowed by AuthPolicy %s, which requires the %s authentication method", k, m)
	case m == authv1.ClientAuthServiceAccountToken && !ac.Secretless():
		v.Field, v.keeps = field.NewPath("spec", "serviceAccount"), "keeps authenticating with its client secret"
		v.Message = fmt.Sprintf("AuthPolicy %s requires service_account_token (secretless: workloads authenticate with a Kubernetes service-account token): set spec.serviceAccount to the workload's ServiceAccount", k)
	case m != authv1.ClientAuthServiceAccountToken && ac.Secretless():
		v.Field, v.keeps = field.NewPath("spec", "serviceAccount"), "keeps authenticating with its service-account token"
		v.Message = fmt.Sprintf("spec.serviceAccount (authentication with a service-account token) is not allowed by AuthPolicy %s, which requires the %s authentication method", k, m)
	case m == authv1.ClientAuthPrivateKey:
		v.Field, v.keeps = field.NewPath("spec", "clientType"), "keeps authenticating with its client secret"
		v.Message = fmt.Sprintf("spec.clientType \"Confidential\" (a client secret) is not allowed by AuthPolicy %s, which requires private_key_jwt: that needs the client's public keys (a JWKS URL), which an AuthClient cannot provide yet", k)
	default:
		return Violation{}, false
	}
	return v, true
}

func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// New returns the violations of vs that old (the stored client, nil on
// create) did not already have under the same policies. A violation is
// the same when it breaks the same rule of the same policy with the same
// value: its message without the list index, since an edit elsewhere in
// a list moves the index of an offending value that stays.
func New(vs []Violation, old *authv1.AuthClient, ps []authv1.AuthPolicy) []Violation {
	if old == nil {
		return vs
	}
	had := map[string]bool{}
	for _, v := range Evaluate(old, ps) {
		had[sameKey(v)] = true
	}
	var out []Violation
	for _, v := range vs {
		if !had[sameKey(v)] {
			out = append(out, v)
		}
	}
	return out
}

// listIndex matches the index of an element in a field path, "[3]".
var listIndex = regexp.MustCompile(`\[\d+\]`)

func sameKey(v Violation) string {
	return string(v.Rule) + "\x00" + v.Policy + "\x00" + listIndex.ReplaceAllString(v.Message, "[]")
}

// Message joins violations for a condition or an admission response.
func Message(vs []Violation) string {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Message
	}
	return strings.Join(msgs, "; ")
}
