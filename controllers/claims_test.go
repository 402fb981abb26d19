package controllers_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Typed protocol mappers (issue 22, spec.claims), proven with real tokens
// of a user signed in through Keycloak's login form.

// loginServer makes an AuthServer whose issuer is the test Keycloak itself,
// so that its login form can be posted to (a realm's frontend URL is its
// issuer), and waits until it is Ready.
func loginServer(t *testing.T, name, extra string) *authv1.AuthServer {
	t.Helper()
	theOperator(t)
	ensureNamespace(t, "security", nil)
	as := &authv1.AuthServer{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: %s, namespace: security}
spec:
  issuerUrl: %q
  deletionPolicy: Delete
%s`, name, kc.URL, extra), as)
	t.Cleanup(func() { deleteAndWait(t, as) })
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	return as
}

// loginOf is the application of an AuthClient: its Secret's credentials.
func loginOf(t *testing.T, ac *authv1.AuthClient) testbed.Login {
	t.Helper()
	s := secretOf(t, ac.Namespace, ac.SecretName())
	return testbed.Login{
		Issuer: string(s.Data["issuer_url"]), ClientID: string(s.Data["client_id"]), ClientSecret: string(s.Data["client_secret"]),
		RedirectURI: ac.Spec.RedirectURIs[0], Scopes: []string{"openid", "profile", "email"},
	}
}

// tokenViews are what a signed-in user's tokens say, by token type: the
// access and ID tokens decoded, the userinfo and introspection answers.
type tokenViews map[authv1.TokenType]map[string]any

// signIn signs user in and reads all four views of the session.
func signIn(t *testing.T, l testbed.Login, user, password string) tokenViews {
	t.Helper()
	ctx := context.Background()
	tok, err := l.SignIn(ctx, user, password)
	if err != nil {
		t.Fatalf("%s signs in: %v", user, err)
	}
	v := tokenViews{}
	access, id := map[string]any{}, map[string]any{}
	claimsOf(t, tok.AccessToken, &access)
	rawID, _ := tok.Extra("id_token").(string)
	claimsOf(t, rawID, &id)
	v[authv1.TokenAccess], v[authv1.TokenID] = access, id
	if v[authv1.TokenUserInfo], err = l.UserInfo(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if v[authv1.TokenIntrospection], err = l.Introspect(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if v[authv1.TokenIntrospection]["active"] != true {
		// Keycloak 26.7 answers only a client in the token's aud.
		t.Fatalf("introspection with the client's credentials (aud %v): %v", access["aud"], v[authv1.TokenIntrospection])
	}
	return v
}

var allTokens = []authv1.TokenType{authv1.TokenAccess, authv1.TokenID, authv1.TokenUserInfo, authv1.TokenIntrospection}

// claimAt is the value at a dotted path of a view (nil: absent).
func claimAt(view map[string]any, path ...string) any {
	var cur any = view
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// holds says whether a claim value is want or a list holding it.
func holds(v any, want string) bool {
	if list, ok := v.([]any); ok {
		return slices.ContainsFunc(list, func(e any) bool { return fmt.Sprint(e) == want })
	}
	return v != nil && fmt.Sprint(v) == want
}

// expectClaim checks that a claim (path) holds want in exactly the views
// of in, and is absent from the others.
func expectClaim(t *testing.T, v tokenViews, want string, in []authv1.TokenType, path ...string) {
	t.Helper()
	for _, tt := range allTokens {
		got := claimAt(v[tt], path...)
		switch {
		case slices.Contains(in, tt) && !holds(got, want):
			t.Errorf("%s: claim %s = %v, want %q", tt, strings.Join(path, "."), got, want)
		case !slices.Contains(in, tt) && got != nil:
			t.Errorf("%s: claim %s = %v, want it absent (the claim names only %v)", tt, strings.Join(path, "."), got, in)
		}
	}
}

// createUser makes a user with a password in the console.
func createUser(t *testing.T, realm, name, lastName string) string {
	t.Helper()
	gc, tok := console(t)
	ctx := context.Background()
	id, err := gc.CreateUser(ctx, tok, realm, gocloak.User{
		Username: gocloak.StringP(name), Enabled: gocloak.BoolP(true), EmailVerified: gocloak.BoolP(true),
		Email: gocloak.StringP(name + "@example.com"), FirstName: gocloak.StringP("Carol"), LastName: gocloak.StringP(lastName),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.SetPassword(ctx, tok, id, realm, name+"-password", false); err != nil {
		t.Fatal(err)
	}
	return id
}

// mapperNamed is the client's mapper of this name (nil: none).
func mapperNamed(t *testing.T, realm, clientID, name string) *gocloak.ProtocolMapperRepresentation {
	t.Helper()
	cl := keycloakClient(t, realm, clientID)
	for _, m := range cl.ProtocolMappers {
		if gocloak.PString(m.Name) == name {
			return &m
		}
	}
	return nil
}

// eventNote waits for an Event of this type and reason about obj whose
// note holds part, and returns the note.
func eventNote(t *testing.T, obj client.Object, typ, reason, part string) string {
	t.Helper()
	var note string
	eventually(t, 60*time.Second, fmt.Sprintf("%s Event %s naming %s", typ, reason, part), func() error {
		for _, e := range events(t, obj, typ, reason) {
			if strings.Contains(e.Note, part) {
				note = e.Note
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	return note
}

// portalClaims puts each claim type into other token types. The portal
// names itself as an audience: Keycloak answers an introspection only for
// a client in the token's aud.
const portalClaims = `  audiences: [{name: portal}]
  claims:
  - {name: tier, type: HardCoded, tokens: [AccessToken, Introspection], hardCoded: {value: gold}}
  - {name: surname, type: UserAttribute, tokens: [IDToken, UserInfo], userAttribute: {attribute: lastName}}
  - {name: teams, type: GroupMembership, tokens: [AccessToken, UserInfo], groupMembership: {fullPath: true}}
  - {name: app_roles, type: ClientRoles, tokens: [IDToken, Introspection]}
  - {type: ClientRoles, tokens: [IDToken]}
`

// Each claim type appears in exactly the token types it names; a console
// edit of a Nauthera mapper is reverted with an Event naming it; a
// console-added mapper is left alone and reported; a claim removed from
// the spec leaves new tokens.
func TestClaimsReachExactlyTheirTokens(t *testing.T) {
	integration(t)
	as := loginServer(t, "claims-server", "")
	realm := as.Status.RealmName
	ensureNamespace(t, "claims-app", nil)
	ctx := context.Background()
	gc, tok := console(t)

	userID := createUser(t, realm, "carol", "Liddell")
	parent, err := gc.CreateGroup(ctx, tok, realm, gocloak.Group{Name: gocloak.StringP("engineering")})
	if err != nil {
		t.Fatal(err)
	}
	child, err := gc.CreateChildGroup(ctx, tok, realm, parent, gocloak.Group{Name: gocloak.StringP("backend")})
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddUserToGroup(ctx, tok, realm, userID, child); err != nil {
		t.Fatal(err)
	}

	portal := &authv1.AuthClient{}
	apply(t, authClient("claims-app", "portal", "claims-server", portalClaims), portal)
	t.Cleanup(func() { deleteAndWait(t, portal) })
	waitReady(t, portal, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	clientID := portal.Status.ClientID
	if want := []string{"tier", "surname", "teams", "app_roles", "resource_access." + clientID + ".roles"}; !slices.Equal(portal.Status.Claims, want) {
		t.Errorf("status.claims = %v, want %v", portal.Status.Claims, want)
	}
	if len(portal.Status.UnmanagedMappers) != 0 {
		t.Errorf("status.unmanagedMappers = %v on a client with only Nauthera's mappers", portal.Status.UnmanagedMappers)
	}

	// A role of the portal for carol (spec.roles is omitted: the client's
	// roles are left alone).
	cl := keycloakClient(t, realm, clientID)
	if _, err := gc.CreateClientRole(ctx, tok, realm, *cl.ID, gocloak.Role{Name: gocloak.StringP("viewer")}); err != nil {
		t.Fatal(err)
	}
	role, err := gc.GetClientRole(ctx, tok, realm, *cl.ID, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddClientRolesToUser(ctx, tok, realm, *cl.ID, userID, []gocloak.Role{*role}); err != nil {
		t.Fatal(err)
	}

	login := loginOf(t, portal)
	v := signIn(t, login, "carol", "carol-password")
	expectClaim(t, v, "gold", []authv1.TokenType{authv1.TokenAccess, authv1.TokenIntrospection}, "tier")
	expectClaim(t, v, "Liddell", []authv1.TokenType{authv1.TokenID, authv1.TokenUserInfo}, "surname")
	// teams names the access token but not introspection, and the unnamed
	// ClientRoles claim (below) the ID token but not userinfo: Keycloak
	// would carry each into the other unless told not to.
	expectClaim(t, v, "/engineering/backend", []authv1.TokenType{authv1.TokenAccess, authv1.TokenUserInfo}, "teams")
	expectClaim(t, v, "viewer", []authv1.TokenType{authv1.TokenID, authv1.TokenIntrospection}, "app_roles")
	// The unnamed ClientRoles claim goes where Keycloak puts client roles;
	// access tokens (and so introspection) carry them through the realm's
	// default roles scope anyway, so only the ID token and userinfo tell.
	if !holds(claimAt(v[authv1.TokenID], "resource_access", clientID, "roles"), "viewer") {
		t.Errorf("ID token resource_access = %v, want %s.roles [viewer]", v[authv1.TokenID]["resource_access"], clientID)
	}
	if got := claimAt(v[authv1.TokenUserInfo], "resource_access"); got != nil {
		t.Errorf("userinfo resource_access = %v, want none", got)
	}

	// A console edit of a Nauthera mapper (tier into ID tokens too) and a
	// console-added mapper.
	tier := mapperNamed(t, realm, clientID, "nauthera-claim-tier")
	if tier == nil {
		t.Fatal("no mapper nauthera-claim-tier")
	}
	tier.Config["id.token.claim"] = "true"
	if err := gc.UpdateClientProtocolMapper(ctx, tok, realm, *cl.ID, *tier.ID, *tier); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.CreateClientProtocolMapper(ctx, tok, realm, *cl.ID, gocloak.ProtocolMapperRepresentation{
		Name: gocloak.StringP("admin-extra"), Protocol: gocloak.StringP("openid-connect"), ProtocolMapper: gocloak.StringP(desired.HardcodedClaimMapperType),
		Config: map[string]string{"claim.name": "extra", "claim.value": "x", "id.token.claim": "true", "access.token.claim": "false", "userinfo.token.claim": "false", "introspection.token.claim": "false"},
	}); err != nil {
		t.Fatal(err)
	}
	// Drift has no watch: the next resync (2 s here, slower on a loaded
	// machine) reverts it.
	eventually(t, 90*time.Second, "console edit of nauthera-claim-tier reverted", func() error {
		if m := mapperNamed(t, realm, clientID, "nauthera-claim-tier"); m == nil || m.Config["id.token.claim"] != "false" {
			return fmt.Errorf("tier mapper: %+v", m)
		}
		return nil
	})
	note := eventNote(t, portal, "Warning", authv1.ReasonClaimDriftReverted, `"nauthera-claim-tier"`)
	t.Logf("ClaimDriftReverted: %s", note)
	eventNote(t, portal, "Normal", authv1.ReasonUnmanagedMapper, `"admin-extra"`)
	eventually(t, 60*time.Second, "status.unmanagedMappers lists admin-extra", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(portal), portal); err != nil {
			return err
		}
		if !slices.Equal(portal.Status.UnmanagedMappers, []string{"admin-extra"}) {
			return fmt.Errorf("status.unmanagedMappers = %v", portal.Status.UnmanagedMappers)
		}
		return nil
	})
	if mapperNamed(t, realm, clientID, "admin-extra") == nil {
		t.Error("the console-added mapper was removed")
	}
	v = signIn(t, login, "carol", "carol-password")
	expectClaim(t, v, "gold", []authv1.TokenType{authv1.TokenAccess, authv1.TokenIntrospection}, "tier")
	// Seen once, reported once: the Event is not repeated on every reconcile.
	if n := occurrences(settledEvents(t, portal, "Normal", authv1.ReasonUnmanagedMapper)); n != 1 {
		t.Errorf("%d UnmanagedMapper Events, want 1", n)
	}

	// The tier claim leaves the spec: its mapper goes, and new tokens lack it.
	editClient(t, portal, func(ac *authv1.AuthClient) {
		ac.Spec.Claims = slices.DeleteFunc(ac.Spec.Claims, func(c authv1.Claim) bool { return c.Name == "tier" })
	})
	eventually(t, 30*time.Second, "mapper nauthera-claim-tier removed", func() error {
		if m := mapperNamed(t, realm, clientID, "nauthera-claim-tier"); m != nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	eventually(t, 30*time.Second, "status.claims without tier", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(portal), portal); err != nil {
			return err
		}
		if portal.Status.ObservedGeneration != portal.Generation || slices.Contains(portal.Status.Claims, "tier") {
			return fmt.Errorf("generation %d observed %d, status.claims %v", portal.Generation, portal.Status.ObservedGeneration, portal.Status.Claims)
		}
		return nil
	})
	v = signIn(t, login, "carol", "carol-password")
	expectClaim(t, v, "", nil, "tier")
	expectClaim(t, v, "Liddell", []authv1.TokenType{authv1.TokenID, authv1.TokenUserInfo}, "surname")
	if mapperNamed(t, realm, clientID, "admin-extra") == nil {
		t.Error("the console-added mapper was removed with the claim")
	}
}

// An ID token from an authorization-code login carries the groups of a
// user of an LDAP-federated realm.
func TestClaimsCarryLDAPGroups(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "claims-ldap-bind", map[string]string{"password": ldapSrv.ServicePassword})
	userStore(t, "claims-directory", "claims-ldap-bind", "")
	as := loginServer(t, "claims-ldap", "  userStoreRef: {name: claims-directory}")
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	ensureNamespace(t, "claims-ldap-app", nil)
	intranet := &authv1.AuthClient{}
	apply(t, authClient("claims-ldap-app", "intranet", "claims-ldap", `  audiences: [{name: intranet}]
  claims:
  - {name: groups, type: GroupMembership, tokens: [IDToken]}
`), intranet)
	t.Cleanup(func() { deleteAndWait(t, intranet) })
	waitReady(t, intranet, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	v := signIn(t, loginOf(t, intranet), "alice", "alice-password")
	if v[authv1.TokenID]["preferred_username"] != "alice" {
		t.Errorf("ID token of %v, want the LDAP user alice", v[authv1.TokenID]["preferred_username"])
	}
	for _, g := range []string{"admins", "developers"} {
		if !holds(v[authv1.TokenID]["groups"], g) {
			t.Errorf("ID token groups = %v, want the LDAP group %s", v[authv1.TokenID]["groups"], g)
		}
	}
	if got := v[authv1.TokenAccess]["groups"]; got != nil {
		t.Errorf("access token groups = %v; the claim names the ID token only", got)
	}
}

// What the API server cannot decide (a JSON value that does not parse,
// past a disabled webhook; the roles of a client that is not granted) is
// reported with the field named; the other claims are in force and the
// credentials delivered.
func TestClaimsInvalidAtReconcile(t *testing.T) {
	integration(t)
	as := loginServer(t, "claims-bad", "")
	ensureNamespace(t, "claims-bad-app", nil)
	bad := &authv1.AuthClient{}
	apply(t, authClient("claims-bad-app", "bad", "claims-bad", `  claims:
  - {name: cfg, type: HardCoded, tokens: [AccessToken], hardCoded: {value: '{"a": ', valueType: JSON}}
  - {name: stolen, type: ClientRoles, tokens: [AccessToken], clientRoles: {client: {name: payments, namespace: other}}}
  - {name: tier, type: HardCoded, tokens: [AccessToken], hardCoded: {value: gold}}
`), bad)
	t.Cleanup(func() { deleteAndWait(t, bad) })
	cond := waitReady(t, bad, metav1.ConditionFalse, authv1.ReasonClaimInvalid, 60*time.Second)
	for _, want := range []string{"spec.claims[0].hardCoded.value: is not valid JSON", "spec.claims[1].clientRoles.client: AuthClient other/payments is not named in spec.roleGrants"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if note := warningEvent(t, bad, authv1.ReasonClaimInvalid); !strings.Contains(note, "spec.claims[0]") {
		t.Errorf("Warning Event %q does not name the field", note)
	}
	if !slices.Equal(bad.Status.Claims, []string{"tier"}) {
		t.Errorf("status.claims = %v, want [tier]", bad.Status.Claims)
	}
	if s := secretOf(t, "claims-bad-app", bad.SecretName()); string(s.Data["client_id"]) != bad.Status.ClientID || len(s.Data["client_secret"]) == 0 {
		t.Errorf("credentials Secret holds %v, want the client's credentials", slices.Collect(maps.Keys(s.Data)))
	}
	for _, name := range []string{"nauthera-claim-cfg", "nauthera-claim-stolen"} {
		if m := mapperNamed(t, as.Status.RealmName, bad.Status.ClientID, name); m != nil {
			t.Errorf("mapper %s exists for an invalid claim", name)
		}
	}
	if mapperNamed(t, as.Status.RealmName, bad.Status.ClientID, "nauthera-claim-tier") == nil {
		t.Error("the valid claim has no mapper")
	}

	// A service-account client gets no mappers of Keycloak's own on the
	// client (they come with the realm's client scopes): nothing to report.
	w := &authv1.AuthClient{}
	apply(t, authClient("claims-bad-app", "worker", "claims-bad", worker), w)
	t.Cleanup(func() { deleteAndWait(t, w) })
	waitReady(t, w, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	if len(w.Status.UnmanagedMappers) != 0 || len(w.Status.Claims) != 0 {
		t.Errorf("worker: status.unmanagedMappers %v, status.claims %v", w.Status.UnmanagedMappers, w.Status.Claims)
	}
	if n := len(settledEvents(t, w, "Normal", authv1.ReasonUnmanagedMapper)); n != 0 {
		t.Errorf("%d UnmanagedMapper Events about a client with no mappers", n)
	}
}

// A ClientRoles claim of a client in spec.roleGrants lists that client's
// roles the caller holds, under the clientId Nauthera provisioned for it:
// the API declares the role (spec.roles) and the roleGrants step gives it
// to the caller's service account (same namespace: consent implied).
func TestClaimsListGrantedClientRoles(t *testing.T) {
	integration(t)
	as := loginServer(t, "claims-grant", "")
	realm := as.Status.RealmName
	ensureNamespace(t, "claims-grant-app", nil)
	api := &authv1.AuthClient{}
	apply(t, authClient("claims-grant-app", "api", "claims-grant", worker+`
  roles:
  - {name: "orders:read", description: "Read orders"}
`), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	caller := &authv1.AuthClient{}
	apply(t, authClient("claims-grant-app", "caller", "claims-grant", worker+`
  roleGrants:
  - client: {name: api}
    roles: [orders:read]
  claims:
  - {name: api_roles, type: ClientRoles, tokens: [AccessToken], clientRoles: {client: {name: api}}}
`), caller)
	t.Cleanup(func() { deleteAndWait(t, caller) })
	waitReady(t, caller, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	m := mapperNamed(t, realm, caller.Status.ClientID, "nauthera-claim-api_roles")
	if m == nil || m.Config["usermodel.clientRoleMapping.clientId"] != api.Status.ClientID {
		t.Fatalf("mapper of api_roles: %+v, want the roles of clientId %s", m, api.Status.ClientID)
	}

	jwt, err := clientToken(t, realm, "claims-grant-app", caller.SecretName())
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	claimsOf(t, jwt.AccessToken, &claims)
	if !holds(claims["api_roles"], "orders:read") {
		t.Errorf("caller's access token api_roles = %v, want [orders:read]", claims["api_roles"])
	}

	// Steady state: the mappers come with the client read of each resync;
	// nothing is written while they match.
	op := theOperator(t)
	mapperRequests := func() int {
		return op.count(func(o, _ string) bool { return strings.HasPrefix(o, "client.mapper.") })
	}
	before, finds := mapperRequests(), op.calls("client.find")
	eventually(t, 120*time.Second, "two resyncs of both clients", func() error {
		if n := op.calls("client.find") - finds; n < 4 {
			return fmt.Errorf("%d client reads", n)
		}
		return nil
	})
	if n := mapperRequests() - before; n != 0 {
		t.Errorf("%d mapper requests in steady state, want 0", n)
	}
}
