package desired

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/policy"
)

// Keycloak client attribute keys the operator manages.
const (
	attrPKCE             = "pkce.code.challenge.method"
	attrPostLogout       = "post.logout.redirect.uris"
	attrUseRefreshTokens = "use.refresh.tokens"
	attrDeviceGrant      = "oauth2.device.authorization.grant.enabled"
	attrTokenExchange    = "standard.token.exchange.enabled"
	// AttrAccessTokenLifespan is the client's access-token lifespan in
	// seconds ("" uses the realm's). Keycloak gives ID tokens the same lifespan.
	AttrAccessTokenLifespan = "access.token.lifespan"
	// AttrClientSessionIdle is the client session idle timeout in seconds
	// ("" uses the realm's): a refresh token expires with it.
	AttrClientSessionIdle = "client.session.idle.timeout"
	// AttrClientOfflineSessionIdle bounds offline tokens (offline_access) the same way.
	AttrClientOfflineSessionIdle = "client.offline.session.idle.timeout"
	// AttrPolicyManaged lists the attributes an AuthPolicy set on the client.
	AttrPolicyManaged = "nauthera.io/policy-attributes"
)

// DefaultGrantTypes apply when an AuthClient lists none.
var DefaultGrantTypes = policy.DefaultGrantTypes

// GrantTypes returns the grant types an AuthClient asks for, defaults applied.
func GrantTypes(ac *authv1.AuthClient) []authv1.GrantType {
	if len(ac.Spec.GrantTypes) == 0 {
		return DefaultGrantTypes
	}
	return ac.Spec.GrantTypes
}

// EffectiveGrantTypes are the grant types the Keycloak client gets: those
// the AuthClient asks for (or the defaults), minus those its policies do
// not allow.
func EffectiveGrantTypes(ac *authv1.AuthClient, eff policy.Effective) []authv1.GrantType {
	grants := GrantTypes(ac)
	if eff.AllowedGrantTypes == nil {
		return grants
	}
	var out []authv1.GrantType
	for _, g := range grants {
		if slices.Contains(eff.AllowedGrantTypes, g) {
			out = append(out, g)
		}
	}
	return out
}

// AccessTokenLifespan is the access-token (and so ID-token) lifespan the
// policies ask for: the smaller of accessTokenTTL and idTokenTTL, since
// Keycloak 26 issues ID tokens with the access-token lifespan and has no
// setting of their own. Zero leaves the realm's.
func AccessTokenLifespan(eff policy.Effective) time.Duration {
	switch {
	case eff.AccessTokenTTL == 0:
		return eff.IDTokenTTL
	case eff.IDTokenTTL == 0:
		return eff.AccessTokenTTL
	default:
		return min(eff.AccessTokenTTL, eff.IDTokenTTL)
	}
}

// Client is the Keycloak client an AuthClient asks for, ungoverned.
func Client(ac *authv1.AuthClient) gocloak.Client {
	return GovernedClient(ac, policy.Effective{}, RealmSessions{})
}

// RealmSessions are the realm's session timeouts, which bound every
// refresh token whatever a client says (zero: unknown).
type RealmSessions struct {
	Idle, OfflineIdle time.Duration
}

// RefreshLifespans are the client session idle timeouts that bound a
// governed client's refresh tokens: refreshTokenTTL, but never above the
// realm's own timeouts (Keycloak refuses a client value above the realm's
// with HTTP 400, and the realm's bound applies anyway, so the policy's
// ceiling is met). Offline tokens are bounded the same way. Zero where the
// policy sets nothing; the TTL itself while the realm's timeout is unknown.
func RefreshLifespans(eff policy.Effective, realm RealmSessions) (online, offline time.Duration) {
	bound := func(limit time.Duration) time.Duration {
		if limit == 0 {
			// Not known yet (the AuthServer has not recorded it): the TTL
			// as it is, rather than dropping the policy's limit meanwhile.
			return eff.RefreshTokenTTL
		}
		return min(eff.RefreshTokenTTL, limit)
	}
	return bound(realm.Idle), bound(realm.OfflineIdle)
}

// GovernedClient is the Keycloak client an AuthClient asks for, brought
// into line with its policies: forbidden grant types off, PKCE S256 when
// enforced, token lifespans and the authentication method set. Only the
// fields set here are managed: drift in them is reverted, everything else
// is left as an administrator set it. Scopes are handled by ScopePlan.
func GovernedClient(ac *authv1.AuthClient, eff policy.Effective, realm RealmSessions) gocloak.Client {
	grants := EffectiveGrantTypes(ac, eff)
	has := func(g authv1.GrantType) bool { return slices.Contains(grants, g) }
	public := ac.Spec.ClientType == authv1.ClientTypePublic

	webOrigins := ac.Spec.WebOrigins
	if len(webOrigins) == 0 {
		webOrigins = []string{"+"}
	}
	postLogout := "+"
	if len(ac.Spec.PostLogoutRedirectURIs) > 0 {
		postLogout = strings.Join(ac.Spec.PostLogoutRedirectURIs, "##")
	}
	pkce := ""
	if public || eff.EnforcePKCE {
		pkce = "S256"
	}
	seconds := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return strconv.Itoa(int(d.Round(time.Second) / time.Second))
	}
	name := ac.Spec.DisplayName
	if name == "" {
		name = ac.Name
	}
	attrs := map[string]string{
		AttrOwner:            Owner(ac.Namespace, ac.Name),
		AttrOwnerKind:        "AuthClient",
		AttrOwnerUID:         string(ac.UID),
		attrPKCE:             pkce,
		attrPostLogout:       postLogout,
		attrUseRefreshTokens: boolString(has(authv1.GrantTypeRefreshToken)),
		attrDeviceGrant:      boolString(has(authv1.GrantTypeDeviceCode)),
		attrTokenExchange:    boolString(has(authv1.GrantTypeTokenExchange)),
	}
	// Lifespans are managed only while a policy sets them, and the client
	// records which ones: without a policy an administrator's setting is
	// kept (as before policies existed), and MergeClient resets what a
	// policy set once the policy is gone.
	var set []string
	online, offline := RefreshLifespans(eff, realm)
	for key, d := range map[string]time.Duration{AttrAccessTokenLifespan: AccessTokenLifespan(eff), AttrClientSessionIdle: online, AttrClientOfflineSessionIdle: offline} {
		if d > 0 {
			attrs[key] = seconds(d)
			set = append(set, key)
		}
	}
	slices.Sort(set)
	attrs[AttrPolicyManaged] = strings.Join(set, ",")
	// The marker puts the client under the realm's rotation policy; "" (no
	// rotation) deletes it, which also clears the expiry Keycloak set.
	attrs[AttrSecretRotation] = ""
	if eff.Rotation != nil && ac.HasSecret() {
		attrs[AttrSecretRotation] = RotationMarker
	}
	// A secretless client is bound to the identity provider trusting the
	// cluster's service-account issuer and to its ServiceAccount's subject;
	// "" (a client with a secret) deletes the binding.
	attrs[AttrJWTIssuer], attrs[AttrJWTSubject] = "", ""
	if ac.Secretless() && !public {
		attrs[AttrJWTIssuer] = IdentityProviderAlias
		attrs[AttrJWTSubject] = authv1.ServiceAccountSubject(ac.Namespace, ac.Spec.ServiceAccount.Name)
	}
	c := gocloak.Client{
		ClientID:                  gocloak.StringP(ac.EffectiveClientID()),
		Name:                      gocloak.StringP(name),
		Description:               gocloak.StringP(truncateRunes(fmt.Sprintf("Managed by Nauthera from AuthClient %s/%s. Changes made here are reverted.", ac.Namespace, ac.Name), KeycloakMaxLength)),
		Enabled:                   gocloak.BoolP(true),
		Protocol:                  gocloak.StringP(ProtocolOIDC),
		PublicClient:              gocloak.BoolP(public),
		BearerOnly:                gocloak.BoolP(false),
		StandardFlowEnabled:       gocloak.BoolP(has(authv1.GrantTypeAuthorizationCode)),
		ImplicitFlowEnabled:       gocloak.BoolP(false),
		DirectAccessGrantsEnabled: gocloak.BoolP(false),
		ServiceAccountsEnabled:    gocloak.BoolP(!public && has(authv1.GrantTypeClientCredentials)),
		RedirectURIs:              slices.Clone(ac.Spec.RedirectURIs),
		WebOrigins:                slices.Clone(webOrigins),
		Attributes:                attrs,
	}
	switch {
	case public:
	case ac.Secretless():
		// Whatever the policies' method: a policy that asks for a secret
		// is reported as a PolicyViolation, never given a secret the
		// workloads do not have.
		c.ClientAuthenticatorType = gocloak.StringP(AuthenticatorFederatedJWT)
	default:
		c.ClientAuthenticatorType = gocloak.StringP(Authenticator(eff.Method))
	}
	return c
}

// AuthenticationOf names how a Keycloak client authenticates: "public" (not
// at all) or its client authenticator (client-secret, client-secret-jwt,
// federated-jwt).
func AuthenticationOf(c gocloak.Client) string {
	if gocloak.PBool(c.PublicClient) {
		return "public"
	}
	if a := gocloak.PString(c.ClientAuthenticatorType); a != "" {
		return a
	}
	return "client-secret" // Keycloak's default
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ClientDiff names the managed fields of want that actual does not match.
// Empty means no write is needed.
func ClientDiff(want, actual gocloak.Client) []string {
	var d []string
	d = diffString(d, "name", want.Name, actual.Name)
	d = diffString(d, "description", want.Description, actual.Description)
	d = diffBool(d, "enabled", want.Enabled, actual.Enabled)
	d = diffString(d, "protocol", want.Protocol, actual.Protocol)
	d = diffBool(d, "publicClient", want.PublicClient, actual.PublicClient)
	d = diffBool(d, "bearerOnly", want.BearerOnly, actual.BearerOnly)
	d = diffBool(d, "standardFlowEnabled", want.StandardFlowEnabled, actual.StandardFlowEnabled)
	d = diffBool(d, "implicitFlowEnabled", want.ImplicitFlowEnabled, actual.ImplicitFlowEnabled)
	d = diffBool(d, "directAccessGrantsEnabled", want.DirectAccessGrantsEnabled, actual.DirectAccessGrantsEnabled)
	d = diffBool(d, "serviceAccountsEnabled", want.ServiceAccountsEnabled, actual.ServiceAccountsEnabled)
	d = diffString(d, "clientAuthenticatorType", want.ClientAuthenticatorType, actual.ClientAuthenticatorType)
	d = diffSet(d, "redirectUris", want.RedirectURIs, actual.RedirectURIs)
	d = diffSet(d, "webOrigins", want.WebOrigins, actual.WebOrigins)
	// The owner UID changes when an AuthClient is deleted (orphaning its
	// client) and recreated: adopting the client then updates it once.
	return diffAttributes(d, want.Attributes, actual.Attributes)
}

// MergeClient returns actual with the managed fields of want applied, ready
// for an update that keeps everything an administrator set elsewhere.
func MergeClient(want, actual gocloak.Client) gocloak.Client {
	out := actual
	out.Name, out.Description, out.Enabled, out.Protocol = want.Name, want.Description, want.Enabled, want.Protocol
	out.PublicClient, out.BearerOnly = want.PublicClient, want.BearerOnly
	out.StandardFlowEnabled, out.ImplicitFlowEnabled = want.StandardFlowEnabled, want.ImplicitFlowEnabled
	out.DirectAccessGrantsEnabled, out.ServiceAccountsEnabled = want.DirectAccessGrantsEnabled, want.ServiceAccountsEnabled
	if want.ClientAuthenticatorType != nil {
		out.ClientAuthenticatorType = want.ClientAuthenticatorType
	}
	out.RedirectURIs, out.WebOrigins = want.RedirectURIs, want.WebOrigins
	out.Attributes = make(map[string]string, len(actual.Attributes)+len(want.Attributes))
	for k, v := range actual.Attributes {
		out.Attributes[k] = v
	}
	for k, v := range want.Attributes {
		out.Attributes[k] = v
	}
	// Attributes a policy set that no policy sets any more go back to the realm's.
	for _, k := range strings.Split(actual.Attributes[AttrPolicyManaged], ",") {
		if _, wanted := want.Attributes[k]; k != "" && !wanted {
			out.Attributes[k] = ""
		}
	}
	return out
}

// ClientOwner returns the owner recorded on a client, or "" if none.
func ClientOwner(c *gocloak.Client) string {
	if c == nil {
		return ""
	}
	return c.Attributes[AttrOwner]
}

// Authenticator is Keycloak's client authenticator for an OIDC token
// endpoint authentication method. Keycloak cannot tell client_secret_basic
// from client_secret_post: its client-secret authenticator accepts both.
// private_key_jwt keeps client-secret (see below), and so does
// service_account_token for a client that names no ServiceAccount.
func Authenticator(m authv1.ClientAuthenticationMethod) string {
	switch m {
	case authv1.ClientAuthSecretJWT:
		return "client-secret-jwt"
	default:
		// private_key_jwt would need the client's public keys, which an
		// AuthClient cannot provide yet, and service_account_token a
		// ServiceAccount it does not name: the client keeps its secret (and
		// is reported as a PolicyViolation), rather than being switched to
		// an authenticator it cannot use.
		return "client-secret"
	}
}
