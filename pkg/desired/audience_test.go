package desired

import (
	"slices"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func TestAudienceMapperNameFitsKeycloak(t *testing.T) {
	if got := AudienceMapperName("shop.orders-api"); got != "nauthera-audience-shop.orders-api" {
		t.Errorf("short clientId: %q", got)
	}
	long1, long2 := strings.Repeat("a", 255), strings.Repeat("a", 254)+"b"
	n1, n2 := AudienceMapperName(long1), AudienceMapperName(long2)
	if len(n1) > KeycloakMaxLength || len(n2) > KeycloakMaxLength {
		t.Errorf("names of %d and %d characters: Keycloak stores at most %d", len(n1), len(n2), KeycloakMaxLength)
	}
	if n1 == n2 {
		t.Error("two long clientIds that differ at the end got the same mapper name")
	}
	if !strings.HasPrefix(n1, AudienceMapperPrefix) {
		t.Errorf("long name %q lost the prefix that marks it as managed", n1)
	}
}

// mapperAs is a mapper as Keycloak returns it: with an id and the flags it
// fills in itself.
func mapperAs(id, clientID string, edit func(map[string]string)) gocloak.ProtocolMapperRepresentation {
	m := AudienceMapper(clientID)
	m.ID = gocloak.StringP(id)
	m.Config["userinfo.token.claim"] = "false"
	if edit != nil {
		edit(m.Config)
	}
	return m
}

func TestPlanAudiences(t *testing.T) {
	admins := gocloak.ProtocolMapperRepresentation{ID: gocloak.StringP("x"), Name: gocloak.StringP("audience for the gateway"),
		ProtocolMapper: gocloak.StringP(AudienceMapperType), Config: map[string]string{"included.custom.audience": "gateway"}}
	actual := gocloak.Client{ProtocolMappers: []gocloak.ProtocolMapperRepresentation{
		admins,
		mapperAs("1", "shop.orders", nil),
		mapperAs("2", "shop.billing", func(c map[string]string) { c["access.token.claim"] = "false" }), // edited in the console
		mapperAs("3", "old.api", nil),
	}}
	p := PlanAudiences([]string{"shop.orders", "shop.billing", "web.new"}, actual)
	if !slices.Equal(p.Add, []string{"web.new"}) {
		t.Errorf("Add = %v, want [web.new]", p.Add)
	}
	if len(p.Fix) != 1 || gocloak.PString(p.Fix[0].ID) != "2" || p.Fix[0].Config["access.token.claim"] != "true" {
		t.Errorf("Fix = %+v, want mapper 2 restored", p.Fix)
	}
	if !slices.Equal(p.Remove, []string{"3"}) {
		t.Errorf("Remove = %v, want [3] (the administrator's mapper x is not ours)", p.Remove)
	}
	if got := AudiencesOf(actual); !slices.Equal(got, []string{"old.api", "shop.billing", "shop.orders"}) {
		t.Errorf("AudiencesOf = %v", got)
	}

	// Keycloak as it is after the plan: nothing left to do.
	done := gocloak.Client{ProtocolMappers: []gocloak.ProtocolMapperRepresentation{
		admins, mapperAs("1", "shop.orders", nil), mapperAs("2", "shop.billing", nil), mapperAs("4", "web.new", nil),
	}}
	if p := PlanAudiences([]string{"shop.orders", "shop.billing", "web.new"}, done); !p.Empty() {
		t.Errorf("steady state plans %+v", p)
	}
	// A managed name on another mapper type is replaced; a duplicate removed.
	odd := gocloak.Client{ProtocolMappers: []gocloak.ProtocolMapperRepresentation{
		mapperAs("5", "shop.orders", nil), mapperAs("6", "shop.orders", nil),
	}}
	odd.ProtocolMappers[0].ProtocolMapper = gocloak.StringP("oidc-hardcoded-claim-mapper")
	p = PlanAudiences([]string{"shop.orders"}, odd)
	if !slices.Equal(p.Remove, []string{"5"}) || len(p.Add) != 0 || len(p.Fix) != 0 {
		t.Errorf("plan %+v: want mapper 5 (wrong type) removed and 6 kept", p)
	}
	if p := PlanAudiences(nil, done); len(p.Remove) != 3 {
		t.Errorf("no audiences wanted: plan %+v, want the 3 managed mappers removed", p)
	}
}

func TestAudienceConsents(t *testing.T) {
	api := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-api"}}
	if !AudienceConsents(api, "shop", "anything") {
		t.Error("a client of the same namespace needs no consent")
	}
	if AudienceConsents(api, "web", "frontend") {
		t.Error("no audienceAccess: another namespace must be refused")
	}
	api.Spec.AudienceAccess = &authv1.AudienceAccess{
		Namespaces: []string{"web"},
		Clients:    []authv1.NamespacedReference{{Namespace: "mobile", Name: "app"}},
	}
	for _, c := range []struct {
		ns, name string
		want     bool
	}{{"web", "frontend", true}, {"mobile", "app", true}, {"mobile", "other", false}, {"evil", "app", false}, {"webx", "frontend", false}} {
		if got := AudienceConsents(api, c.ns, c.name); got != c.want {
			t.Errorf("%s/%s: consent %v, want %v", c.ns, c.name, got, c.want)
		}
	}
}

// After a create whose outcome was unknown, only our mapper exactly as we
// make it counts as stored: not one by that name with other settings, of
// another type, or not ours.
func TestHasAudienceMapper(t *testing.T) {
	with := func(ms ...gocloak.ProtocolMapperRepresentation) gocloak.Client {
		return gocloak.Client{ProtocolMappers: ms}
	}
	foreign := mapperAs("1", "shop.orders", nil)
	foreign.Name = gocloak.StringP("audience shop.orders") // an administrator's, without our prefix
	otherType := mapperAs("1", "shop.orders", nil)
	otherType.ProtocolMapper = gocloak.StringP("oidc-hardcoded-claim-mapper")
	for name, tc := range map[string]struct {
		c    gocloak.Client
		want bool
	}{
		"as made":              {with(mapperAs("1", "shop.orders", nil)), true},
		"none":                 {with(), false},
		"another audience":     {with(mapperAs("1", "shop.billing", nil)), false},
		"settings edited":      {with(mapperAs("1", "shop.orders", func(c map[string]string) { c["access.token.claim"] = "false" })), false},
		"another type":         {with(otherType), false},
		"not ours (no prefix)": {with(foreign), false},
	} {
		if got := HasAudienceMapper(tc.c, "shop.orders"); got != tc.want {
			t.Errorf("%s: HasAudienceMapper = %v, want %v", name, got, tc.want)
		}
	}
}
