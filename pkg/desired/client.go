package desired

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Keycloak client attribute keys the operator manages.
const (
	attrPKCE             = "pkce.code.challenge.method"
	attrPostLogout       = "post.logout.redirect.uris"
	attrUseRefreshTokens = "use.refresh.tokens"
	attrDeviceGrant      = "oauth2.device.authorization.grant.enabled"
	attrTokenExchange    = "standard.token.exchange.enabled"
)

// DefaultGrantTypes apply when an AuthClient lists none.
var DefaultGrantTypes = []authv1.GrantType{authv1.GrantTypeAuthorizationCode, authv1.GrantTypeRefreshToken}

// GrantTypes returns the grant types an AuthClient asks for, defaults applied.
func GrantTypes(ac *authv1.AuthClient) []authv1.GrantType {
	if len(ac.Spec.GrantTypes) == 0 {
		return DefaultGrantTypes
	}
	return ac.Spec.GrantTypes
}

// Client is the Keycloak client an AuthClient asks for. Only the fields set
// here are managed: drift in them is reverted, everything else is left as
// an administrator set it. Scopes are handled by ScopePlan, not here.
func Client(ac *authv1.AuthClient) gocloak.Client {
	grants := GrantTypes(ac)
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
	if public {
		pkce = "S256"
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
	if !public {
		c.ClientAuthenticatorType = gocloak.StringP("client-secret")
	}
	return c
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
	return out
}

// ClientOwner returns the owner recorded on a client, or "" if none.
func ClientOwner(c *gocloak.Client) string {
	if c == nil {
		return ""
	}
	return c.Attributes[AttrOwner]
}
