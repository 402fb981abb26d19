package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func TestLocalManifests(t *testing.T) {
	l := &local{redirect: "http://127.0.0.1:4242/callback"}
	docs := strings.Split(l.manifests("http://127.0.0.1:8080"), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want an AuthServer and an AuthClient", len(docs))
	}
	var as authv1.AuthServer
	var ac authv1.AuthClient
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &as); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &ac); err != nil {
		t.Fatal(err)
	}
	if as.Kind != "AuthServer" || as.Name != localServer || as.Spec.IssuerURL != "http://127.0.0.1:8080" || as.Spec.PolicySelector != nil {
		t.Errorf("AuthServer = %s %s issuer %q selector %v, want %s with the local issuer and no policy", as.Kind, as.Name, as.Spec.IssuerURL, as.Spec.PolicySelector, localServer)
	}
	if ac.Kind != "AuthClient" || ac.Namespace != localNamespace || ac.Spec.AuthServerRef.Name != localServer || ac.Spec.AuthServerRef.Namespace != as.Namespace {
		t.Errorf("AuthClient %s/%s refers to %+v, want %s/%s", ac.Namespace, ac.Name, ac.Spec.AuthServerRef, as.Namespace, as.Name)
	}
	if !slices.Equal(ac.Spec.RedirectURIs, []string{l.redirect}) {
		t.Errorf("redirectUris = %v, want the callback %s", ac.Spec.RedirectURIs, l.redirect)
	}
	for _, g := range []authv1.GrantType{authv1.GrantTypeClientCredentials, "authorization_code"} {
		if !slices.Contains(ac.Spec.GrantTypes, g) {
			t.Errorf("grantTypes %v lack %s", ac.Spec.GrantTypes, g)
		}
	}
}

func TestFormatClaims(t *testing.T) {
	claims := map[string]any{
		"iss": "http://127.0.0.1:8080/realms/local-server", "exp": float64(1765004400), "scope": "email profile",
		"realm_access": map[string]any{"roles": []any{"a"}}, "jti": "x",
	}
	got := formatClaims(claims, []string{"iss", "exp", "scope"}, "  ")
	want := "  exp                  2025-12-06T07:00:00Z\n" +
		"  iss                  \"http://127.0.0.1:8080/realms/local-server\"\n" +
		"  scope                \"email profile\"\n" +
		"  (2 more claims: jti, realm_access)\n"
	if got != want {
		t.Errorf("formatClaims =\n%s\nwant\n%s", got, want)
	}
	if all := formatClaims(claims, nil, ""); strings.Count(all, "\n") != 5 || strings.Contains(all, "more claims") {
		t.Errorf("all claims =\n%s", all)
	}
}

func TestSecretData(t *testing.T) {
	got, err := secretData(`{"data":{"client_id":"YXBw","scopes":"b3BlbmlkIGVtYWls"}}`)
	if err != nil || got["client_id"] != "app" || got["scopes"] != "openid email" {
		t.Errorf("secretData = %v, %v", got, err)
	}
	if _, err := secretData(`{"data":{"client_id":"not base64!"}}`); err == nil || !strings.Contains(err.Error(), "client_id") {
		t.Errorf("bad base64: err = %v, want one naming the key", err)
	}
}

// The callback completes only logins it handed out (their state).
func TestCallbackRefusesUnknownState(t *testing.T) {
	l := &local{logins: map[string]login{}}
	rec := httptest.NewRecorder()
	l.callback(rec, httptest.NewRequest(http.MethodGet, "/callback?state=x&code=y", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before the demo is ready: HTTP %d, want 503", rec.Code)
	}
	l.oauth = &oauth2.Config{Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1:1/auth"}}
	u := l.loginURL(false)
	if !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "state=") {
		t.Errorf("login URL %s lacks PKCE S256 or a state", u)
	}
	rec = httptest.NewRecorder()
	l.callback(rec, httptest.NewRequest(http.MethodGet, "/callback?state=forged&code=y", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "unknown state") {
		t.Errorf("forged state: HTTP %d %q, want 400 unknown state", rec.Code, rec.Body.String())
	}
}

// Keycloak's login page (keycloak.v2 theme) as a browser gets it: the form
// is read with an HTML parser, whatever the attribute order, quoting and
// entities; hidden inputs are kept, buttons and unchecked boxes are not.
func TestLoginForm(t *testing.T) {
	const action = "/realms/local-server/login-actions/authenticate?session_code=s1&execution=e1&client_id=my-app-dev.local-webapp&tab_id=t1"
	base, _ := url.Parse("http://127.0.0.1:8080/realms/local-server/protocol/openid-connect/auth?client_id=x")
	for name, page := range map[string]string{
		"keycloak.v2": `<!DOCTYPE html><html><body><form id="kc-select-try-another-way-form" action="/elsewhere" method="post"></form>
<div id="kc-form"><div id="kc-form-wrapper">
<form id="kc-form-login" class="pf-v5-c-form" onsubmit="login.disabled = true; return true;" action="http://127.0.0.1:8080/realms/local-server/login-actions/authenticate?session_code=s1&amp;execution=e1&amp;client_id=my-app-dev.local-webapp&amp;tab_id=t1" method="post" novalidate="novalidate">
<div class="pf-v5-c-form__group"><input id="username" name="username" value="" type="text" autocomplete="username" autofocus></div>
<input id="password" name="password" value="" type="password">
<input type="checkbox" id="rememberMe" name="rememberMe">
<input type="hidden" id="id-hidden-input" name="credentialId"/>
<div class="pf-v5-c-form__actions"><button class="pf-v5-c-button" name="login" id="kc-login" type="submit">Sign In</button>
<input type="submit" name="login2" value="Sign In"></div>
</form></div></div></body></html>`,
		"action first, single quotes, relative action": `<form method=post action='` + strings.ReplaceAll(action, "&", "&amp;") + `' id='kc-form-login'>
<input name=username><INPUT TYPE=password NAME=password><input type=hidden name=credentialId value=""><input type=checkbox name=rememberMe checked></form>`,
	} {
		got, values, err := loginForm(page, base)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != "http://127.0.0.1:8080"+action {
			t.Errorf("%s: action = %s, want http://127.0.0.1:8080%s", name, got, action)
		}
		if _, ok := values["credentialId"]; !ok || values.Has("login") || values.Has("login2") {
			t.Errorf("%s: values = %v, want credentialId and no submit button", name, values)
		}
		if wantRemember := name != "keycloak.v2"; values.Has("rememberMe") != wantRemember {
			t.Errorf("%s: values = %v, rememberMe only when checked", name, values)
		}
	}
	if _, _, err := loginForm(`<html><form id="kc-register-form" action="/r"></form></html>`, base); err == nil || !strings.Contains(err.Error(), "kc-form-login") {
		t.Errorf("a page without the login form: err = %v", err)
	}
}

// An error names the URL it failed at without its query, where an
// authorization code or a session code would be.
func TestFetchErrorsHaveNoQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	_, _, err := fetch(t.Context(), srv.Client(), http.MethodGet, srv.URL+"/callback?state=s&code=SECRETCODE", nil)
	if err == nil || strings.Contains(err.Error(), "SECRETCODE") || !strings.Contains(err.Error(), "/callback: HTTP 502") {
		t.Errorf("err = %v, want HTTP 502 at /callback without the code", err)
	}
	_, _, err = fetch(t.Context(), srv.Client(), http.MethodGet, "http://127.0.0.1:1/callback?code=SECRETCODE", nil)
	if err == nil || strings.Contains(err.Error(), "SECRETCODE") {
		t.Errorf("err = %v, want a connection error without the code", err)
	}
}
