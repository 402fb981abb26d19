package main

import "fmt"

// How the operator logs in to its default Keycloak (--keycloak-auth).
const (
	// authSecret: admin credentials from a Secret or a mounted folder.
	authSecret = "secret"
	// authFederatedJWT: no password; the operator's own service-account
	// token is the client assertion of an admin client (federated-jwt).
	authFederatedJWT = "federated-jwt"
)

// validateAuth refuses a login that mixes the two kinds: with
// federated-jwt the point is that no admin credentials are mounted, so a
// Secret or folder named beside it is a mistake, not a fallback.
func (o *options) validateAuth() error {
	switch o.keycloakAuth {
	case authFederatedJWT:
		if o.keycloakClientID == "" {
			return fmt.Errorf("%s=%s needs %s: the admin client the operator's token authenticates", flagRef("keycloak-auth"), authFederatedJWT, flagRef("keycloak-client-id"))
		}
		if o.keycloakTokenFile == "" {
			return fmt.Errorf("%s=%s needs %s", flagRef("keycloak-auth"), authFederatedJWT, flagRef("keycloak-token-file"))
		}
		for name, v := range map[string]string{"keycloak-admin-secret": o.keycloakAdminSecret, "keycloak-admin-credentials-dir": o.keycloakAdminDir} {
			if v != "" {
				return fmt.Errorf("%s cannot be used with %s=%s: the operator logs in with its service-account token and reads no admin credentials", flagRef(name), flagRef("keycloak-auth"), authFederatedJWT)
			}
		}
	case authSecret:
		if o.keycloakClientID != "" {
			return fmt.Errorf("%s applies only to %s=%s", flagRef("keycloak-client-id"), flagRef("keycloak-auth"), authFederatedJWT)
		}
	default:
		return fmt.Errorf("%s must be %s or %s, got %q", flagRef("keycloak-auth"), authSecret, authFederatedJWT, o.keycloakAuth)
	}
	return nil
}
