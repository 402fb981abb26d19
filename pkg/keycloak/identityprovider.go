package keycloak

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Nerzal/gocloak/v14"
)

// Identity providers of a realm (service-account authentication trusts the
// cluster's token issuer through one), and a server-side fetch of a
// discovery document to tell whether Keycloak can reach an issuer.

// GetIdentityProvider returns the realm's identity provider with this
// alias, or an error matching ErrNotFound.
func (c *AdminClient) GetIdentityProvider(ctx context.Context, realm, alias string) (*gocloak.IdentityProviderRepresentation, error) {
	var out *gocloak.IdentityProviderRepresentation
	err := c.call(ctx, "identityprovider.get", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetIdentityProvider(ctx, tok, realm, alias)
		return err
	})
	return out, err
}

// CreateIdentityProvider creates an identity provider; ErrConflict if its
// alias is taken. Keycloak refuses (ErrRejected) an issuer that another
// identity provider of the realm has, and an http issuer that is not local.
func (c *AdminClient) CreateIdentityProvider(ctx context.Context, realm string, idp gocloak.IdentityProviderRepresentation) error {
	return c.call(ctx, "identityprovider.create", func(ctx context.Context, tok string) error {
		_, err := c.gc.CreateIdentityProvider(ctx, tok, realm, idp)
		return err
	})
}

// UpdateIdentityProvider replaces the identity provider idp.Alias.
func (c *AdminClient) UpdateIdentityProvider(ctx context.Context, realm string, idp gocloak.IdentityProviderRepresentation) error {
	alias := gocloak.PString(idp.Alias)
	if alias == "" {
		return &Error{Operation: "identityprovider.update", Kind: KindRejected, Message: "identity provider alias is empty"}
	}
	return c.call(ctx, "identityprovider.update", func(ctx context.Context, tok string) error {
		return c.gc.UpdateIdentityProvider(ctx, tok, realm, alias, idp)
	})
}

// DeleteIdentityProvider deletes the identity provider with this alias.
func (c *AdminClient) DeleteIdentityProvider(ctx context.Context, realm, alias string) error {
	return c.call(ctx, "identityprovider.delete", func(ctx context.Context, tok string) error {
		return c.gc.DeleteIdentityProvider(ctx, tok, realm, alias)
	})
}

// FetchOIDCConfiguration makes Keycloak itself fetch the document at url
// and read it as an OpenID Connect discovery document (the admin API's
// identity-provider import-config): success proves that Keycloak reaches
// the URL without credentials and trusts its TLS certificate, which a fetch
// from the operator could not tell. It returns what Keycloak read, such as
// "issuer" and "jwksUrl". A failure is an *Error of kind Rejected (or
// Transient on HTTP 5xx) whose message is Keycloak's.
func (c *AdminClient) FetchOIDCConfiguration(ctx context.Context, realm, url string) (map[string]string, error) {
	var raw map[string]any
	err := c.call(ctx, "identityprovider.fetchconfig", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, map[string]string{"providerId": "oidc", "fromUrl": url}, &raw, "identity-provider", "import-config")
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		} else if v != nil {
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}
