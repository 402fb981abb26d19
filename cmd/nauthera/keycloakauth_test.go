package main

import (
	"strings"
	"testing"
)

func TestKeycloakAuthFlags(t *testing.T) {
	o, err := parseFlags([]string{"--keycloak-auth=federated-jwt", "--keycloak-client-id=nauthera-operator"})
	if err != nil {
		t.Fatal(err)
	}
	if o.keycloakTokenFile != "/var/run/secrets/nauthera.io/keycloak/token" || o.keycloakClientID != "nauthera-operator" {
		t.Errorf("token file %q, client %q", o.keycloakTokenFile, o.keycloakClientID)
	}
	if o, err := parseFlags(nil); err != nil || o.keycloakAuth != authSecret {
		t.Errorf("default: auth %q, err %v", o.keycloakAuth, err)
	}
	for args, want := range map[string]string{
		"--keycloak-auth=federated-jwt": "needs --keycloak-client-id (NAUTHERA_KEYCLOAK_CLIENT_ID)",
		"--keycloak-auth=federated-jwt --keycloak-client-id=x --keycloak-admin-secret=ops/kc":      "--keycloak-admin-secret (NAUTHERA_KEYCLOAK_ADMIN_SECRET) cannot be used with --keycloak-auth (NAUTHERA_KEYCLOAK_AUTH)=federated-jwt",
		"--keycloak-auth=federated-jwt --keycloak-client-id=x --keycloak-admin-credentials-dir=/c": "--keycloak-admin-credentials-dir (NAUTHERA_KEYCLOAK_ADMIN_CREDENTIALS_DIR) cannot be used with",
		"--keycloak-auth=federated-jwt --keycloak-client-id=x --keycloak-token-file=":              "needs --keycloak-token-file",
		"--keycloak-client-id=x":   "--keycloak-client-id (NAUTHERA_KEYCLOAK_CLIENT_ID) applies only to --keycloak-auth (NAUTHERA_KEYCLOAK_AUTH)=federated-jwt",
		"--keycloak-auth=password": `--keycloak-auth (NAUTHERA_KEYCLOAK_AUTH) must be secret or federated-jwt, got "password"`,
	} {
		if _, err := parseFlags(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want error %q, got %v", args, want, err)
		}
	}
}
