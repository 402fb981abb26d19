package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Keycloak's audience mapper: it adds a client's clientId to the `aud`
// claim of the tokens of the client that carries it.
const (
	AudienceMapperType = "oidc-audience-mapper"
	// AudienceMapperPrefix starts the name of every audience mapper the
	// operator manages; mappers of other names are an administrator's and
	// are left alone.
	AudienceMapperPrefix = "nauthera-audience-"

	configIncludedClient = "included.client.audience"
)

// audienceMapperConfig is the mapper's configuration besides the audience:
// the clientId goes into access tokens (what APIs check, lightweight ones
// included) and introspection answers, not into ID tokens, whose audience
// must stay the client itself (OpenID Connect Core 3.1.3.7).
var audienceMapperConfig = map[string]string{
	"access.token.claim":        "true",
	"introspection.token.claim": "true",
	"lightweight.claim":         "true",
	"id.token.claim":            "false",
}

// AudienceMapperName is the name of the mapper that puts clientID into a
// client's tokens. Keycloak stores at most 255 characters of a name (256
// answers HTTP 500); longer clientIds are cut and a hash keeps names unique.
func AudienceMapperName(clientID string) string {
	name := AudienceMapperPrefix + clientID
	if len(name) <= KeycloakMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(clientID))
	suffix := "-" + hex.EncodeToString(sum[:8])
	return truncateRunes(name, KeycloakMaxLength-len(suffix)) + suffix
}

// AudienceMapper is the protocol mapper that puts clientID into the `aud`
// claim of a client's access tokens.
func AudienceMapper(clientID string) gocloak.ProtocolMapperRepresentation {
	config := map[string]string{configIncludedClient: clientID}
	for k, v := range audienceMapperConfig {
		config[k] = v
	}
	return gocloak.ProtocolMapperRepresentation{
		Name:           gocloak.StringP(AudienceMapperName(clientID)),
		Protocol:       gocloak.StringP(ProtocolOIDC),
		ProtocolMapper: gocloak.StringP(AudienceMapperType),
		Config:         config,
	}
}

// OwnedAudienceMapper says whether a mapper of a client is one the operator
// manages (by its name).
func OwnedAudienceMapper(m gocloak.ProtocolMapperRepresentation) bool {
	return strings.HasPrefix(gocloak.PString(m.Name), AudienceMapperPrefix)
}

// AudienceMappers are the mappers for a list of audience clientIds.
func AudienceMappers(clientIDs []string) []gocloak.ProtocolMapperRepresentation {
	out := make([]gocloak.ProtocolMapperRepresentation, 0, len(clientIDs))
	for _, id := range clientIDs {
		out = append(out, AudienceMapper(id))
	}
	return out
}

// AudiencePlan is what turns a client's managed audience mappers into
// those of want.
type AudiencePlan struct {
	// Add are the clientIds without a mapper yet.
	Add []string
	// Fix are mappers to overwrite (edited in the console), with their
	// Keycloak id; Remove are the ids of mappers no longer wanted.
	Fix    []gocloak.ProtocolMapperRepresentation
	Remove []string
}

// Empty says whether nothing needs to change.
func (p AudiencePlan) Empty() bool { return len(p.Add)+len(p.Fix)+len(p.Remove) == 0 }

// PlanAudiences compares the audiences a client should have (clientIds)
// with the mappers it has. A managed mapper whose type or settings were
// changed is rewritten; one of a type that cannot be rewritten in place is
// removed and added again.
func PlanAudiences(want []string, actual gocloak.Client) AudiencePlan {
	var p AudiencePlan
	wanted := make(map[string]string, len(want)) // mapper name -> clientId
	for _, id := range want {
		wanted[AudienceMapperName(id)] = id
	}
	have := map[string]bool{}
	for _, m := range actual.ProtocolMappers {
		if !OwnedAudienceMapper(m) {
			continue
		}
		name := gocloak.PString(m.Name)
		id, ok := wanted[name]
		switch {
		case !ok || have[name] || gocloak.PString(m.ProtocolMapper) != AudienceMapperType:
			// Not wanted, a duplicate, or no longer an audience mapper.
			p.Remove = append(p.Remove, gocloak.PString(m.ID))
		case !audienceConfigMatches(m.Config, id):
			fixed := AudienceMapper(id)
			fixed.ID = m.ID
			p.Fix = append(p.Fix, fixed)
			have[name] = true
		default:
			have[name] = true
		}
	}
	for _, id := range want {
		if !have[AudienceMapperName(id)] {
			p.Add = append(p.Add, id)
		}
	}
	return p
}

// HasAudienceMapper reports whether c has the managed audience mapper for
// clientID exactly as AudienceMapper makes it: its name (which carries our
// prefix), its type and its settings. A create whose outcome was unknown
// must have stored that to be carried on with.
func HasAudienceMapper(c gocloak.Client, clientID string) bool {
	return slices.ContainsFunc(c.ProtocolMappers, func(m gocloak.ProtocolMapperRepresentation) bool {
		return gocloak.PString(m.Name) == AudienceMapperName(clientID) &&
			gocloak.PString(m.ProtocolMapper) == AudienceMapperType && audienceConfigMatches(m.Config, clientID)
	})
}

func audienceConfigMatches(config map[string]string, clientID string) bool {
	if config[configIncludedClient] != clientID || config["included.custom.audience"] != "" {
		return false
	}
	for k, v := range audienceMapperConfig {
		// Keycloak fills in what it was not sent; an absent flag counts as
		// false.
		got := config[k]
		if got == "" {
			got = "false"
		}
		if got != v {
			return false
		}
	}
	return true
}

// AudiencesOf lists the clientIds a client's managed audience mappers put
// into its tokens, sorted.
func AudiencesOf(c gocloak.Client) []string {
	var out []string
	for _, m := range c.ProtocolMappers {
		if OwnedAudienceMapper(m) && gocloak.PString(m.ProtocolMapper) == AudienceMapperType {
			if id := m.Config[configIncludedClient]; id != "" && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// AudienceConsents says whether target lets the AuthClient source (in
// sourceNamespace) name it in spec.audiences: always within a namespace,
// else when target's spec.audienceAccess lists the namespace or the client.
func AudienceConsents(target *authv1.AuthClient, sourceNamespace, sourceName string) bool {
	if target.Namespace == sourceNamespace {
		return true
	}
	access := target.Spec.AudienceAccess
	if access == nil {
		return false
	}
	if slices.Contains(access.Namespaces, sourceNamespace) {
		return true
	}
	return slices.ContainsFunc(access.Clients, func(c authv1.NamespacedReference) bool {
		return c.Namespace == sourceNamespace && c.Name == sourceName
	})
}
