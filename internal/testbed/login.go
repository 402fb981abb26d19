package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Login is an application that signs users in with the authorization
// code flow (with PKCE) through Keycloak's login form, as e2e's
// authCodeLogin does with a credentials Secret: the same form post, here
// usable by the controllers' tests, which run no browser either.
type Login struct {
	// Issuer is the realm's issuer URL (…/realms/<realm>).
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURI is registered on the client; the flow stops when
	// Keycloak redirects there (nothing needs to answer at it).
	RedirectURI string
	Scopes      []string
}

// loginFormAction finds the action of Keycloak's login form (id
// kc-form-login), whichever order the attributes come in.
var loginFormAction = regexp.MustCompile(`(?s)<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="kc-form-login"`)

// SignIn signs user in with password and exchanges the code with the
// client's credentials. The ID token is tok.Extra("id_token").
func (l Login) SignIn(ctx context.Context, user, password string) (*oauth2.Token, error) {
	cfg := oauth2.Config{
		ClientID: l.ClientID, ClientSecret: l.ClientSecret, RedirectURL: l.RedirectURI, Scopes: l.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  l.Issuer + "/protocol/openid-connect/auth",
			TokenURL: l.Issuer + "/protocol/openid-connect/token",
		},
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), l.RedirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	state, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	page, err := get(ctx, browser, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	m := loginFormAction.FindStringSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no login form in Keycloak's page: %.300q", page)
	}
	form := url.Values{"username": {user}, "password": {password}, "credentialId": {""}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, html.UnescapeString(m[1]+m[2]), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browser.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("the login did not redirect (HTTP %d): %w", resp.StatusCode, err)
	}
	if !strings.HasPrefix(loc.String(), l.RedirectURI) || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("redirected to %s, not the redirect URI with the state and a code", loc)
	}
	return cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// UserInfo is the realm's userinfo answer for an access token.
func (l Login) UserInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.Issuer+"/protocol/openid-connect/userinfo", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return doJSON(req)
}

// Introspect is the realm's introspection answer for a token, asked with
// the client's own credentials.
func (l Login) Introspect(ctx context.Context, token string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.Issuer+"/protocol/openid-connect/token/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(l.ClientID), url.QueryEscape(l.ClientSecret))
	return doJSON(req)
}

func get(ctx context.Context, c *http.Client, target string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d: %.300q", target, resp.StatusCode, body)
	}
	return string(body), nil
}

func doJSON(req *http.Request) (map[string]any, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %.300q", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	out := map[string]any{}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return out, nil
}
