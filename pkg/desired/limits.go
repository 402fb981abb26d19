package desired

import (
	"fmt"
	"unicode/utf8"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// ProtocolOIDC is Keycloak's protocol name for OpenID Connect.
const ProtocolOIDC = "openid-connect"

// KeycloakMaxLength is the longest value Keycloak 26 stores in a client's
// clientId, name, description, redirect URI, web origin or post-logout
// redirect URI column. One character more is answered with HTTP 500, which
// looks like an outage: values are checked before they are sent.
const KeycloakMaxLength = 255

// CheckClientLimits returns an error naming the first field of the
// AuthClient (or derived from it, such as the default clientId) that
// Keycloak cannot store.
func CheckClientLimits(ac *authv1.AuthClient) error {
	check := func(field, v string) error {
		if n := utf8.RuneCountInString(v); n > KeycloakMaxLength {
			return fmt.Errorf("%s is %d characters long; Keycloak stores at most %d", field, n, KeycloakMaxLength)
		}
		return nil
	}
	field := "spec.clientId"
	if ac.Spec.ClientID == "" {
		field = "the default clientId <namespace>.<name> (set spec.clientId or use a shorter name)"
	}
	if err := check(field, ac.EffectiveClientID()); err != nil {
		return err
	}
	if err := check("spec.displayName", ac.Spec.DisplayName); err != nil {
		return err
	}
	lists := []struct {
		field  string
		values []string
	}{
		{"spec.redirectUris", ac.Spec.RedirectURIs},
		{"spec.webOrigins", ac.Spec.WebOrigins},
		{"spec.postLogoutRedirectUris", ac.Spec.PostLogoutRedirectURIs},
	}
	for _, l := range lists {
		for i, v := range l.values {
			if err := check(fmt.Sprintf("%s[%d]", l.field, i), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
