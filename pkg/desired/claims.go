package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/Nerzal/gocloak/v14"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Keycloak's protocol mappers behind spec.claims (Keycloak 26.7.3,
// org.keycloak.protocol.oidc.mappers): the only types Nauthera creates.
const (
	HardcodedClaimMapperType  = "oidc-hardcoded-claim-mapper"
	UserAttributeMapperType   = "oidc-usermodel-attribute-mapper"
	GroupMembershipMapperType = "oidc-group-membership-mapper"
	ClientRolesMapperType     = "oidc-usermodel-client-role-mapper"

	// ClaimMapperPrefix starts the name of every claim mapper Nauthera
	// manages, as AudienceMapperPrefix does for audience mappers: the two
	// prefixes are the operator's marks on a client's mappers (a mapper's
	// name is unique per client). Mappers of other names are an
	// administrator's and are left alone.
	ClaimMapperPrefix = "nauthera-claim-"

	// DefaultClientRolesClaim is where Keycloak puts client roles
	// (resource_access.<clientId>.roles); the mapper replaces ${client_id}.
	DefaultClientRolesClaim = "resource_access.${client_id}.roles"
)

// Config keys of OIDC protocol mappers (OIDCAttributeMapperHelper and the
// mapper classes of Keycloak 26.7.3).
const (
	cfgAccessToken   = "access.token.claim"
	cfgIDToken       = "id.token.claim"
	cfgUserInfo      = "userinfo.token.claim"
	cfgIntrospection = "introspection.token.claim"
	// cfgLightweight and cfgTokenResponse are token types spec.claims does
	// not offer: always "false".
	cfgLightweight   = "lightweight.claim"
	cfgTokenResponse = "access.tokenResponse.claim"
	cfgClaimName     = "claim.name"
	cfgJSONType      = "jsonType.label"
	cfgClaimValue    = "claim.value"
	cfgUserAttribute = "user.attribute"
	cfgMultivalued   = "multivalued"
	cfgAggregate     = "aggregate.attrs"
	cfgFullPath      = "full.path"
	cfgRoleClientID  = "usermodel.clientRoleMapping.clientId"
)

// jsonTypes are Keycloak's spellings of a claim's JSON type
// (OIDCAttributeMapperHelper.mapAttributeValue switches on them, case
// sensitive).
var jsonTypes = map[authv1.ClaimValueType]string{
	"":        "String",
	"String":  "String",
	"Boolean": "boolean",
	"Long":    "long",
	"Int":     "int",
	"JSON":    "JSON",
}

// ClaimsInput is what the claim mappers of a client are made from.
type ClaimsInput struct {
	// Namespace and Name are the AuthClient's; ClientID its Keycloak clientId.
	Namespace string
	Name      string
	ClientID  string
	Claims    []authv1.Claim
	// RoleGrants are the AuthClient's spec.roleGrants: the other clients a
	// ClientRoles claim may list the roles of.
	RoleGrants []authv1.RoleGrant
	// GrantedClientIDs are the clientIds of the clients of RoleGrants that
	// were found among the AuthServer's clients.
	GrantedClientIDs map[types.NamespacedName]string
}

// ClaimMapper is the protocol mapper of one claim.
type ClaimMapper struct {
	// Claim is the claim's name as status.claims shows it: spec name, or
	// resource_access.<clientId>.roles for an unnamed ClientRoles claim.
	Claim  string
	Mapper gocloak.ProtocolMapperRepresentation
}

// ClaimProblem is a claim that gets no mapper, with the field to blame.
type ClaimProblem struct {
	Field   string
	Message string
}

func (p ClaimProblem) String() string { return p.Field + ": " + p.Message }

// ClaimMappers are the protocol mappers for in.Claims, in spec order, and
// the claims that cannot have one (which then get none; the others are
// still made). What the API server cannot check at admission is checked
// here: a JSON value that does not parse, the client of a ClientRoles claim
// (this one, or one of spec.roleGrants), two claims for one token claim.
func ClaimMappers(in ClaimsInput) ([]ClaimMapper, []ClaimProblem) {
	var out []ClaimMapper
	var problems []ClaimProblem
	seen := map[string]bool{}
	for i, c := range in.Claims {
		field := fmt.Sprintf("spec.claims[%d]", i)
		m, p := claimMapper(in, field, c)
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		if seen[m.Claim] {
			problems = append(problems, ClaimProblem{Field: field, Message: fmt.Sprintf("claim %q is already set by an earlier claim", m.Claim)})
			continue
		}
		seen[m.Claim] = true
		out = append(out, m)
	}
	return out, problems
}

// CheckClaims is what the admission webhook refuses of spec.claims: the
// problems ClaimMappers finds that the spec alone decides (a JSON value
// that does not parse, a ClientRoles client not in spec.roleGrants, a
// token claim set twice). Whether a granted client exists is left to the
// reconcile: it may come later in the same sync.
func CheckClaims(ac *authv1.AuthClient) []ClaimProblem {
	granted := map[types.NamespacedName]string{}
	for _, g := range ac.Spec.RoleGrants {
		// Stands for the clientId: one per client, as clientIds are.
		key := g.Client.In(ac.Namespace)
		granted[key] = "(" + key.String() + ")"
	}
	_, problems := ClaimMappers(ClaimsInput{
		Namespace: ac.Namespace, Name: ac.Name, ClientID: ac.EffectiveClientID(),
		Claims: ac.Spec.Claims, RoleGrants: ac.Spec.RoleGrants, GrantedClientIDs: granted,
	})
	return problems
}

// claimMapper is the mapper of one claim, or why it has none.
func claimMapper(in ClaimsInput, field string, c authv1.Claim) (ClaimMapper, *ClaimProblem) {
	config := tokenFlags(c.Tokens)
	config[cfgClaimName] = c.Name
	var typ string
	switch c.Type {
	case authv1.ClaimHardCoded:
		if c.HardCoded == nil {
			return ClaimMapper{}, &ClaimProblem{field + ".hardCoded", "is required for a HardCoded claim"}
		}
		if err := checkClaimValue(*c.HardCoded); err != nil {
			return ClaimMapper{}, &ClaimProblem{field + ".hardCoded.value", err.Error()}
		}
		typ = HardcodedClaimMapperType
		config[cfgClaimValue] = c.HardCoded.Value
		config[cfgJSONType] = jsonTypes[c.HardCoded.ValueType]
	case authv1.ClaimUserAttribute:
		if c.UserAttribute == nil {
			return ClaimMapper{}, &ClaimProblem{field + ".userAttribute", "is required for a UserAttribute claim"}
		}
		typ = UserAttributeMapperType
		config[cfgUserAttribute] = c.UserAttribute.Attribute
		config[cfgJSONType] = "String"
		config[cfgMultivalued] = flag(c.UserAttribute.Multivalued)
		config[cfgAggregate] = "false"
	case authv1.ClaimGroupMembership:
		typ = GroupMembershipMapperType
		config[cfgFullPath] = flag(c.GroupMembership != nil && c.GroupMembership.FullPath)
	case authv1.ClaimClientRoles:
		clientID, p := rolesClient(in, field, c)
		if p != nil {
			return ClaimMapper{}, p
		}
		typ = ClientRolesMapperType
		config[cfgRoleClientID] = clientID
		config[cfgJSONType] = "String"
		config[cfgMultivalued] = "true"
		if c.Name == "" {
			config[cfgClaimName] = DefaultClientRolesClaim
		}
	default:
		return ClaimMapper{}, &ClaimProblem{field + ".type", fmt.Sprintf("unknown claim type %q", c.Type)}
	}
	claim := strings.ReplaceAll(config[cfgClaimName], "${client_id}", config[cfgRoleClientID])
	return ClaimMapper{Claim: claim, Mapper: gocloak.ProtocolMapperRepresentation{
		Name:           gocloak.StringP(ClaimMapperName(claim)),
		Protocol:       gocloak.StringP(ProtocolOIDC),
		ProtocolMapper: gocloak.StringP(typ),
		Config:         config,
	}}, nil
}

// rolesClient is the clientId whose roles a ClientRoles claim lists: this
// client's, or that of a client of spec.roleGrants. The message is the
// same whether another namespace's AuthClient exists or not.
func rolesClient(in ClaimsInput, field string, c authv1.Claim) (string, *ClaimProblem) {
	if c.ClientRoles == nil || c.ClientRoles.Client == nil {
		return in.ClientID, nil
	}
	ref := c.ClientRoles.Client.In(in.Namespace)
	if ref == (types.NamespacedName{Namespace: in.Namespace, Name: in.Name}) {
		return in.ClientID, nil
	}
	granted := slices.ContainsFunc(in.RoleGrants, func(g authv1.RoleGrant) bool { return g.Client.In(in.Namespace) == ref })
	if !granted {
		return "", &ClaimProblem{field + ".clientRoles.client", fmt.Sprintf("AuthClient %s is not named in spec.roleGrants: a ClientRoles claim lists the roles of this client or of a client in spec.roleGrants", ref)}
	}
	id, ok := in.GrantedClientIDs[ref]
	if !ok {
		return "", &ClaimProblem{field + ".clientRoles.client", fmt.Sprintf("AuthClient %s is not a client of this AuthServer (yet); its roles are listed once it is", ref)}
	}
	return id, nil
}

// checkClaimValue refuses a hard-coded value Keycloak could not turn into
// its JSON type (Keycloak would then fail every token the claim is in).
// The schema checks Boolean, Long and Int too; JSON needs a parser, which
// CEL lacks.
func checkClaimValue(h authv1.HardCodedClaim) error {
	if h.ValueType == "JSON" && !json.Valid([]byte(h.Value)) {
		return fmt.Errorf("is not valid JSON (valueType JSON)")
	}
	return nil
}

// tokenFlags says, for every token type Keycloak knows, whether the claim
// reaches it. Every one is set: Keycloak treats an absent userinfo flag as
// the ID token's and an absent introspection flag as the access token's.
func tokenFlags(tokens []authv1.TokenType) map[string]string {
	return map[string]string{
		cfgAccessToken:   flag(slices.Contains(tokens, authv1.TokenAccess)),
		cfgIDToken:       flag(slices.Contains(tokens, authv1.TokenID)),
		cfgUserInfo:      flag(slices.Contains(tokens, authv1.TokenUserInfo)),
		cfgIntrospection: flag(slices.Contains(tokens, authv1.TokenIntrospection)),
		cfgLightweight:   "false",
		cfgTokenResponse: "false",
	}
}

func flag(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ClaimMapperName is the name of the mapper of a claim. Keycloak stores at
// most 255 characters of a name; longer ones are cut and a hash keeps
// names unique (as AudienceMapperName does).
func ClaimMapperName(claim string) string {
	name := ClaimMapperPrefix + claim
	if len(name) <= KeycloakMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(claim))
	suffix := "-" + hex.EncodeToString(sum[:8])
	return truncateRunes(name, KeycloakMaxLength-len(suffix)) + suffix
}

// OwnedClaimMapper says whether a mapper of a client is a claim mapper the
// operator manages (by its name).
func OwnedClaimMapper(m gocloak.ProtocolMapperRepresentation) bool {
	return strings.HasPrefix(gocloak.PString(m.Name), ClaimMapperPrefix)
}

// ClaimPlan is what turns a client's claim mappers into the wanted ones.
type ClaimPlan struct {
	// Add are mappers to create; Fix mappers to overwrite (edited in the
	// console), with their Keycloak id; Remove mappers no longer wanted (or
	// no longer of their type: removed and added again).
	Add    []gocloak.ProtocolMapperRepresentation
	Fix    []gocloak.ProtocolMapperRepresentation
	Remove []gocloak.ProtocolMapperRepresentation
	// Unmanaged are the names of the client's mappers that are neither
	// claim nor audience mappers of the operator, sorted.
	Unmanaged []string
}

// Empty says whether no mapper needs to change.
func (p ClaimPlan) Empty() bool { return len(p.Add)+len(p.Fix)+len(p.Remove) == 0 }

// PlanClaims compares the wanted claim mappers with a client's mappers.
func PlanClaims(want []ClaimMapper, actual []gocloak.ProtocolMapperRepresentation) ClaimPlan {
	var p ClaimPlan
	wanted := make(map[string]gocloak.ProtocolMapperRepresentation, len(want))
	for _, w := range want {
		wanted[gocloak.PString(w.Mapper.Name)] = w.Mapper
	}
	have := map[string]bool{}
	for _, m := range actual {
		name := gocloak.PString(m.Name)
		switch {
		case OwnedAudienceMapper(m):
			continue
		case !OwnedClaimMapper(m):
			p.Unmanaged = append(p.Unmanaged, name)
			continue
		}
		w, ok := wanted[name]
		switch {
		case !ok || have[name] || gocloak.PString(m.ProtocolMapper) != gocloak.PString(w.ProtocolMapper) ||
			gocloak.PString(m.Protocol) != ProtocolOIDC:
			// Not wanted, a duplicate, or of another type (Keycloak does
			// not change a mapper's type in place).
			p.Remove = append(p.Remove, m)
		case !ClaimConfigMatches(m.Config, w.Config):
			fixed := w
			fixed.ID = m.ID
			p.Fix = append(p.Fix, fixed)
			have[name] = true
		default:
			have[name] = true
		}
	}
	for _, w := range want {
		if !have[gocloak.PString(w.Mapper.Name)] {
			p.Add = append(p.Add, w.Mapper)
		}
	}
	slices.Sort(p.Unmanaged)
	return p
}

// ClaimConfigMatches says whether a mapper's stored settings are the wanted
// ones: every wanted setting as wanted (an absent flag counts as false),
// and no other setting switched on (a console edit can add one, such as
// the lightweight access token).
func ClaimConfigMatches(got, want map[string]string) bool {
	for k, v := range want {
		if g := got[k]; g != v && (v != "false" || g != "") {
			return false
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && g != "" && g != "false" {
			return false
		}
	}
	return true
}

// MapperNames are the names of mappers, for logs and Events.
func MapperNames(ms []gocloak.ProtocolMapperRepresentation) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, gocloak.PString(m.Name))
	}
	return out
}
