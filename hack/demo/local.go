package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"github.com/coreos/go-oidc/v3/oidc"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The specification's AuthServer publishes https://auth.prod.example.com, so
// no URL in its clients' Secrets works on the machine that runs the demo. The
// demo adds a second AuthServer whose issuer is this machine's Keycloak, and
// a client of it that is both a web app (a browser login) and a service (the
// client-credentials grant): everything in that client's Secret works here.
const (
	localServer    = "local-server" // AuthServer security/local-server, realm local-server
	localClient    = "local-webapp" // AuthClient my-app-dev/local-webapp
	localNamespace = "my-app-dev"
	// demoUser signs in to the local realm in a browser. A fixed, printed
	// password like Keycloak's own admin/admin of the test bed: the Keycloak
	// listens on 127.0.0.1 only and lives as long as the demo.
	demoUser     = "demo"
	demoPassword = "demo"
)

// local is the demo's local AuthServer and AuthClient, and the callback
// server on 127.0.0.1 that a browser login returns to.
type local struct {
	ln       net.Listener
	srv      *http.Server
	redirect string

	mu       sync.Mutex
	oauth    *oauth2.Config
	provider *oidc.Provider
	// logins are the login URLs handed out, by state: the PKCE verifier,
	// and whether the login is the demo's own check (used once, not announced).
	logins map[string]login
}

type login struct {
	verifier string
	check    bool
}

// newLocal opens the callback server's socket: its port goes into the
// AuthClient's redirect URI.
func newLocal() (*local, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("callback listener: %w", err)
	}
	l := &local{ln: ln, redirect: "http://" + ln.Addr().String() + "/callback"}
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", l.callback)
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.srv.Serve(ln) }() // ends with Close
	return l, nil
}

func (l *local) close() {
	if l != nil {
		_ = l.srv.Close()
	}
}

// manifests are the local AuthServer (issuer: the Keycloak of this machine,
// no policy selected) and its AuthClient.
func (l *local) manifests(keycloakURL string) string {
	return fmt.Sprintf(`apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata:
  name: %[1]s
  namespace: security
spec:
  issuerUrl: %[2]q
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata:
  name: %[3]s
  namespace: %[4]s
spec:
  displayName: "My Web App, on this machine"
  authServerRef:
    name: %[1]s
    namespace: security
  grantTypes: [authorization_code, refresh_token, client_credentials]
  redirectUris:
    - %[5]q
  scopes: [openid, profile, email]
`, localServer, keycloakURL, localClient, localNamespace, l.redirect)
}

// localProof is what the demo shows of the local client: claims of a token
// and a login URL, never a secret or a token.
type localProof struct {
	secret      map[string]string
	tokenClaims map[string]any
	loginURL    string
	// checkedAs is the user the demo signed in as through a login URL like
	// loginURL, as the check that it works.
	checkedAs string
}

// prove uses the local client's Secret as an app would: the discovery
// document at issuer_url, a client-credentials token from token_url with
// client_id and client_secret (verified against the realm's keys), and a
// login URL at authorization_url for redirect_uri, checked by signing in
// once as the demo user, whom it adds to the local realm first.
func (l *local) prove(ctx context.Context, secret map[string]string, kcURL, admin, adminPassword string) (*localProof, error) {
	for _, k := range []string{"client_id", "client_secret", "issuer_url", "token_url", "authorization_url", "redirect_uri"} {
		if secret[k] == "" {
			return nil, fmt.Errorf("the Secret has no %s", k)
		}
	}
	provider, err := oidc.NewProvider(ctx, secret["issuer_url"])
	if err != nil {
		return nil, fmt.Errorf("discovery at the Secret's issuer_url: %w", err)
	}
	cc := clientcredentials.Config{
		ClientID: secret["client_id"], ClientSecret: secret["client_secret"],
		TokenURL: secret["token_url"], AuthStyle: oauth2.AuthStyleInHeader, // client_secret_basic
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("client-credentials token from the Secret's token_url: %w", err)
	}
	at, err := provider.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, tok.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("verifying the access token against the realm's keys: %w", err)
	}
	p := &localProof{secret: secret}
	if err := at.Claims(&p.tokenClaims); err != nil {
		return nil, err
	}

	if err := addDemoUser(ctx, kcURL, admin, adminPassword); err != nil {
		return nil, fmt.Errorf("demo user: %w", err)
	}
	oc := &oauth2.Config{
		ClientID: secret["client_id"], ClientSecret: secret["client_secret"],
		Endpoint: oauth2.Endpoint{
			AuthURL: secret["authorization_url"], TokenURL: secret["token_url"], AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: secret["redirect_uri"],
		Scopes:      strings.Fields(secret["scopes"]),
	}
	l.mu.Lock()
	l.oauth, l.provider, l.logins = oc, provider, map[string]login{}
	l.mu.Unlock()
	p.loginURL = l.loginURL(false)
	if p.checkedAs, err = l.signIn(ctx, l.loginURL(true)); err != nil {
		return nil, fmt.Errorf("signing in as %s through the login URL: %w", demoUser, err)
	}
	return p, nil
}

// loginURL is a new login at the Secret's authorization_url, with its own
// state and PKCE verifier.
func (l *local) loginURL(check bool) string {
	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logins[state] = login{verifier: verifier, check: check}
	return l.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// loginForm reads Keycloak's login form (id kc-form-login) from page, a
// page served at base: its action, resolved against base, and the values
// of its inputs (hidden ones such as credentialId included; submit buttons
// and unchecked boxes left out, as a browser does). An HTML parser, not a
// pattern over the markup: attribute order, quoting and entities vary with
// the theme and Keycloak's version.
func loginForm(page string, base *url.URL) (string, url.Values, error) {
	doc, err := xhtml.Parse(strings.NewReader(page))
	if err != nil {
		return "", nil, err
	}
	form := findElement(doc, func(n *xhtml.Node) bool { return n.DataAtom == atom.Form && attr(n, "id") == "kc-form-login" })
	if form == nil {
		return "", nil, errors.New("no login form (id kc-form-login) on the page the login URL leads to")
	}
	action, err := base.Parse(attr(form, "action"))
	if err != nil || attr(form, "action") == "" {
		return "", nil, fmt.Errorf("the login form has no usable action %q", attr(form, "action"))
	}
	values := url.Values{}
	findElement(form, func(n *xhtml.Node) bool {
		name := attr(n, "name")
		if n.DataAtom != atom.Input || name == "" {
			return false
		}
		switch strings.ToLower(attr(n, "type")) {
		case "submit", "button", "image", "reset", "file":
			return false
		case "checkbox", "radio":
			if !hasAttr(n, "checked") {
				return false
			}
		}
		values.Set(name, attr(n, "value"))
		return false // every input
	})
	return action.String(), values, nil
}

// findElement is the first node under n (n included), depth first, for
// which match is true.
func findElement(n *xhtml.Node, match func(*xhtml.Node) bool) *xhtml.Node {
	if n.Type == xhtml.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if found := findElement(c, match); found != nil {
			return found
		}
	}
	return nil
}

func attr(n *xhtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *xhtml.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

// signIn does once what a person does in a browser: open the login URL,
// post the demo user's name and password to Keycloak's login form, and
// follow the redirects to the callback. It returns the name the callback
// found in the verified ID token.
func (l *local) signIn(ctx context.Context, loginURL string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page, at, err := fetch(ctx, browser, http.MethodGet, loginURL, nil)
	if err != nil {
		return "", err
	}
	action, form, err := loginForm(page, at)
	if err != nil {
		return "", err
	}
	form.Set("username", demoUser)
	form.Set("password", demoPassword)
	body, _, err := fetch(ctx, browser, http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	name, ok := strings.CutPrefix(body, signedInPrefix)
	if !ok {
		return "", fmt.Errorf("the login did not reach the callback: %.200q", body)
	}
	name, _, _ = strings.Cut(name, " ")
	return name, nil
}

// fetch sends a request (a form if body is set) and returns the final
// page, which must answer 200, and its URL.
func fetch(ctx context.Context, c *http.Client, method, target string, body io.Reader) (string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", nil, urlError(method, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", nil, urlError(method, err)
	}
	defer func() { _ = resp.Body.Close() }()
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s %s: HTTP %d", method, withoutQuery(resp.Request.URL.String()), resp.StatusCode)
	}
	return string(page), resp.Request.URL, nil
}

// urlError is err without the query of the URL that a *url.Error names
// (a callback's authorization code, a login action's session code).
func urlError(method string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", method, withoutQuery(ue.URL), ue.Err)
	}
	return err
}

// withoutQuery is a URL for an error message: no query (an authorization
// code, a state, a session code), no user information.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
	return u.String()
}

// addDemoUser creates the user who signs in to the local realm in a
// browser. The realm's users would come from a UserStore in production; the
// demo has no directory, so it adds one through the admin API as a person
// would in the admin console (hence gocloak here, not pkg/keycloak, which
// holds the operator's verbs only).
func addDemoUser(ctx context.Context, kcURL, admin, adminPassword string) error {
	gc := gocloak.NewClient(kcURL)
	jwt, err := gc.LoginAdmin(ctx, admin, adminPassword, "master")
	if err != nil {
		return err
	}
	_, err = gc.CreateUser(ctx, jwt.AccessToken, localServer, gocloak.User{
		Username: gocloak.StringP(demoUser), Enabled: gocloak.BoolP(true),
		FirstName: gocloak.StringP("Demo"), LastName: gocloak.StringP("User"),
		Email: gocloak.StringP("demo@example.com"), EmailVerified: gocloak.BoolP(true),
		Credentials: []gocloak.CredentialRepresentation{{
			Type: gocloak.StringP("password"), Value: gocloak.StringP(demoPassword), Temporary: gocloak.BoolP(false),
		}},
	})
	return err
}

// callback completes a browser login: it checks the state, exchanges the
// code (with the PKCE verifier and the Secret's credentials), verifies the
// ID token and shows its claims. Tokens are never shown.
func (l *local) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	oc, provider := l.oauth, l.provider
	lg, known := l.logins[q.Get("state")]
	if known && lg.check {
		delete(l.logins, q.Get("state")) // the demo's own check is used once
	}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case oc == nil:
		http.Error(w, "the demo is not ready for a login yet", http.StatusServiceUnavailable)
		return
	case q.Get("error") != "":
		http.Error(w, fmt.Sprintf("Keycloak refused the login: %s: %s", q.Get("error"), q.Get("error_description")), http.StatusBadRequest)
		return
	case !known:
		http.Error(w, "unknown state: open the login URL the demo printed", http.StatusBadRequest)
		return
	}
	tok, err := oc.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(lg.verifier))
	if err != nil {
		http.Error(w, "exchanging the code: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: oc.ClientID}).Verify(r.Context(), raw)
	if err != nil {
		http.Error(w, "verifying the ID token: "+err.Error(), http.StatusBadGateway)
		return
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	user, _ := claims["preferred_username"].(string)
	_, _ = fmt.Fprintf(w, "%s%s through the AuthClient %s/%s, with the values of its Secret.\n\nID token claims (verified against the realm's keys):\n%s",
		signedInPrefix, user, localNamespace, localClient, formatClaims(claims, nil, ""))
	if !lg.check {
		fmt.Printf("\n      browser login: %s signed in; ID token verified (its claims are shown in the browser)\n", user)
	}
}

// signedInPrefix starts the callback's page after a login.
const signedInPrefix = "Signed in as "

// formatClaims lists claims sorted by name, one a line, times in UTC; only
// those named in only, when it is set, with a line that counts the others.
func formatClaims(claims map[string]any, only []string, indent string) string {
	keys := make([]string, 0, len(claims))
	for k := range claims {
		if only == nil || slices.Contains(only, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := claims[k]
		var s string
		switch k {
		case "exp", "iat", "auth_time", "nbf":
			if f, ok := v.(float64); ok {
				s = time.Unix(int64(f), 0).UTC().Format(time.RFC3339)
			}
		}
		if s == "" {
			j, _ := json.Marshal(v)
			s = string(j)
		}
		fmt.Fprintf(&b, "%s%-20s %s\n", indent, k, s)
	}
	if more := len(claims) - len(keys); more > 0 {
		fmt.Fprintf(&b, "%s(%d more claims: %s)\n", indent, more, strings.Join(otherKeys(claims, only), ", "))
	}
	return b.String()
}

func otherKeys(claims map[string]any, only []string) []string {
	var out []string
	for k := range claims {
		if !slices.Contains(only, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// secretData decodes a Secret's data from `kubectl get secret -o json`.
func secretData(raw string) (map[string]string, error) {
	var s struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(s.Data))
	for k, v := range s.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}
