package desired

import (
	"maps"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// authenticationAttributes are the attributes that bind a secretless
// client to its service-account token.
var authenticationAttributes = []string{AttrJWTIssuer, AttrJWTSubject}

// KeptAuthentication is the decision of ApplyAuthentication.
type KeptAuthentication struct {
	// Client is what the update writes.
	Client gocloak.Client
	// Kept says that Keycloak's authentication differs from what was asked
	// and is kept: Have is how the client authenticates, Asked what it
	// would have been switched to (AuthenticationOf).
	Kept        bool
	Have, Asked string
}

// ApplyAuthentication decides which authentication fields an update of
// an existing Keycloak client writes. Without an authentication violation
// (violated false) they are want's: the spec, governed by its policies.
// With one, they are actual's, as Keycloak has them: switching the
// authentication of a client whose spec or policies break an
// authentication rule would lock its workloads out (a policy that moves
// to private_key_jwt cannot give a client its keys; a spec edited to
// Public would drop the secret its workloads use). Everything else
// (grants, scopes, lifetimes) is want's either way, so a client never
// escapes the rest of its policies. Pure: no I/O.
func ApplyAuthentication(want, actual gocloak.Client, violated bool) KeptAuthentication {
	have, asked := AuthenticationOf(actual), AuthenticationOf(want)
	if !violated || have == asked {
		return KeptAuthentication{Client: want, Have: have, Asked: asked}
	}
	out := want
	out.PublicClient = gocloak.BoolP(gocloak.PBool(actual.PublicClient))
	out.ClientAuthenticatorType = actual.ClientAuthenticatorType
	if gocloak.PBool(actual.PublicClient) {
		// A public client has no service account. (The other way round,
		// a spec edited to Public keeps want's false: the client_credentials
		// grant is what the spec gave up.)
		out.ServiceAccountsEnabled = gocloak.BoolP(false)
	}
	out.Attributes = maps.Clone(want.Attributes)
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for _, k := range authenticationAttributes {
		out.Attributes[k] = actual.Attributes[k]
	}
	return KeptAuthentication{Client: out, Kept: true, Have: have, Asked: asked}
}

// CredentialOf names the kind of credential a Keycloak client's workloads
// present: "none" (public), "token" (a service-account token,
// federated-jwt) or "secret" (client-secret, client-secret-jwt).
func CredentialOf(c gocloak.Client) string {
	switch AuthenticationOf(c) {
	case "public":
		return "none"
	case AuthenticatorFederatedJWT:
		return "token"
	default:
		return "secret"
	}
}

// SpecCredential is CredentialOf for the client the spec describes.
func SpecCredential(ac *authv1.AuthClient) string {
	switch {
	case ac.Spec.ClientType == authv1.ClientTypePublic:
		return "none"
	case ac.Secretless():
		return "token"
	default:
		return "secret"
	}
}
