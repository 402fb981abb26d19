package admission_test

import (
	"testing"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// spec.claims (issue 22): what CEL cannot decide is refused by the webhook
// with the reconciler's rule (desired.CheckClaims), the field named.
func TestClaimsAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "team-claims")
	doc := func(name, claims string) string {
		return `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: ` + name + `, namespace: team-claims}
spec:
  authServerRef: {name: nowhere, namespace: security}
  redirectUris: ["https://claims.example.com/cb"]
  grantTypes: [authorization_code, client_credentials]
  roleGrants:
  - client: {name: orders-api, namespace: shop}
    roles: [orders:read]
  claims:
` + claims
	}
	eventuallyRefused(t, doc("bad-json", `  - {name: cfg, type: HardCoded, tokens: [IDToken], hardCoded: {value: '{"a": ', valueType: JSON}}`),
		"spec.claims[0].hardCoded.value", "is not valid JSON")
	eventuallyRefused(t, doc("not-granted", `  - {type: ClientRoles, tokens: [IDToken], clientRoles: {client: {name: payments, namespace: other}}}`),
		"spec.claims[0].clientRoles.client", "AuthClient other/payments is not named in spec.roleGrants")
	eventuallyRefused(t, doc("twice", `  - {type: ClientRoles, tokens: [IDToken]}
  - {type: ClientRoles, tokens: [AccessToken], clientRoles: {client: {name: twice}}}`),
		"spec.claims[1]", "is already set by an earlier claim")
	// A granted client that does not exist yet is the reconciler's to
	// judge: it may come later in the same sync.
	mustCreate(t, doc("granted", `  - {type: ClientRoles, tokens: [IDToken], clientRoles: {client: {name: orders-api, namespace: shop}}}
  - {name: cfg, type: HardCoded, tokens: [IDToken], hardCoded: {value: '{"a": [1]}', valueType: JSON}}`), &authv1.AuthClient{})
}
