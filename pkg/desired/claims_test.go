package desired

import (
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func claimsIn(claims ...authv1.Claim) ClaimsInput {
	return ClaimsInput{Namespace: "shop", Name: "frontend", ClientID: "shop.frontend", Claims: claims}
}

func TestClaimMapperPerType(t *testing.T) {
	all := []authv1.TokenType{authv1.TokenAccess, authv1.TokenID, authv1.TokenUserInfo, authv1.TokenIntrospection}
	cases := []struct {
		name     string
		claim    authv1.Claim
		typ      string
		claimKey string
		config   map[string]string
	}{
		{"hard-coded long", authv1.Claim{Name: "tier", Type: authv1.ClaimHardCoded, Tokens: []authv1.TokenType{authv1.TokenAccess},
			HardCoded: &authv1.HardCodedClaim{Value: "3", ValueType: "Long"}}, HardcodedClaimMapperType, "tier",
			map[string]string{"claim.name": "tier", "claim.value": "3", "jsonType.label": "long",
				"access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "false", "introspection.token.claim": "false"}},
		{"hard-coded default string", authv1.Claim{Name: "env", Type: authv1.ClaimHardCoded, Tokens: []authv1.TokenType{authv1.TokenID},
			HardCoded: &authv1.HardCodedClaim{Value: "prod"}}, HardcodedClaimMapperType, "env",
			map[string]string{"jsonType.label": "String", "access.token.claim": "false", "id.token.claim": "true", "userinfo.token.claim": "false"}},
		{"hard-coded boolean", authv1.Claim{Name: "beta", Type: authv1.ClaimHardCoded, Tokens: all,
			HardCoded: &authv1.HardCodedClaim{Value: "true", ValueType: "Boolean"}}, HardcodedClaimMapperType, "beta",
			map[string]string{"jsonType.label": "boolean", "access.token.claim": "true", "id.token.claim": "true", "userinfo.token.claim": "true", "introspection.token.claim": "true"}},
		{"user attribute", authv1.Claim{Name: "dept", Type: authv1.ClaimUserAttribute, Tokens: []authv1.TokenType{authv1.TokenUserInfo},
			UserAttribute: &authv1.UserAttributeClaim{Attribute: "department", Multivalued: true}}, UserAttributeMapperType, "dept",
			map[string]string{"user.attribute": "department", "multivalued": "true", "claim.name": "dept", "userinfo.token.claim": "true", "id.token.claim": "false"}},
		{"groups by name", authv1.Claim{Name: "groups", Type: authv1.ClaimGroupMembership, Tokens: []authv1.TokenType{authv1.TokenID}},
			GroupMembershipMapperType, "groups", map[string]string{"full.path": "false", "claim.name": "groups"}},
		{"groups by path", authv1.Claim{Name: "groups", Type: authv1.ClaimGroupMembership, Tokens: []authv1.TokenType{authv1.TokenID},
			GroupMembership: &authv1.GroupMembershipClaim{FullPath: true}}, GroupMembershipMapperType, "groups", map[string]string{"full.path": "true"}},
		{"own roles into resource_access", authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenID}},
			ClientRolesMapperType, "resource_access.shop.frontend.roles",
			map[string]string{"claim.name": "resource_access.${client_id}.roles", "usermodel.clientRoleMapping.clientId": "shop.frontend", "multivalued": "true"}},
		{"own roles named", authv1.Claim{Name: "roles", Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess}},
			ClientRolesMapperType, "roles", map[string]string{"claim.name": "roles", "usermodel.clientRoleMapping.clientId": "shop.frontend"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, problems := ClaimMappers(claimsIn(tc.claim))
			if len(problems) > 0 || len(ms) != 1 {
				t.Fatalf("mappers %v, problems %v", ms, problems)
			}
			m := ms[0]
			if m.Claim != tc.claimKey || *m.Mapper.ProtocolMapper != tc.typ || *m.Mapper.Protocol != "openid-connect" || *m.Mapper.Name != "nauthera-claim-"+tc.claimKey {
				t.Errorf("claim %q type %q protocol %q name %q", m.Claim, *m.Mapper.ProtocolMapper, *m.Mapper.Protocol, *m.Mapper.Name)
			}
			for k, v := range tc.config {
				if m.Mapper.Config[k] != v {
					t.Errorf("config %s = %q, want %q", k, m.Mapper.Config[k], v)
				}
			}
			// Every token type is said explicitly: Keycloak would default
			// an absent userinfo or introspection flag to another's.
			for _, k := range []string{"access.token.claim", "id.token.claim", "userinfo.token.claim", "introspection.token.claim", "lightweight.claim", "access.tokenResponse.claim"} {
				if v := m.Mapper.Config[k]; v != "true" && v != "false" {
					t.Errorf("config %s = %q, want explicit true or false", k, v)
				}
			}
		})
	}
}

func TestClaimMappersRefuse(t *testing.T) {
	api := types.NamespacedName{Namespace: "orders", Name: "api"}
	grants := []authv1.RoleGrant{{Client: authv1.ObjectReference{Name: "api", Namespace: "orders"}, Roles: []string{"orders:read"}}}
	cases := []struct {
		name  string
		in    ClaimsInput
		field string
	}{
		{"JSON that is not JSON", claimsIn(authv1.Claim{Name: "cfg", Type: authv1.ClaimHardCoded, Tokens: []authv1.TokenType{authv1.TokenAccess},
			HardCoded: &authv1.HardCodedClaim{Value: `{"a":`, ValueType: "JSON"}}), "spec.claims[0].hardCoded.value"},
		{"roles of a client not granted", claimsIn(authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess},
			ClientRoles: &authv1.ClientRolesClaim{Client: &authv1.ObjectReference{Name: "api", Namespace: "orders"}}}), "spec.claims[0].clientRoles.client"},
		{"granted client not found", ClaimsInput{Namespace: "shop", ClientID: "shop.frontend", RoleGrants: grants, Claims: []authv1.Claim{{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess},
			ClientRoles: &authv1.ClientRolesClaim{Client: &authv1.ObjectReference{Name: "api", Namespace: "orders"}}}}}, "spec.claims[0].clientRoles.client"},
		{"one token claim twice", claimsIn(
			authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess}},
			authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenID}, ClientRoles: &authv1.ClientRolesClaim{Client: &authv1.ObjectReference{Name: "frontend"}}}), "spec.claims[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := ClaimMappers(tc.in)
			if len(problems) != 1 || problems[0].Field != tc.field {
				t.Fatalf("problems %v, want one at %s", problems, tc.field)
			}
		})
	}
	// A client of spec.roleGrants found among the AuthServer's clients.
	in := ClaimsInput{Namespace: "shop", ClientID: "shop.frontend", RoleGrants: grants,
		GrantedClientIDs: map[types.NamespacedName]string{api: "orders-api"},
		Claims: []authv1.Claim{{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess},
			ClientRoles: &authv1.ClientRolesClaim{Client: &authv1.ObjectReference{Name: "api", Namespace: "orders"}}}}}
	ms, problems := ClaimMappers(in)
	if len(problems) > 0 || len(ms) != 1 || ms[0].Mapper.Config["usermodel.clientRoleMapping.clientId"] != "orders-api" || ms[0].Claim != "resource_access.orders-api.roles" {
		t.Fatalf("granted client: mappers %+v, problems %v", ms, problems)
	}
}

func TestClaimMappersSelfReferenceIsThisClient(t *testing.T) {
	in := claimsIn(authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenAccess}})
	ms, problems := ClaimMappers(in)
	if len(problems) > 0 || ms[0].Mapper.Config["usermodel.clientRoleMapping.clientId"] != "shop.frontend" {
		t.Fatalf("mappers %+v, problems %v", ms, problems)
	}
}

func TestClaimMapperNameIsBounded(t *testing.T) {
	long := strings.Repeat("a", 300)
	n1, n2 := ClaimMapperName(long+"x"), ClaimMapperName(long+"y")
	if len(n1) > KeycloakMaxLength || n1 == n2 || !strings.HasPrefix(n1, ClaimMapperPrefix) {
		t.Errorf("names %q and %q", n1, n2)
	}
	if ClaimMapperName("tier") != "nauthera-claim-tier" {
		t.Errorf("short name %q", ClaimMapperName("tier"))
	}
}

func TestPlanClaims(t *testing.T) {
	want, _ := ClaimMappers(claimsIn(
		authv1.Claim{Name: "tier", Type: authv1.ClaimHardCoded, Tokens: []authv1.TokenType{authv1.TokenAccess}, HardCoded: &authv1.HardCodedClaim{Value: "gold"}},
		authv1.Claim{Name: "groups", Type: authv1.ClaimGroupMembership, Tokens: []authv1.TokenType{authv1.TokenID}},
		authv1.Claim{Name: "dept", Type: authv1.ClaimUserAttribute, Tokens: []authv1.TokenType{authv1.TokenID}, UserAttribute: &authv1.UserAttributeClaim{Attribute: "department"}},
	))
	stored := func(m gocloak.ProtocolMapperRepresentation, id string, edit func(map[string]string)) gocloak.ProtocolMapperRepresentation {
		c := map[string]string{}
		for k, v := range m.Config {
			c[k] = v
		}
		if edit != nil {
			edit(c)
		}
		m.Config, m.ID = c, gocloak.StringP(id)
		return m
	}
	retyped := stored(want[2].Mapper, "id-dept", nil)
	retyped.ProtocolMapper = gocloak.StringP(HardcodedClaimMapperType)
	actual := []gocloak.ProtocolMapperRepresentation{
		stored(want[0].Mapper, "id-tier", nil), // in line
		stored(want[1].Mapper, "id-groups", func(c map[string]string) { c["access.token.claim"] = "true" }), // console edit
		retyped, // console changed its type
		{ID: gocloak.StringP("id-old"), Name: gocloak.StringP("nauthera-claim-old"), ProtocolMapper: gocloak.StringP(HardcodedClaimMapperType), Protocol: gocloak.StringP("openid-connect")},
		AudienceMapper("orders-api"),
		{ID: gocloak.StringP("id-admin"), Name: gocloak.StringP("admin's mapper"), ProtocolMapper: gocloak.StringP(HardcodedClaimMapperType)},
	}
	p := PlanClaims(want, actual)
	if got := strings.Join(MapperNames(p.Fix), ","); got != "nauthera-claim-groups" || *p.Fix[0].ID != "id-groups" {
		t.Errorf("fix %s", got)
	}
	if got := strings.Join(MapperNames(p.Remove), ","); got != "nauthera-claim-dept,nauthera-claim-old" {
		t.Errorf("remove %s", got)
	}
	if got := strings.Join(MapperNames(p.Add), ","); got != "nauthera-claim-dept" {
		t.Errorf("add %s", got)
	}
	if strings.Join(p.Unmanaged, ",") != "admin's mapper" {
		t.Errorf("unmanaged %v (audience mappers are the operator's)", p.Unmanaged)
	}
	inLine := PlanClaims(want, []gocloak.ProtocolMapperRepresentation{stored(want[0].Mapper, "1", nil), stored(want[1].Mapper, "2", nil), stored(want[2].Mapper, "3", nil)})
	if !inLine.Empty() {
		t.Errorf("mappers as wanted: plan %+v", inLine)
	}
}

func TestClaimConfigMatches(t *testing.T) {
	want := map[string]string{"claim.name": "x", "id.token.claim": "false"}
	cases := []struct {
		got  map[string]string
		want bool
	}{
		{map[string]string{"claim.name": "x", "id.token.claim": "false"}, true},
		{map[string]string{"claim.name": "x"}, true},                               // absent flag is false
		{map[string]string{"claim.name": "x", "lightweight.claim": "false"}, true}, // extra flag off
		{map[string]string{"claim.name": "x", "lightweight.claim": "true"}, false}, // extra setting on
		{map[string]string{"claim.name": "y", "id.token.claim": "false"}, false},   // value changed
		{map[string]string{"claim.name": "x", "id.token.claim": "true"}, false},    // flag switched on
	}
	for i, tc := range cases {
		if got := ClaimConfigMatches(tc.got, want); got != tc.want {
			t.Errorf("case %d: %v, want %v", i, got, tc.want)
		}
	}
}

func TestCheckClaims(t *testing.T) {
	ac := &authv1.AuthClient{}
	ac.Namespace, ac.Name = "shop", "frontend"
	ac.Spec.RoleGrants = []authv1.RoleGrant{{Client: authv1.ObjectReference{Name: "api", Namespace: "orders"}, Roles: []string{"r"}}}
	roles := func(ref *authv1.ObjectReference) authv1.Claim {
		return authv1.Claim{Type: authv1.ClaimClientRoles, Tokens: []authv1.TokenType{authv1.TokenID}, ClientRoles: &authv1.ClientRolesClaim{Client: ref}}
	}
	// A granted client, by two spellings of its reference: one token claim.
	ac.Spec.Claims = []authv1.Claim{roles(&authv1.ObjectReference{Name: "api", Namespace: "orders"}), roles(nil)}
	if p := CheckClaims(ac); len(p) != 0 {
		t.Errorf("granted and own roles: %v", p)
	}
	ac.Spec.Claims = append(ac.Spec.Claims, roles(&authv1.ObjectReference{Name: "api", Namespace: "orders"}), roles(&authv1.ObjectReference{Name: "other"}))
	p := CheckClaims(ac)
	if len(p) != 2 || p[0].Field != "spec.claims[2]" || p[1].Field != "spec.claims[3].clientRoles.client" {
		t.Errorf("problems %v, want the repeated grant and the client not granted", p)
	}
}
