package policy

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// This file holds the rules for what a client may hold and say beyond its
// own Keycloak client: roles granted across namespaces (spec.roleGrants)
// and custom claims (spec.claims). Evaluate reports their violations (the
// webhook refuses them, the reconciler reports PolicyViolation); the
// reconcile steps that grant roles and create mappers ask AllowedRoleGrant
// and AllowedClaim, which decide from the combined policies exactly as
// Evaluate does from each, so that what is reported and what is applied
// cannot disagree.

const (
	// RuleRoleGrants: a role grant across namespaces the policy forbids.
	RuleRoleGrants Rule = "RoleGrants"
	// RuleClaims: a custom claim the policy forbids (any claim, its type,
	// or a token it reaches).
	RuleClaims Rule = "Claims"
)

// RoleGrantLimits is what the policies' roleGrants add up to: every limit
// of every policy. A nil list allows any; an empty one none.
type RoleGrantLimits struct {
	// Forbidden: some policy forbids role grants across namespaces.
	Forbidden bool
	// GranteeNamespaces are the namespaces whose clients may be granted
	// roles of another namespace's clients (the intersection).
	GranteeNamespaces []string
	// Roles are the roles that may be granted across namespaces (the
	// intersection).
	Roles []string
}

// ClaimLimits is what the policies' claims add up to. A nil list allows
// any; an empty one none.
type ClaimLimits struct {
	// Forbidden: some policy forbids custom claims.
	Forbidden bool
	// Types are the claim types allowed (the intersection).
	Types []authv1.ClaimType
	// Tokens are the tokens claims may reach (the intersection).
	Tokens []authv1.TokenType
}

// combineRoleGrants adds r to l (nil: no policy limited grants yet).
func combineRoleGrants(l *RoleGrantLimits, r *authv1.RoleGrantPolicy) *RoleGrantLimits {
	if r == nil {
		return l
	}
	if l == nil {
		l = &RoleGrantLimits{}
	}
	l.Forbidden = l.Forbidden || r.AcrossNamespaces == authv1.Forbidden
	l.GranteeNamespaces = narrow(l.GranteeNamespaces, r.GranteeNamespaces)
	l.Roles = narrow(l.Roles, r.Roles)
	return l
}

// combineClaims adds c to l (nil: no policy limited claims yet).
func combineClaims(l *ClaimLimits, c *authv1.ClaimPolicy) *ClaimLimits {
	if c == nil {
		return l
	}
	if l == nil {
		l = &ClaimLimits{}
	}
	l.Forbidden = l.Forbidden || c.Custom == authv1.Forbidden
	l.Types = narrow(l.Types, c.AllowedTypes)
	l.Tokens = narrow(l.Tokens, c.AllowedTokens)
	return l
}

// narrow intersects an allowed list with another, nil meaning "any" on
// either side; the result is nil only when both are.
func narrow[T comparable](cur, next []T) []T {
	switch {
	case next == nil:
		return cur
	case cur == nil:
		return slices.Clone(next)
	}
	return intersect(cur, next, false)
}

// allows says whether an allowed list (nil: any) holds x.
func allows[T comparable](list []T, x T) bool { return list == nil || slices.Contains(list, x) }

// AllowedRoleGrant says whether the policies eff let a client in
// granteeNS be granted role of a client in apiNS. A grant within one
// namespace is always allowed (one team owns both clients). The API's own
// consent (spec.roleGrantAccess) is a separate check.
func AllowedRoleGrant(eff Effective, granteeNS, apiNS, role string) bool {
	l := eff.RoleGrants
	if l == nil || granteeNS == apiNS {
		return true
	}
	return !l.Forbidden && allows(l.GranteeNamespaces, granteeNS) && allows(l.Roles, role)
}

// AllowedGrantRoles returns the roles of g, a grant in ac's
// spec.roleGrants, that the policies eff let its service account hold, in
// the order of g.Roles: the grants step gives these and takes away the
// rest.
func AllowedGrantRoles(eff Effective, ac *authv1.AuthClient, g authv1.RoleGrant) []string {
	apiNS := g.Client.In(ac.Namespace).Namespace
	var out []string
	for _, role := range g.Roles {
		if AllowedRoleGrant(eff, ac.Namespace, apiNS, role) {
			out = append(out, role)
		}
	}
	return out
}

// AllowedClaim says whether the policies eff let a client declare c: its
// type and every token it reaches allowed. A claim that is not allowed is
// not put into any token (its mapper is not created, or is removed): a
// claim is never applied in part.
func AllowedClaim(eff Effective, c authv1.Claim) bool {
	l := eff.Claims
	if l == nil {
		return true
	}
	if l.Forbidden || !allows(l.Types, c.Type) {
		return false
	}
	for _, t := range c.Tokens {
		if !allows(l.Tokens, t) {
			return false
		}
	}
	return true
}

// roleGrantViolations reports how ac's spec.roleGrants break the policy p
// (key k): per grant, a client in another namespace the policy does not
// allow at all (named once), else each role it does not allow across
// namespaces. Messages repeat only what the client and the policy say:
// nothing about the other namespace's objects.
func roleGrantViolations(ac *authv1.AuthClient, k string, r *authv1.RoleGrantPolicy) []Violation {
	if r == nil {
		return nil
	}
	var out []Violation
	for i, g := range ac.Spec.RoleGrants {
		target := g.Client.In(ac.Namespace)
		if target.Namespace == ac.Namespace {
			continue
		}
		path := field.NewPath("spec", "roleGrants").Index(i)
		switch {
		case r.AcrossNamespaces == authv1.Forbidden:
			out = append(out, Violation{Rule: RuleRoleGrants, Field: path.Child("client"), Policy: k,
				Message: fmt.Sprintf("spec.roleGrants[%d].client %s is in another namespace, and AuthPolicy %s forbids role grants across namespaces", i, target, k)})
			continue
		case !allows(r.GranteeNamespaces, ac.Namespace):
			out = append(out, Violation{Rule: RuleRoleGrants, Field: path.Child("client"), Policy: k,
				Message: fmt.Sprintf("spec.roleGrants[%d].client %s is in another namespace, and AuthPolicy %s allows role grants across namespaces only to AuthClients in namespaces %s", i, target, k, strings.Join(r.GranteeNamespaces, ", "))})
			continue
		}
		for j, role := range g.Roles {
			if !allows(r.Roles, role) {
				out = append(out, Violation{Rule: RuleRoleGrants, Field: path.Child("roles").Index(j), Policy: k,
					Message: fmt.Sprintf("spec.roleGrants[%d].roles[%d] %q of AuthClient %s may not be granted across namespaces by AuthPolicy %s (allowed across namespaces: %s)", i, j, role, target, k, strings.Join(r.Roles, ", "))})
			}
		}
	}
	return out
}

// claimViolations reports how ac's spec.claims break the policy p (key
// k): each claim when custom claims are forbidden, else each claim of a
// type it does not allow and each token a claim reaches that it does not
// allow.
func claimViolations(ac *authv1.AuthClient, k string, c *authv1.ClaimPolicy) []Violation {
	if c == nil {
		return nil
	}
	var out []Violation
	for i, cl := range ac.Spec.Claims {
		path := field.NewPath("spec", "claims").Index(i)
		what := claimName(cl)
		if c.Custom == authv1.Forbidden {
			out = append(out, Violation{Rule: RuleClaims, Field: path, Policy: k,
				Message: fmt.Sprintf("spec.claims[%d] (claim %s): AuthPolicy %s forbids custom claims", i, what, k)})
			continue
		}
		if !allows(c.AllowedTypes, cl.Type) {
			out = append(out, Violation{Rule: RuleClaims, Field: path.Child("type"), Policy: k,
				Message: fmt.Sprintf("spec.claims[%d].type %q (claim %s) is not allowed by AuthPolicy %s (allowed: %s)", i, cl.Type, what, k, join(c.AllowedTypes))})
		}
		for j, t := range cl.Tokens {
			if !allows(c.AllowedTokens, t) {
				out = append(out, Violation{Rule: RuleClaims, Field: path.Child("tokens").Index(j), Policy: k,
					Message: fmt.Sprintf("spec.claims[%d].tokens[%d] %q (claim %s) is not allowed by AuthPolicy %s (claims may reach: %s)", i, j, t, what, k, join(c.AllowedTokens))})
			}
		}
	}
	return out
}

// claimName names a claim in messages; a ClientRoles claim without a name
// goes to resource_access.
func claimName(c authv1.Claim) string {
	if c.Name == "" {
		return "resource_access (" + string(c.Type) + ")"
	}
	return fmt.Sprintf("%q", c.Name)
}

// governanceConsequences says what the reconciler does about role-grant
// and claim violations (for Consequence).
func governanceConsequences(vs []Violation) []string {
	var parts []string
	if slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == RuleRoleGrants }) {
		parts = append(parts, "the role grants the policies forbid are not given to its service account (or are taken away)")
	}
	if slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == RuleClaims }) {
		parts = append(parts, "the claims the policies forbid are kept out of its tokens (their mappers are not created, or are removed)")
	}
	return parts
}
