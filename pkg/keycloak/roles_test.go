package keycloak_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Client roles and the client roles of a service account (RoleAdmin), each
// verb against the real Keycloak, with what Keycloak does at the edges
// measured (docs/operations/performance.md and the AuthClient reference
// rely on it).

// roleNames returns the sorted names of roles.
func roleNames(roles []keycloak.Role) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// roleNamed returns the role called name in roles (nil: none).
func roleNamed(roles []keycloak.Role, name string) *keycloak.Role {
	for i := range roles {
		if roles[i].Name == name {
			return &roles[i]
		}
	}
	return nil
}

func TestClientRoleVerbs(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, m := newAdmin(t)
	realm := testRealm(t, c)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("orders-api"), PublicClient: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}

	if roles, err := c.ListClientRoles(ctx, realm, id); err != nil || len(roles) != 0 {
		t.Fatalf("a new client has client roles %v (err %v), want none", roleNames(roles), err)
	}
	owner := map[string][]string{"nauthera.io/owner": {"shop/orders-api"}}
	// "/" and ":" travel in the path of update and delete (escaped).
	for _, name := range []string{"orders:write", "orders/read"} {
		if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: name, Description: "d " + name, Attributes: owner}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: "orders:write"}); !keycloak.IsConflict(err) {
		t.Errorf("second create of orders:write: want conflict (409), got %v", err)
	}
	// Names are compared case-sensitively: a name differing only by case is
	// another role (a database with a case-insensitive collation, such as
	// MySQL's default, would refuse it instead; admission refuses both).
	if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: "Orders:write"}); err != nil {
		t.Errorf("create Orders:write beside orders:write: %v", err)
	}
	if err := c.UpdateClientRole(ctx, realm, id, keycloak.Role{Name: "ORDERS:WRITE"}); !keycloak.IsNotFound(err) {
		t.Errorf("update of ORDERS:WRITE (only orders:write exists): want not found, got %v", err)
	}
	roles, err := c.ListClientRoles(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roleNames(roles), []string{"Orders:write", "orders/read", "orders:write"}; !slices.Equal(got, want) {
		t.Fatalf("roles %v, want %v", got, want)
	}
	w := roleNamed(roles, "orders:write")
	if w.Description != "d orders:write" || !slices.Equal(w.Attributes["nauthera.io/owner"], []string{"shop/orders-api"}) || w.ID == "" {
		t.Errorf("listed role %+v: description, owner attribute or id missing (briefRepresentation=false)", *w)
	}

	// An update replaces description and attributes.
	for _, name := range []string{"orders:write", "orders/read"} {
		if err := c.UpdateClientRole(ctx, realm, id, keycloak.Role{Name: name, Description: "new", Attributes: map[string][]string{"nauthera.io/owner": {"shop/x"}}}); err != nil {
			t.Fatalf("update %s: %v", name, err)
		}
	}
	roles, _ = c.ListClientRoles(ctx, realm, id)
	for _, name := range []string{"orders:write", "orders/read"} {
		if r := roleNamed(roles, name); r == nil || r.Description != "new" || !slices.Equal(r.Attributes["nauthera.io/owner"], []string{"shop/x"}) {
			t.Errorf("%s after update: %+v", name, r)
		}
	}
	if n := count(m, "client.role.update", "PUT", "204"); n != 2 {
		t.Errorf("client.role.update 204 counted %d times, want 2", n)
	}

	// The longest name the API allows (100), and a description of 255
	// characters that are two bytes each, are stored; Keycloak's columns
	// hold 255 characters (one more is an HTTP 500, a failed write).
	long := keycloak.Role{Name: strings.Repeat("n", 100), Description: strings.Repeat("é", 255)}
	if err := c.CreateClientRole(ctx, realm, id, long); err != nil {
		t.Errorf("create a 100-character role with a 255-character description: %v", err)
	}
	if err := c.CreateClientRole(ctx, realm, id, keycloak.Role{Name: "too-long", Description: strings.Repeat("x", 256)}); !keycloak.IsWriteFailed(err) {
		t.Errorf("a 256-character description: want a failed write, got %v", err)
	}

	if err := c.DeleteClientRole(ctx, realm, id, keycloak.Role{Name: "orders/read"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteClientRole(ctx, realm, id, keycloak.Role{Name: "orders/read"}); !keycloak.IsNotFound(err) {
		t.Errorf("second delete: want not found, got %v", err)
	}
	if _, err := c.ListClientRoles(ctx, realm, "no-such-client"); !keycloak.IsNotFound(err) {
		t.Errorf("roles of a missing client: want not found, got %v", err)
	}
}

func TestServiceAccountClientRoles(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	api, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("orders-api"), PublicClient: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders:read", "orders:write"} {
		if err := c.CreateClientRole(ctx, realm, api, keycloak.Role{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	worker, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("worker"), PublicClient: gocloak.BoolP(false), ServiceAccountsEnabled: gocloak.BoolP(true)})
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.ServiceAccountUserID(ctx, realm, worker)
	if err != nil || user == "" {
		t.Fatalf("service-account user: %q, %v", user, err)
	}
	// Keycloak answers 400 here; the verb says not found, as documented.
	if _, err := c.ServiceAccountUserID(ctx, realm, api); !keycloak.IsNotFound(err) {
		t.Errorf("service-account user of a client without one: want not found, got %v", err)
	}

	if got, err := c.ListUserClientRoles(ctx, realm, user, api); err != nil || len(got) != 0 {
		t.Fatalf("roles of a new service account: %v, %v", roleNames(got), err)
	}
	roles, _ := c.ListClientRoles(ctx, realm, api)
	if err := c.AddUserClientRoles(ctx, realm, user, api, roles); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListUserClientRoles(ctx, realm, user, api)
	if err != nil || !slices.Equal(roleNames(got), []string{"orders:read", "orders:write"}) {
		t.Fatalf("after add: %v, %v", roleNames(got), err)
	}
	secret, err := c.GetClientSecret(ctx, realm, worker)
	if err != nil {
		t.Fatal(err)
	}
	// A new client has fullScopeAllowed and the realm's default "roles"
	// scope: the roles land in resource_access.<clientId>.roles, and its
	// "audience resolve" mapper puts the API into aud. Granting a role
	// puts the API into the token's audience.
	tok := workerToken(t, realm, secret)
	if !slices.Equal(tok.roles("orders-api"), []string{"orders:read", "orders:write"}) || !slices.Contains(tok.aud(), "orders-api") {
		t.Errorf("token: resource_access roles %v, aud %v; want both roles and aud orders-api", tok.roles("orders-api"), tok.aud())
	}

	if err := c.RemoveUserClientRoles(ctx, realm, user, api, []keycloak.Role{*roleNamed(roles, "orders:write")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ListUserClientRoles(ctx, realm, user, api); !slices.Equal(roleNames(got), []string{"orders:read"}) {
		t.Errorf("after remove: %v", roleNames(got))
	}
	// A deleted role leaves newly issued tokens, and with the last role the
	// API leaves aud.
	if err := c.DeleteClientRole(ctx, realm, api, keycloak.Role{Name: "orders:read"}); err != nil {
		t.Fatal(err)
	}
	tok = workerToken(t, realm, secret)
	if r := tok.roles("orders-api"); len(r) != 0 || slices.Contains(tok.aud(), "orders-api") {
		t.Errorf("token after the roles went: resource_access roles %v, aud %v; want neither", r, tok.aud())
	}
}

// token is the payload of an access token.
type token struct {
	Aud            any `json:"aud"`
	ResourceAccess map[string]struct {
		Roles []string `json:"roles"`
	} `json:"resource_access"`
}

func (t token) roles(clientID string) []string {
	r := slices.Clone(t.ResourceAccess[clientID].Roles)
	slices.Sort(r)
	return r
}

func (t token) aud() []string {
	switch a := t.Aud.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// workerToken gets a client-credentials token for the worker client and
// decodes its payload (no signature check: it came straight from Keycloak).
func workerToken(t *testing.T, realm, secret string) token {
	t.Helper()
	jwt, err := gocloak.NewClient(kc.URL).LoginClient(context.Background(), "worker", secret, realm)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var out token
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
