package desired

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"k8s.io/apimachinery/pkg/api/meta"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Secretless clients: a Keycloak identity provider of type kubernetes per
// realm trusts the cluster's service-account token issuer, and a client
// with the federated-JWT authenticator names that identity provider and the
// subject of one ServiceAccount. Keycloak finds the identity provider by
// the token's iss, then the client by (identity provider, sub).

const (
	// IdentityProviderAlias is the alias of the identity provider Nauthera
	// puts in a realm for service-account authentication.
	IdentityProviderAlias = "nauthera-kubernetes"
	// IdentityProviderType is Keycloak's provider id for Kubernetes issuers.
	IdentityProviderType = "kubernetes"
	// AuthenticatorFederatedJWT is Keycloak's client authenticator for a JWT
	// issued by a trusted identity provider.
	AuthenticatorFederatedJWT = "federated-jwt"
	// AttrJWTIssuer names the identity provider (its alias) whose tokens
	// authenticate a federated-JWT client.
	AttrJWTIssuer = "jwt.credential.issuer"
	// AttrJWTSubject is the token subject that authenticates it.
	AttrJWTSubject = "jwt.credential.sub"

	// idpIssuer, idpMaxAge are the identity provider's config keys: the
	// issuer (compared with the tokens' iss byte for byte) and the age in
	// seconds beyond which a token is refused.
	idpIssuer = "issuer"
	idpMaxAge = "fedClientAssertionMaxExp"

	// KeyTokenAudience is the Secret key (and template value) of a secretless
	// client: the audience its workloads request for their token.
	KeyTokenAudience = "token_audience"
)

// DefaultMaxTokenAge is Keycloak's and Kubernetes' default token lifetime.
const DefaultMaxTokenAge = time.Hour

// MaxTokenAge is the age beyond which the realm refuses a service-account token.
func MaxTokenAge(sa *authv1.ServiceAccountAuthentication) time.Duration {
	if sa == nil || sa.MaxTokenAge == nil || sa.MaxTokenAge.Duration <= 0 {
		return DefaultMaxTokenAge
	}
	return sa.MaxTokenAge.Duration.Round(time.Second)
}

// IdentityProvider is the identity provider an AuthServer's
// serviceAccountAuthentication asks for: trusting issuer, marked with its
// owner. The owner goes into the display name too, for the console.
func IdentityProvider(as *authv1.AuthServer, issuer string) gocloak.IdentityProviderRepresentation {
	owner := Owner(as.Namespace, as.Name)
	return gocloak.IdentityProviderRepresentation{
		Alias:       gocloak.StringP(IdentityProviderAlias),
		ProviderID:  gocloak.StringP(IdentityProviderType),
		DisplayName: gocloak.StringP(truncateRunes("Kubernetes service accounts (managed by Nauthera from AuthServer "+owner+")", KeycloakMaxLength)),
		Enabled:     gocloak.BoolP(true),
		HideOnLogin: gocloak.BoolP(true),
		Config: map[string]string{
			idpIssuer:     issuer,
			idpMaxAge:     strconv.FormatInt(int64(MaxTokenAge(as.Spec.ServiceAccountAuthentication)/time.Second), 10),
			AttrOwner:     owner,
			AttrOwnerKind: "AuthServer",
		},
	}
}

// IdentityProviderDiff names the managed fields of want that actual does not
// match. Empty means no write is needed.
func IdentityProviderDiff(want, actual gocloak.IdentityProviderRepresentation) []string {
	var d []string
	d = diffString(d, "providerId", want.ProviderID, actual.ProviderID)
	d = diffString(d, "displayName", want.DisplayName, actual.DisplayName)
	d = diffBool(d, "enabled", want.Enabled, actual.Enabled)
	keys := make([]string, 0, len(want.Config))
	for k := range want.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if want.Config[k] != actual.Config[k] {
			d = append(d, "config."+k)
		}
	}
	return d
}

// MergeIdentityProvider returns actual with the managed fields of want
// applied, keeping what an administrator set elsewhere (clock skew, …).
func MergeIdentityProvider(want, actual gocloak.IdentityProviderRepresentation) gocloak.IdentityProviderRepresentation {
	out := actual
	out.Alias, out.ProviderID, out.DisplayName, out.Enabled, out.HideOnLogin = want.Alias, want.ProviderID, want.DisplayName, want.Enabled, want.HideOnLogin
	out.Config = make(map[string]string, len(actual.Config)+len(want.Config))
	for k, v := range actual.Config {
		out.Config[k] = v
	}
	for k, v := range want.Config {
		out.Config[k] = v
	}
	return out
}

// IdentityProviderOwner returns the owner recorded on an identity provider, or "".
func IdentityProviderOwner(idp *gocloak.IdentityProviderRepresentation) string {
	if idp == nil {
		return ""
	}
	return idp.Config[AttrOwner]
}

// CheckServiceAccount applies an AuthServer's rules to an AuthClient's
// spec.serviceAccount: the server must accept service-account
// authentication, and the `default` ServiceAccount only if it allows it.
// It returns the reason and message of a refusal, or "" when allowed (also
// for clients with a secret).
func CheckServiceAccount(ac *authv1.AuthClient, as *authv1.AuthServer) (reason, msg string) {
	if !ac.Secretless() {
		return "", ""
	}
	key := as.Namespace + "/" + as.Name
	sa := as.Spec.ServiceAccountAuthentication
	if sa == nil {
		return authv1.ReasonServiceAccountAuthenticationDisabled, fmt.Sprintf(
			"spec.serviceAccount: AuthServer %s does not accept service-account authentication: its spec.serviceAccountAuthentication is not set", key)
	}
	if ac.Spec.ServiceAccount.Name == "default" && !sa.AllowDefaultServiceAccount {
		return authv1.ReasonServiceAccountNotAllowed, fmt.Sprintf(
			"spec.serviceAccount.name \"default\" is not allowed by AuthServer %s: every pod of namespace %q that names no ServiceAccount runs as it; "+
				"create a ServiceAccount for the workload, or set the AuthServer's spec.serviceAccountAuthentication.allowDefaultServiceAccount", key, ac.Namespace)
	}
	return "", ""
}

// HoldsServiceAccount says whether ac's status records its ServiceAccount:
// it was provisioned for it (and, while it is being deleted, its Keycloak
// client may still be enabled).
func HoldsServiceAccount(ac *authv1.AuthClient) bool {
	return ac.Secretless() && ac.Status.ServiceAccount == authv1.ServiceAccountSubject(ac.Namespace, ac.Spec.ServiceAccount.Name)
}

// stuck says whether a claimant that does not hold its ServiceAccount is
// Stalled for a reason of its own (not the conflict itself): it will not be
// provisioned before its owner acts, so it must not block the others.
func stuck(ac *authv1.AuthClient) bool {
	if HoldsServiceAccount(ac) || !meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.StalledCondition) {
		return false
	}
	c := meta.FindStatusCondition(ac.Status.Conditions, authv1.ReadyCondition)
	return c != nil && c.Reason != authv1.ReasonServiceAccountConflict
}

// ServiceAccountHolder decides which of several AuthClients of one
// AuthServer that name the same ServiceAccount may use it: Keycloak refuses
// a token that matches two clients, so only one can. The holder is the one
// whose status records the ServiceAccount (it is provisioned for it and
// works: a newcomer must not break it), else one that is not stuck on a
// problem of its own, else the oldest, then by name. The claimants must all
// name the same ServiceAccount; nil when there are none.
func ServiceAccountHolder(claimants []*authv1.AuthClient) *authv1.AuthClient {
	var best *authv1.AuthClient
	holds := HoldsServiceAccount
	before := func(a, b *authv1.AuthClient) bool {
		if holds(a) != holds(b) {
			return holds(a)
		}
		if stuck(a) != stuck(b) {
			return !stuck(a)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	}
	for _, ac := range claimants {
		if best == nil || before(ac, best) {
			best = ac
		}
	}
	return best
}

// ServiceAccountKey identifies what a secretless client claims, for an
// index: the AuthServer (namespace/name) and the subject. "" for a client
// with a secret.
func ServiceAccountKey(authServer string, ac *authv1.AuthClient) string {
	if !ac.Secretless() {
		return ""
	}
	return authServer + "|" + authv1.ServiceAccountSubject(ac.Namespace, ac.Spec.ServiceAccount.Name)
}

// TokenAudience is the audience of a service-account token that Keycloak
// accepts for a realm: its issuer (as the discovery document has it).
func TokenAudience(realmIssuer string) string { return strings.TrimRight(realmIssuer, "/") }
