package desired

import (
	"slices"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func authClient(mut func(*authv1.AuthClientSpec)) *authv1.AuthClient {
	ac := &authv1.AuthClient{
		ObjectMeta: metav1.ObjectMeta{Name: "my-webapp", Namespace: "my-app-dev", UID: "uid-1"},
		Spec: authv1.AuthClientSpec{
			DisplayName:  "My Awesome Web App",
			RedirectURIs: []string{"https://my-webapp.dev.example.com/callback"},
			Scopes:       []string{"openid", "profile", "email", "api:read"},
			ClientType:   authv1.ClientTypeConfidential,
		},
	}
	if mut != nil {
		mut(&ac.Spec)
	}
	return ac
}

func TestClient(t *testing.T) {
	cases := []struct {
		name  string
		mut   func(*authv1.AuthClientSpec)
		check func(t *testing.T, c gocloak.Client)
	}{{
		name: "confidential defaults",
		check: func(t *testing.T, c gocloak.Client) {
			if gocloak.PString(c.ClientID) != "my-app-dev.my-webapp" || gocloak.PBool(c.PublicClient) || !gocloak.PBool(c.StandardFlowEnabled) {
				t.Errorf("clientId %q public %v standardFlow %v", gocloak.PString(c.ClientID), gocloak.PBool(c.PublicClient), gocloak.PBool(c.StandardFlowEnabled))
			}
			if gocloak.PBool(c.ServiceAccountsEnabled) || gocloak.PBool(c.DirectAccessGrantsEnabled) || gocloak.PBool(c.ImplicitFlowEnabled) {
				t.Error("only the authorization code flow should be on by default")
			}
			if gocloak.PString(c.ClientAuthenticatorType) != "client-secret" || c.Attributes[attrPKCE] != "" {
				t.Errorf("authenticator %q pkce %q", gocloak.PString(c.ClientAuthenticatorType), c.Attributes[attrPKCE])
			}
			if !slices.Equal(c.WebOrigins, []string{"+"}) || c.Attributes[attrPostLogout] != "+" || c.Attributes[attrUseRefreshTokens] != "true" {
				t.Errorf("webOrigins %v postLogout %q refresh %q", c.WebOrigins, c.Attributes[attrPostLogout], c.Attributes[attrUseRefreshTokens])
			}
			if c.Attributes[AttrOwner] != "my-app-dev/my-webapp" || c.Attributes[AttrOwnerUID] != "uid-1" {
				t.Errorf("owner attributes %v", c.Attributes)
			}
			if c.Secret != nil {
				t.Error("the desired client must never carry a secret: Keycloak issues it")
			}
		},
	}, {
		name: "public client gets PKCE S256 and no authenticator",
		mut:  func(s *authv1.AuthClientSpec) { s.ClientType = authv1.ClientTypePublic },
		check: func(t *testing.T, c gocloak.Client) {
			if !gocloak.PBool(c.PublicClient) || c.Attributes[attrPKCE] != "S256" || c.ClientAuthenticatorType != nil {
				t.Errorf("public %v pkce %q authenticator %v", gocloak.PBool(c.PublicClient), c.Attributes[attrPKCE], c.ClientAuthenticatorType)
			}
		},
	}, {
		name: "service account",
		mut: func(s *authv1.AuthClientSpec) {
			s.GrantTypes = []authv1.GrantType{authv1.GrantTypeClientCredentials}
			s.RedirectURIs = nil
		},
		check: func(t *testing.T, c gocloak.Client) {
			if !gocloak.PBool(c.ServiceAccountsEnabled) || gocloak.PBool(c.StandardFlowEnabled) || c.Attributes[attrUseRefreshTokens] != "false" {
				t.Errorf("serviceAccounts %v standardFlow %v refresh %q", gocloak.PBool(c.ServiceAccountsEnabled), gocloak.PBool(c.StandardFlowEnabled), c.Attributes[attrUseRefreshTokens])
			}
		},
	}, {
		name: "explicit clientId, origins and post-logout URIs",
		mut: func(s *authv1.AuthClientSpec) {
			s.ClientID = "webapp"
			s.WebOrigins = []string{"https://a.example.com"}
			s.PostLogoutRedirectURIs = []string{"https://a.example.com/bye", "https://a.example.com/bye2"}
		},
		check: func(t *testing.T, c gocloak.Client) {
			if gocloak.PString(c.ClientID) != "webapp" || !slices.Equal(c.WebOrigins, []string{"https://a.example.com"}) {
				t.Errorf("clientId %q origins %v", gocloak.PString(c.ClientID), c.WebOrigins)
			}
			if c.Attributes[attrPostLogout] != "https://a.example.com/bye##https://a.example.com/bye2" {
				t.Errorf("post logout %q", c.Attributes[attrPostLogout])
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, Client(authClient(tc.mut))) })
	}
}

func TestClientDiff(t *testing.T) {
	want := Client(authClient(nil))
	same := want
	same.RedirectURIs = []string{"https://my-webapp.dev.example.com/callback"}
	same.Attributes = map[string]string{"unmanaged": "x"}
	for k, v := range want.Attributes {
		same.Attributes[k] = v
	}
	if d := ClientDiff(want, same); len(d) != 0 {
		t.Errorf("equal clients differ in %v", d)
	}

	changed := MergeClient(want, same)
	changed.Name = gocloak.StringP("renamed")
	changed.RedirectURIs = []string{"https://evil.example.com"}
	changed.Attributes = map[string]string{AttrOwner: "my-app-dev/my-webapp"}
	d := ClientDiff(want, changed)
	for _, f := range []string{"name", "redirectUris", "attributes." + attrPostLogout} {
		if !slices.Contains(d, f) {
			t.Errorf("diff %v lacks %s", d, f)
		}
	}
	if slices.Contains(d, "attributes."+attrPKCE) {
		t.Error("an absent attribute must equal an empty one")
	}

	// Order of lists does not matter.
	two := want
	two.RedirectURIs = []string{"b", "a"}
	other := want
	other.RedirectURIs = []string{"a", "b"}
	if d := ClientDiff(two, other); len(d) != 0 {
		t.Errorf("reordered lists differ in %v", d)
	}
}

func TestMergeClientKeepsWhatItDoesNotManage(t *testing.T) {
	want := Client(authClient(nil))
	actual := gocloak.Client{
		ID:              gocloak.StringP("uuid"),
		ClientID:        want.ClientID,
		Secret:          gocloak.StringP("keycloaks-own"),
		ConsentRequired: gocloak.BoolP(true),
		Attributes:      map[string]string{"access.token.lifespan": "300"},
	}
	m := MergeClient(want, actual)
	if gocloak.PString(m.ID) != "uuid" || !gocloak.PBool(m.ConsentRequired) || m.Attributes["access.token.lifespan"] != "300" {
		t.Errorf("merge lost unmanaged fields: %+v", m)
	}
	if d := ClientDiff(want, m); len(d) != 0 {
		t.Errorf("merged client still differs in %v", d)
	}
	if actual.Attributes[AttrOwner] != "" {
		t.Error("merge must not modify its input's attribute map")
	}
}

func TestScopePlan(t *testing.T) {
	cases := []struct {
		name      string
		requested []string
		def, opt  []string
		want      []ScopeChange
	}{
		{"nothing requested leaves realm defaults", nil, []string{"profile", "email"}, []string{"phone"}, nil},
		{"in sync", []string{"openid", "profile", "api:read"}, []string{"acr", "basic", "profile", "api:read"}, nil, nil},
		{
			"missing custom scope and an extra one added in the console",
			[]string{"openid", "profile", "api:read"},
			[]string{"roles", "profile", "phone"}, []string{"address"},
			[]ScopeChange{{Name: "phone"}, {Name: "address", Optional: true}, {Name: "api:read", Add: true}},
		},
		{
			"offline_access is optional",
			[]string{"offline_access"},
			[]string{"web-origins"}, []string{"offline_access"},
			nil,
		},
		{
			"moved from optional to default",
			[]string{"email"},
			nil, []string{"email"},
			[]ScopeChange{{Name: "email", Optional: true}, {Name: "email", Add: true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ScopePlan(tc.requested, gocloak.Client{DefaultClientScopes: tc.def, OptionalClientScopes: tc.opt})
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCreateScopes(t *testing.T) {
	def, opt := CreateScopes([]string{"openid", "profile", "offline_access", "api:read"}, []string{"acr", "basic", "roles", "profile", "api:read"})
	if !slices.Equal(def, []string{"profile", "api:read", "acr", "basic", "roles"}) || !slices.Equal(opt, []string{"offline_access"}) {
		t.Errorf("def %v opt %v", def, opt)
	}
	if def, opt := CreateScopes(nil, []string{"acr"}); def != nil || opt != nil {
		t.Error("no scopes requested must leave Keycloak's defaults (nil lists)")
	}
	if _, opt := CreateScopes([]string{"email"}, nil); opt == nil || len(opt) != 0 {
		t.Error("scopes requested without optional ones must send an empty optional list, not nil")
	}
	if got := CustomScopes([]string{"openid", "profile", "api:read", "roles", "api:write"}); !slices.Equal(got, []string{"api:read", "api:write"}) {
		t.Errorf("custom scopes %v", got)
	}
}

func TestSecretData(t *testing.T) {
	ac := authClient(nil)
	d := SecretData(ac, "https://auth.example.com/realms/r/", "s3cret")
	want := map[string]string{
		KeyClientID:         "my-app-dev.my-webapp",
		KeyClientSecret:     "s3cret",
		KeyIssuerURL:        "https://auth.example.com/realms/r",
		KeyDiscoveryURL:     "https://auth.example.com/realms/r/.well-known/openid-configuration",
		KeyTokenURL:         "https://auth.example.com/realms/r/protocol/openid-connect/token",
		KeyAuthorizationURL: "https://auth.example.com/realms/r/protocol/openid-connect/auth",
		KeyScopes:           "openid profile email api:read",
		KeyRedirectURI:      "https://my-webapp.dev.example.com/callback",
	}
	for k, v := range want {
		if string(d[k]) != v {
			t.Errorf("%s = %q, want %q", k, d[k], v)
		}
	}
	if len(d) != len(want) {
		t.Errorf("unexpected keys: %d, want %d", len(d), len(want))
	}
	pub := SecretData(authClient(func(s *authv1.AuthClientSpec) { s.Scopes = []string{"profile"} }), "https://i", "")
	if _, ok := pub[KeyClientSecret]; ok {
		t.Error("a public client must get no client_secret key")
	}
	if string(pub[KeyScopes]) != "openid profile" {
		t.Errorf("scopes %q: openid goes first", pub[KeyScopes])
	}
}

func TestHash(t *testing.T) {
	a := map[string][]byte{"client_id": []byte("x"), "client_secret": []byte("y")}
	b := map[string][]byte{"client_secret": []byte("y"), "client_id": []byte("x")}
	if Hash(a) != Hash(b) {
		t.Error("hash depends on map order")
	}
	c := map[string][]byte{"client_id": []byte("x"), "client_secret": []byte("z")}
	if Hash(a) == Hash(c) {
		t.Error("hash ignores a changed secret")
	}
	// Key/value boundaries are part of the hash.
	if Hash(map[string][]byte{"ab": []byte("c")}) == Hash(map[string][]byte{"a": []byte("bc")}) {
		t.Error("hash confuses key and value boundaries")
	}
}

func TestRealm(t *testing.T) {
	as := &authv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Name: "production-server", Namespace: "security"},
		Spec:       authv1.AuthServerSpec{IssuerURL: "https://auth.prod.example.com"},
	}
	r := Realm(as)
	if gocloak.PString(r.Realm) != "production-server" || r.Attributes["frontendUrl"] != "https://auth.prod.example.com" {
		t.Errorf("realm %q frontendUrl %q", gocloak.PString(r.Realm), r.Attributes["frontendUrl"])
	}
	if !gocloak.PBool(r.EventsEnabled) || !gocloak.PBool(r.AdminEventsEnabled) {
		t.Error("events must be on for the audit trail")
	}
	if d := RealmDiff(r, r); len(d) != 0 {
		t.Errorf("realm differs from itself: %v", d)
	}
	actual := r
	actual.EventsEnabled = gocloak.BoolP(false)
	actual.Attributes = map[string]string{"frontendUrl": "https://other", AttrOwner: "security/production-server"}
	d := RealmDiff(r, actual)
	if !slices.Contains(d, "eventsEnabled") || !slices.Contains(d, "attributes.frontendUrl") {
		t.Errorf("diff %v", d)
	}
	as.Spec.RealmName = "prod"
	if got := gocloak.PString(Realm(as).Realm); got != "prod" {
		t.Errorf("spec.realmName ignored: %q", got)
	}
}

func TestCheckClientID(t *testing.T) {
	for _, tc := range []struct {
		ns, id string
		ok     bool
	}{
		{"team-a", "", true},
		{"team-a", "my-app", true},
		{"team-a", "team-a.web", true},
		{"team-a", "team-a.web.v2", true},
		{"team-a", "App.Web", true},        // no namespace has capitals
		{"team-a", "api:read.x", true},     // nor a colon
		{"team-a", "team-c.web", false},    // another namespace, existing or not
		{"team-a", "future-ns.web", false}, // a namespace that may be created later
		{"team-a", "com.example.app", false},
	} {
		ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: "web"}, Spec: authv1.AuthClientSpec{ClientID: tc.id}}
		if err := CheckClientID(ac, nil); (err == nil) != tc.ok {
			t.Errorf("%s in %s: err = %v, want ok %v", tc.id, tc.ns, err, tc.ok)
		}
	}
}

func TestCheckClientLimits(t *testing.T) {
	uri := func(n int) string {
		return "https://a.example.com/" + strings.Repeat("x", n-len("https://a.example.com/"))
	}
	base := func() *authv1.AuthClient {
		return &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"},
			Spec: authv1.AuthClientSpec{RedirectURIs: []string{uri(255)}, WebOrigins: []string{"+"}}}
	}
	if err := CheckClientLimits(base()); err != nil {
		t.Fatalf("255 characters fit: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*authv1.AuthClient)
	}{
		{"spec.redirectUris[1]", func(ac *authv1.AuthClient) { ac.Spec.RedirectURIs = append(ac.Spec.RedirectURIs, uri(256)) }},
		{"spec.webOrigins[0]", func(ac *authv1.AuthClient) { ac.Spec.WebOrigins = []string{uri(300)} }},
		{"spec.postLogoutRedirectUris[0]", func(ac *authv1.AuthClient) { ac.Spec.PostLogoutRedirectURIs = []string{uri(256)} }},
		{"spec.displayName", func(ac *authv1.AuthClient) { ac.Spec.DisplayName = strings.Repeat("é", 256) }},
		{"spec.clientId", func(ac *authv1.AuthClient) { ac.Spec.ClientID = strings.Repeat("c", 256) }},
		{"the default clientId", func(ac *authv1.AuthClient) {
			ac.Namespace = strings.Repeat("n", 63)
			ac.Name = strings.Repeat("a", 200)
		}},
	} {
		ac := base()
		tc.edit(ac)
		if err := CheckClientLimits(ac); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v", tc.field, err)
		}
	}
	// The description the operator writes stays within the limit for the longest names.
	ac := base()
	ac.Namespace, ac.Name = strings.Repeat("n", 63), strings.Repeat("a", 239)
	if d := *Client(ac).Description; len([]rune(d)) > KeycloakMaxLength {
		t.Errorf("description of %d characters", len([]rune(d)))
	}
}

func TestCheckClientIDAllowedPrefixes(t *testing.T) {
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"}, Spec: authv1.AuthClientSpec{ClientID: "com.example.app"}}
	if CheckClientID(ac, []string{"org.example."}) == nil {
		t.Error("another prefix must not allow it")
	}
	if err := CheckClientID(ac, []string{"org.example.", "com.example."}); err != nil {
		t.Errorf("an allowed prefix: %v", err)
	}
}

func TestGovernedScopes(t *testing.T) {
	if got := GovernedScopes([]string{}, nil); got != nil {
		t.Errorf("no policy and scopes: [] must keep the realm's defaults (nil), got %#v", got)
	}
	if got := GovernedScopes(nil, nil); got != nil {
		t.Errorf("no policy, no scopes: %#v", got)
	}
	if got := GovernedScopes([]string{"openid", "api:read"}, nil); len(got) != 2 {
		t.Errorf("no policy: %v", got)
	}
	if got := GovernedScopes(nil, []string{"openid", "profile"}); strings.Join(got, ",") != "openid,profile" {
		t.Errorf("policy, none asked for: the allowed usual ones, got %v", got)
	}
	if got := GovernedScopes([]string{"api:admin"}, []string{"openid"}); got == nil || len(got) != 0 {
		t.Errorf("policy, only forbidden ones: an empty, non-nil list (remove all), got %#v", got)
	}
}
