package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// spec.claims at admission (issue 22): no raw mapper types, no forged
// identities, audiences or roles, values that fit their type, each token
// claim once; the real API server judges (and accepts the CEL cost).

func claimsDoc(name, claims string) string {
	return authClientDoc(name, "  grantTypes: [authorization_code, client_credentials]\n  redirectUris: [\"https://app.example.com/cb\"]\n  roleGrants:\n  - client: {name: orders-api, namespace: orders}\n    roles: [orders:read]\n  claims:\n"+claims)
}

func TestClaimsRefusedAtAdmission(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	cases := []struct {
		name, claims string
		want         []string
	}{
		{"unknown mapper type", "  - {name: x, type: ScriptMapper, tokens: [IDToken]}\n", []string{"spec.claims[0].type", "Unsupported value"}},
		{"raw protocol mapper type", "  - {name: x, type: oidc-script-based-protocol-mapper, tokens: [IDToken]}\n", []string{"spec.claims[0].type"}},
		{"unknown token type", "  - {name: x, type: GroupMembership, tokens: [RefreshToken]}\n", []string{"spec.claims[0].tokens[0]"}},
		{"no token", "  - {name: x, type: GroupMembership, tokens: []}\n", []string{"spec.claims[0].tokens"}},
		{"duplicate name", "  - {name: dept, type: GroupMembership, tokens: [IDToken]}\n  - {name: dept, type: UserAttribute, tokens: [IDToken], userAttribute: {attribute: department}}\n",
			[]string{"spec.claims", "each claim name may appear once"}},
		{"two unnamed ClientRoles of this client", "  - {type: ClientRoles, tokens: [IDToken]}\n  - {type: ClientRoles, tokens: [AccessToken]}\n",
			[]string{"spec.claims", "an unnamed ClientRoles claim may appear once per client"}},
		{"two unnamed ClientRoles of one granted client", "  - {type: ClientRoles, tokens: [IDToken], clientRoles: {client: {name: orders-api, namespace: orders}}}\n  - {type: ClientRoles, tokens: [AccessToken], clientRoles: {client: {name: orders-api, namespace: orders}}}\n",
			[]string{"an unnamed ClientRoles claim may appear once per client"}},
		{"forged subject", "  - {name: sub, type: HardCoded, tokens: [IDToken], hardCoded: {value: admin}}\n", []string{"spec.claims[0].name", "registered JWT or OIDC claim"}},
		{"forged audience nested", "  - {name: aud.x, type: HardCoded, tokens: [AccessToken], hardCoded: {value: api}}\n", []string{"spec.claims[0].name"}},
		{"forged resource_access", "  - {name: resource_access.orders-api.roles, type: ClientRoles, tokens: [AccessToken]}\n", []string{"spec.claims[0].name"}},
		{"forged realm_access", "  - {name: realm_access, type: HardCoded, tokens: [AccessToken], hardCoded: {value: '{\"roles\":[\"admin\"]}', valueType: JSON}}\n", []string{"spec.claims[0].name"}},
		{"forged resource_access by case", "  - {name: Resource_Access.orders-api, type: HardCoded, tokens: [AccessToken], hardCoded: {value: '{\"roles\":[\"orders:write\"]}', valueType: JSON}}\n", []string{"spec.claims[0].name", "registered JWT or OIDC claim"}},
		{"forged audience by case", "  - {name: AUD, type: GroupMembership, tokens: [AccessToken]}\n", []string{"spec.claims[0].name"}},
		{"forged UMA permissions", "  - {name: authorization.permissions, type: HardCoded, tokens: [AccessToken], hardCoded: {value: '[{\"rsname\":\"orders\"}]', valueType: JSON}}\n", []string{"spec.claims[0].name"}},
		{"forged actor", "  - {name: act.sub, type: HardCoded, tokens: [AccessToken], hardCoded: {value: admin}}\n", []string{"spec.claims[0].name"}},
		{"forged username by case", "  - {name: Preferred_Username, type: UserAttribute, tokens: [IDToken], userAttribute: {attribute: nick}}\n", []string{"spec.claims[0]", "standard identity claim"}},
		{"forged roles by case", "  - {name: Roles, type: HardCoded, tokens: [AccessToken], hardCoded: {value: admin}}\n", []string{"spec.claims[0]", "groups or roles"}},
		{"forged username", "  - {name: preferred_username, type: HardCoded, tokens: [IDToken], hardCoded: {value: ceo}}\n", []string{"spec.claims[0]", "standard identity claim"}},
		{"email from an editable attribute", "  - {name: email, type: UserAttribute, tokens: [IDToken], userAttribute: {attribute: contact}}\n", []string{"spec.claims[0]", "standard identity claim"}},
		{"forged groups", "  - {name: groups, type: HardCoded, tokens: [IDToken], hardCoded: {value: '[\"admins\"]', valueType: JSON}}\n", []string{"spec.claims[0]", "groups or roles"}},
		{"forged roles", "  - {name: roles, type: HardCoded, tokens: [AccessToken], hardCoded: {value: admin}}\n", []string{"spec.claims[0]", "groups or roles"}},
		{"Keycloak placeholder in a name", "  - {name: 'x.${client_id}', type: GroupMembership, tokens: [IDToken]}\n", []string{"spec.claims[0].name"}},
		{"escaped dot in a name", "  - {name: 'a\\\\.b', type: GroupMembership, tokens: [IDToken]}\n", []string{"spec.claims[0].name"}},
		{"name missing", "  - {type: GroupMembership, tokens: [IDToken]}\n", []string{"name is required"}},
		{"field of another type", "  - {name: x, type: GroupMembership, tokens: [IDToken], hardCoded: {value: a}}\n", []string{"hardCoded is set exactly when type is HardCoded"}},
		{"hard-coded without value", "  - {name: x, type: HardCoded, tokens: [IDToken]}\n", []string{"hardCoded is set exactly when type is HardCoded"}},
		{"boolean that is not", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: 'yes', valueType: Boolean}}\n", []string{"spec.claims[0].hardCoded", "true or false"}},
		{"long that is not", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: '12a', valueType: Long}}\n", []string{"spec.claims[0].hardCoded", "valueType Long"}},
		{"long out of range", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: '99999999999999999999', valueType: Long}}\n", []string{"valueType Long"}},
		{"int out of range", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: '3000000000', valueType: Int}}\n", []string{"valueType Int"}},
		{"JSON scalar text", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: 'not json', valueType: JSON}}\n", []string{"valueType JSON"}},
		{"unknown value type", "  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: a, valueType: Double}}\n", []string{"spec.claims[0].hardCoded.valueType"}},
		{"huge value", fmt.Sprintf("  - {name: x, type: HardCoded, tokens: [IDToken], hardCoded: {value: %q}}\n", strings.Repeat("a", 1025)), []string{"spec.claims[0].hardCoded.value", "1024"}},
		{"attribute with a placeholder", "  - {name: x, type: UserAttribute, tokens: [IDToken], userAttribute: {attribute: '${x}'}}\n", []string{"spec.claims[0].userAttribute.attribute"}},
		{"too many claims", strings.Repeat("  - {type: ClientRoles, tokens: [IDToken]}\n", 21), []string{"spec.claims", "21"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertRefused(t, claimsDoc("claims-refused", tc.claims), tc.want...)
		})
	}
}

func TestClaimsAcceptedAtAdmission(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	cases := []struct{ name, claims string }{
		{"every type", `  - {name: tier, type: HardCoded, tokens: [AccessToken, Introspection], hardCoded: {value: gold}}
  - {name: department, type: UserAttribute, tokens: [IDToken, UserInfo], userAttribute: {attribute: department, multivalued: true}}
  - {name: groups, type: GroupMembership, tokens: [IDToken], groupMembership: {fullPath: true}}
  - {type: ClientRoles, tokens: [IDToken]}
  - {type: ClientRoles, tokens: [AccessToken], clientRoles: {client: {name: orders-api, namespace: orders}}}
  - {name: orders_roles, type: ClientRoles, tokens: [IDToken], clientRoles: {client: {name: orders-api, namespace: orders}}}
`},
		{"typed values", `  - {name: beta, type: HardCoded, tokens: [IDToken], hardCoded: {value: "true", valueType: Boolean}}
  - {name: quota, type: HardCoded, tokens: [IDToken], hardCoded: {value: "-123456789012345678", valueType: Long}}
  - {name: level, type: HardCoded, tokens: [IDToken], hardCoded: {value: "42", valueType: Int}}
  - {name: cfg, type: HardCoded, tokens: [IDToken], hardCoded: {value: ' {"a": [1, 2]}', valueType: JSON}}
`},
		{"nested names", "  - {name: address.locality, type: UserAttribute, tokens: [IDToken], userAttribute: {attribute: locality}}\n  - {name: org.team-name, type: HardCoded, tokens: [IDToken], hardCoded: {value: shop}}\n"},
		{"groups from groups, roles from roles", "  - {name: groups, type: GroupMembership, tokens: [IDToken]}\n  - {name: roles, type: ClientRoles, tokens: [AccessToken]}\n"},
		{"twenty claims", func() string {
			var b strings.Builder
			for i := range 20 {
				fmt.Fprintf(&b, "  - {name: c%d, type: ClientRoles, tokens: [IDToken]}\n", i)
			}
			return b.String()
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), parse(t, claimsDoc("claims-ok", tc.claims)), client.DryRunAll); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
