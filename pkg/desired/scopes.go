package desired

import (
	"slices"

	"github.com/Nerzal/gocloak/v14"
)

// BuiltinScopes are the OIDC standard scopes Keycloak ships as client scopes.
var BuiltinScopes = []string{"profile", "email", "address", "phone", "offline_access"}

// technicalScopes are client scopes Keycloak assigns to make tokens work
// (audience, roles, session state, CORS origins). The operator keeps them as
// Keycloak set them and never counts them as drift.
var technicalScopes = []string{"acr", "basic", "roles", "web-origins", "microprofile-jwt", "organization", "service_account"}

// IsTechnicalScope reports whether Keycloak manages the scope itself.
func IsTechnicalScope(name string) bool { return slices.Contains(technicalScopes, name) }

// RequestedScopes splits an AuthClient's scopes into Keycloak default and
// optional client scopes. openid is not a client scope in Keycloak: every
// OIDC request has it. offline_access is optional, as in Keycloak.
func RequestedScopes(scopes []string) (def, opt []string) {
	for _, s := range scopes {
		switch s {
		case "openid":
		case "offline_access":
			opt = append(opt, s)
		default:
			def = append(def, s)
		}
	}
	return def, opt
}

// CustomScopes returns the requested scopes that are not built into Keycloak
// and must exist in the realm before a client can have them.
func CustomScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if s != "openid" && !slices.Contains(BuiltinScopes, s) && !IsTechnicalScope(s) {
			out = append(out, s)
		}
	}
	return out
}

// ScopeChange is one assignment or removal of a client scope.
type ScopeChange struct {
	Name     string
	Optional bool
	Add      bool
}

// GovernedScopes are the scopes a client gets under a policy's allowed
// scopes (nil: no such policy): the requested ones that are allowed. A
// client that requests none gets the allowed ones among Keycloak's usual
// defaults (profile, email) instead of the realm's defaults, which may hold
// scopes the policy forbids (offline_access, address, phone). The result is
// never nil under a policy: an empty list means "no scope at all" and makes
// ScopePlan remove every assigned one.
func GovernedScopes(requested, allowed []string) []string {
	if allowed == nil {
		if len(requested) == 0 {
			return nil // ungoverned and none asked for: the realm's defaults, as always
		}
		return requested
	}
	if len(requested) == 0 {
		requested = []string{"openid", "profile", "email"}
	}
	out := []string{}
	for _, s := range requested {
		if slices.Contains(allowed, s) {
			out = append(out, s)
		}
	}
	return out
}

// ScopePlan lists the changes that make a client's assigned scopes match
// the requested ones. With nil (no scopes requested, no policy), the
// operator leaves Keycloak's realm defaults alone; an empty, non-nil list
// removes every assigned scope. Technical scopes are never touched.
func ScopePlan(requested []string, actual gocloak.Client) []ScopeChange {
	if requested == nil {
		return nil
	}
	wantDef, wantOpt := RequestedScopes(requested)
	var plan []ScopeChange
	// Removals first: a scope cannot be default and optional at once.
	for _, s := range actual.DefaultClientScopes {
		if !IsTechnicalScope(s) && !slices.Contains(wantDef, s) {
			plan = append(plan, ScopeChange{Name: s, Optional: false, Add: false})
		}
	}
	for _, s := range actual.OptionalClientScopes {
		if !IsTechnicalScope(s) && !slices.Contains(wantOpt, s) {
			plan = append(plan, ScopeChange{Name: s, Optional: true, Add: false})
		}
	}
	for _, s := range wantDef {
		if !slices.Contains(actual.DefaultClientScopes, s) {
			plan = append(plan, ScopeChange{Name: s, Optional: false, Add: true})
		}
	}
	for _, s := range wantOpt {
		if !slices.Contains(actual.OptionalClientScopes, s) {
			plan = append(plan, ScopeChange{Name: s, Optional: true, Add: true})
		}
	}
	return plan
}

// CreateScopes returns the default and optional scope lists to send when
// creating a client, so that it starts with exactly the requested scopes
// plus the technical ones the realm has. nil, nil leaves Keycloak's realm
// defaults (no scopes requested).
func CreateScopes(requested []string, realmScopes []string) (def, opt []string) {
	if requested == nil {
		return nil, nil
	}
	def, opt = RequestedScopes(requested)
	for _, s := range []string{"acr", "basic", "roles", "web-origins"} {
		if slices.Contains(realmScopes, s) {
			def = append(def, s)
		}
	}
	if opt == nil {
		opt = []string{}
	}
	return def, opt
}

// ClientScope is the realm client scope created for a custom scope that an
// AuthClient requests (such as api:read): an OpenID Connect scope that
// appears in the token's scope claim.
func ClientScope(name string) gocloak.ClientScope {
	return gocloak.ClientScope{
		Name:        gocloak.StringP(name),
		Description: gocloak.StringP("Created by Nauthera for AuthClients that request it"),
		Protocol:    gocloak.StringP(ProtocolOIDC),
		ClientScopeAttributes: &gocloak.ClientScopeAttributes{
			IncludeInTokenScope: gocloak.StringP("true"),
		},
	}
}
