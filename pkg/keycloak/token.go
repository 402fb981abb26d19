package keycloak

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// Credentials log in to the Keycloak admin API: either an admin user
// (Username and Password, through the admin-cli client), a service-account
// client (ClientID and ClientSecret), or a service-account client that
// authenticates with a federated JWT (ClientID and TokenFile: the
// operator's own Kubernetes service-account token, see federated.go).
type Credentials struct {
	Username     string
	Password     string
	ClientID     string
	ClientSecret string
	// TokenFile is the path of a projected service-account token, re-read
	// on every login (the kubelet rotates it). It is a path, not a secret.
	TokenFile string
	// Assertion, when set instead of TokenFile, returns the client
	// assertion at each login (a token the operator requests for another
	// ServiceAccount); AssertionFrom names where it comes from, for the
	// pool's key and for messages.
	Assertion     func(context.Context) (string, error)
	AssertionFrom string
}

// String never prints the credentials, so a stray %v cannot leak them.
func (c Credentials) String() string {
	if c.ClientID != "" && c.federated() {
		return "client " + c.ClientID + " (federated JWT from " + c.TokenFile + c.AssertionFrom + ")"
	}
	if c.ClientID != "" {
		return "client " + c.ClientID + " (secret redacted)"
	}
	return "user " + c.Username + " (password redacted)"
}

// GoString covers %#v.
func (c Credentials) GoString() string { return c.String() }

func (c Credentials) valid() bool {
	if c.Assertion != nil && c.AssertionFrom == "" {
		return false // the pool could not tell two sources apart
	}
	return (c.Username != "" && c.Password != "") || (c.ClientID != "" && (c.ClientSecret != "" || c.federated()))
}

// tokenCache holds the admin access token and renews it shortly before it
// expires: by refresh token while that is valid, else by a new login. All
// callers share one token, and one renewal at a time runs.
//
// Hand-written rather than golang.org/x/oauth2's ReuseTokenSource because the
// cache must also be invalidated on a 401 (a token revoked in Keycloak) and
// must fall back to a fresh login when the refresh token has expired.
type tokenCache struct {
	gc    *gocloak.GoCloak
	creds Credentials
	realm string
	now   func() time.Time

	mu            sync.Mutex
	access        string
	accessExpiry  time.Time
	margin        time.Duration
	refresh       string
	refreshExpiry time.Time
}

// maxExpiryMargin is how long before expiry a token is renewed. For short
// lifetimes a quarter of the lifetime is used instead.
const maxExpiryMargin = 10 * time.Second

func (t *tokenCache) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.access != "" && now.Before(t.accessExpiry.Add(-t.margin)) {
		return t.access, nil
	}
	if t.refresh != "" && now.Before(t.refreshExpiry.Add(-t.margin)) {
		jwt, err := t.gc.RefreshToken(withOperation(ctx, "token.refresh"), t.refresh, "admin-cli", "", t.realm)
		if err == nil {
			t.store(jwt, now)
			return t.access, nil
		}
		if kindOf(apiCode(err)) == KindTransient {
			return "", wrap("token.refresh", err)
		}
		// The session behind the refresh token has ended: log in again.
	}
	jwt, err := t.login(withOperation(ctx, "token.login"))
	if err != nil {
		t.access, t.refresh = "", ""
		var aerr *assertionError
		if errors.As(err, &aerr) {
			return "", aerr.cause
		}
		switch code := apiCode(err); code {
		case http.StatusBadRequest, http.StatusUnauthorized:
			// Keycloak answers wrong admin credentials with 400 invalid_grant
			// (password) or 401 unauthorized_client (client credentials).
			return "", &Error{Operation: "token.login", Code: code, Kind: KindUnauthorized,
				Message: "Keycloak refused the admin credentials for realm " + t.realm + ": " + err.Error()}
		case http.StatusNotFound:
			// Not "object not found": callers would take it for "already deleted".
			return "", &Error{Operation: "token.login", Code: code, Kind: KindUnauthorized,
				Message: "no admin realm " + t.realm + " at this URL (wrong Keycloak URL, an /auth suffix, or a wrong admin realm?)"}
		}
		return "", wrap("token.login", err)
	}
	t.store(jwt, now)
	return t.access, nil
}

func (t *tokenCache) login(ctx context.Context) (*gocloak.JWT, error) {
	if t.creds.federated() {
		return t.loginFederated(ctx)
	}
	if t.creds.ClientID != "" {
		return t.gc.LoginClient(ctx, t.creds.ClientID, t.creds.ClientSecret, t.realm)
	}
	return t.gc.LoginAdmin(ctx, t.creds.Username, t.creds.Password, t.realm)
}

func (t *tokenCache) store(jwt *gocloak.JWT, issued time.Time) {
	lifetime := time.Duration(jwt.ExpiresIn) * time.Second
	t.access = jwt.AccessToken
	t.accessExpiry = issued.Add(lifetime)
	t.margin = min(maxExpiryMargin, lifetime/4)
	t.refresh = jwt.RefreshToken
	t.refreshExpiry = issued.Add(time.Duration(jwt.RefreshExpiresIn) * time.Second)
	if jwt.RefreshExpiresIn == 0 && jwt.RefreshToken != "" {
		// Offline tokens report no expiry; treat the refresh token as good for the
		// access token's lifetime so a failure falls back to login soon.
		t.refreshExpiry = t.accessExpiry
	}
}

// invalidate drops tok if it is still the cached token (Keycloak refused it),
// so the next call logs in again. The refresh token goes too: a revoked
// session cannot be refreshed.
func (t *tokenCache) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access == tok {
		t.access, t.refresh = "", ""
	}
}
