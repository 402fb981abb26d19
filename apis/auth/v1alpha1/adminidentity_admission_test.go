package v1alpha1_test

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// spec.adminIdentity (an AuthServer's own, per-realm admin identity): a
// well-formed one is admitted; one beside spec.keycloak, or with a missing
// or malformed field, is refused naming the field.
func TestAdminIdentityAdmission(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ok := authServerDoc("with-identity", `  issuerUrl: https://auth.example.com
  adminIdentity: {clientId: nauthera-admin-a, serviceAccountName: realm-admin}`)
	if err := k8s.Create(context.Background(), parse(t, ok), client.DryRunAll); err != nil {
		t.Fatalf("a well-formed adminIdentity was refused: %v", err)
	}
	assertRefused(t, authServerDoc("both", `  issuerUrl: https://auth.example.com
  adminIdentity: {clientId: nauthera-admin-a, serviceAccountName: realm-admin}
  keycloak: {url: https://kc.example.com, adminCredentialsSecretRef: {name: kc}}`),
		"spec.adminIdentity", "cannot be combined with keycloak")
	assertRefused(t, authServerDoc("no-sa", `  issuerUrl: https://auth.example.com
  adminIdentity: {clientId: nauthera-admin-a}`), "spec.adminIdentity.serviceAccountName")
	assertRefused(t, authServerDoc("bad-sa", `  issuerUrl: https://auth.example.com
  adminIdentity: {clientId: nauthera-admin-a, serviceAccountName: "Realm_Admin"}`), "spec.adminIdentity.serviceAccountName")
	assertRefused(t, authServerDoc("bad-client", `  issuerUrl: https://auth.example.com
  adminIdentity: {clientId: "a b", serviceAccountName: realm-admin}`), "spec.adminIdentity.clientId")
}
