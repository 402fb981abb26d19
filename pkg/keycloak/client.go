package keycloak

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// ScopeKind says how a client scope is assigned to a client.
type ScopeKind string

const (
	// DefaultScope: always included in tokens.
	DefaultScope ScopeKind = "default"
	// OptionalScope: included when the client asks for it.
	OptionalScope ScopeKind = "optional"
)

// Discovery holds the fields of an OpenID Connect discovery document that the operator uses.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// Config says how to reach and log in to a Keycloak server.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Credentials log in to AdminRealm.
	Credentials Credentials
	// AdminRealm holds the admin credentials; defaults to master.
	AdminRealm string
	// Timeout bounds each HTTP request; defaults to 10s.
	Timeout time.Duration
	// Metrics records every request; nil records into a private, unregistered set.
	Metrics *Metrics
	// InsecureSkipTLSVerify turns off certificate checks (local testing only).
	InsecureSkipTLSVerify bool
	// Limiter bounds the requests in flight to this Keycloak and honours
	// its Retry-After; nil gets a limiter of DefaultMaxInFlight of its own.
	// Clients of the same server share one (Pool does).
	Limiter *Limiter
	// WrapTransport, if set, wraps the HTTP transport below the metrics
	// (tests use it to inject faults into chosen operations; see OperationFrom).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// ServerInfoTTL is how long ServerInfo keeps an answer; 0: ServerInfoTTL.
	ServerInfoTTL time.Duration
}

// AdminClient implements Admin over gocloak. It is safe for concurrent use
// and shares one admin token among all callers.
type AdminClient struct {
	gc *gocloak.GoCloak
	// slow is gc with a longer timeout (slowTimeout), for the writes
	// whose cost grows with what Keycloak holds: creating and deleting a
	// realm.
	slow    *gocloak.GoCloak
	limiter *Limiter
	tokens  *tokenCache
	metrics *Metrics
	url     string
	realm   string // the admin realm
	timeout time.Duration
	server  serverInfoCache

	// identity is the user the connection acts as, once known (Identity).
	identityMu sync.Mutex
	identity   string
}

var _ Admin = (*AdminClient)(nil)

// New returns a client for the Keycloak at cfg.URL. It does not log in
// until the first call.
func New(cfg Config) (*AdminClient, error) {
	if cfg.URL == "" {
		return nil, errors.New("keycloak: URL is required")
	}
	if !cfg.Credentials.valid() {
		return nil, errors.New("keycloak: credentials need a username and password, or a client id and secret")
	}
	if cfg.AdminRealm == "" {
		cfg.AdminRealm = "master"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.ServerInfoTTL == 0 {
		cfg.ServerInfoTTL = ServerInfoTTL
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Reconciles run concurrently against one host; the default of 2 idle
	// connections per host would reopen connections all the time.
	base.MaxIdleConnsPerHost = 32
	if cfg.InsecureSkipTLSVerify {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in for local testing
	}
	var next http.RoundTripper = base
	if cfg.WrapTransport != nil {
		next = cfg.WrapTransport(base)
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(0)
	}
	// The limiter above the metrics: time spent waiting for a slot is not
	// Keycloak's latency, and a request that never left is not counted.
	transport := cfg.Limiter.wrap(&instrumentedTransport{next: next, metrics: cfg.Metrics})
	gc := gocloak.NewClient(strings.TrimRight(cfg.URL, "/"))
	gc.RestyClient().SetTransport(transport).SetTimeout(cfg.Timeout)
	slow := gocloak.NewClient(strings.TrimRight(cfg.URL, "/"))
	slow.RestyClient().SetTransport(transport).SetTimeout(slowTimeout(cfg.Timeout))
	return &AdminClient{
		gc:      gc,
		slow:    slow,
		limiter: cfg.Limiter,
		metrics: cfg.Metrics,
		url:     strings.TrimRight(cfg.URL, "/"),
		realm:   cfg.AdminRealm,
		timeout: cfg.Timeout,
		tokens:  &tokenCache{gc: gc, creds: cfg.Credentials, realm: cfg.AdminRealm, now: time.Now},
		server:  serverInfoCache{ttl: cfg.ServerInfoTTL},
	}, nil
}

// slowTimeout bounds creating or deleting a realm: at least a minute.
// A realm create writes hundreds of rows (roles, scopes, the realm's
// management client in master) and slows down as realms accumulate: on a
// loaded Keycloak with 500 realms most took longer than the default 10 s
// (make bench-scale -realms-scale). Given up on, it goes on committing in
// Keycloak, and a retry is refused (HTTP 400) until the first one lands: work
// wasted on both sides, in the situation where Keycloak has least to spare.
func slowTimeout(timeout time.Duration) time.Duration {
	return max(timeout, time.Minute)
}

// URL returns the base URL of the server.
func (c *AdminClient) URL() string { return c.url }

// call runs fn with a valid admin token, tagging its requests with op. When
// Keycloak refuses the token (revoked, or the server restarted with a new
// signing key) it logs in again and retries once.
//
// Keycloak answers HTTP 500 when it is in trouble, when a write holds a
// value its database cannot store (a 256-character redirect URI), and when
// a write loses an optimistic-lock race with a parallel one. An update
// (idempotent) that gets 500 is retried once. A create is not retried: it
// may have been stored before the 500, and the caller finds it on its next
// look-up. A write that still gets 500 while Keycloak answers a cheap read
// is marked WriteFailed: still transient (a failing database looks the
// same from here), but reported apart from an outage.
func (c *AdminClient) call(ctx context.Context, op string, fn func(ctx context.Context, token string) error) error {
	ctx = withOperation(ctx, op)
	relogged, retried := false, false
	for {
		if d := c.limiter.Paused(); d > 0 {
			return &Error{Operation: op, Kind: KindTransient, RetryAfter: d,
				Message: fmt.Sprintf("Keycloak asked for a pause (Retry-After); the next request goes out in %s", d.Round(time.Second))}
		}
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return err
		}
		err = fn(ctx, tok)
		switch code := apiCode(err); {
		case (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) && c.limiter.Paused() > 0:
			werr := wrap(op, err)
			var kerr *Error
			if errors.As(werr, &kerr) {
				kerr.RetryAfter = c.limiter.Paused()
			}
			return werr
		case code == http.StatusUnauthorized && !relogged:
			relogged = true
			c.tokens.invalidate(tok)
			continue
		case code == http.StatusInternalServerError && strings.HasSuffix(op, ".update") && !retried:
			retried = true
			select {
			case <-ctx.Done():
				return wrap(op, err)
			case <-time.After(250 * time.Millisecond):
			}
			continue
		case code == http.StatusInternalServerError && isWrite(op) && c.alive(ctx):
			return &Error{Operation: op, Code: code, Kind: KindTransient, WriteFailed: true, Message: fmt.Sprintf(
				"Keycloak failed to store the request (HTTP 500: %s) while it answers other requests; "+
					"a value may be longer than Keycloak stores (255 characters for clientIds, names, redirect URIs and web origins), or its database is failing", apiMessage(err))}
		}
		return wrap(op, err)
	}
}

// isWrite reports whether op creates or updates an object.
func isWrite(op string) bool {
	return strings.HasSuffix(op, ".create") || strings.HasSuffix(op, ".update")
}

// alive reports whether Keycloak answers a cheap public read: the admin
// realm's discovery document.
func (c *AdminClient) alive(ctx context.Context) bool {
	resp, err := c.gc.GetRequest(withOperation(ctx, "health.probe")).
		Get(c.url + "/realms/" + c.realm + "/.well-known/openid-configuration")
	return err == nil && resp.StatusCode() == http.StatusOK
}

func apiMessage(err error) string {
	var api *gocloak.APIError
	if errors.As(err, &api) {
		return api.Message
	}
	return err.Error()
}

func apiCode(err error) int {
	var api *gocloak.APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return 0
}

// GetRealm implements Admin.
func (c *AdminClient) GetRealm(ctx context.Context, realm string) (*gocloak.RealmRepresentation, error) {
	var out *gocloak.RealmRepresentation
	err := c.call(ctx, "realm.get", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetRealm(ctx, tok, realm)
		return err
	})
	if err == nil && out != nil && out.ID == nil {
		// An admin without view-realm on this realm (a per-realm identity
		// asking for another realm) gets 200 with the realm's name only:
		// no id, no attributes. Read as a realm, it would pass for one that
		// nobody owns. It is a refusal: 403, as for every other verb.
		return nil, &Error{Operation: "realm.get", Code: http.StatusForbidden, Kind: KindUnauthorized,
			Message: "the admin identity may see only the name of realm " + realm + ", not its settings (it lacks the realm's view-realm role)"}
	}
	return out, err
}

// CreateRealm implements Admin.
func (c *AdminClient) CreateRealm(ctx context.Context, rep gocloak.RealmRepresentation) error {
	return c.call(ctx, "realm.create", func(ctx context.Context, tok string) error {
		_, err := c.slow.CreateRealm(ctx, tok, rep)
		return err
	})
}

// UpdateRealm implements Admin.
func (c *AdminClient) UpdateRealm(ctx context.Context, rep gocloak.RealmRepresentation) error {
	if gocloak.NilOrEmpty(rep.Realm) {
		return &Error{Operation: "realm.update", Kind: KindRejected, Message: "realm name is empty"}
	}
	return c.call(ctx, "realm.update", func(ctx context.Context, tok string) error {
		return c.gc.UpdateRealm(ctx, tok, rep)
	})
}

// DeleteRealm implements Admin.
func (c *AdminClient) DeleteRealm(ctx context.Context, realm string) error {
	return c.call(ctx, "realm.delete", func(ctx context.Context, tok string) error {
		return c.slow.DeleteRealm(ctx, tok, realm)
	})
}

// GetDiscovery implements Admin. The document is public; no token is sent.
func (c *AdminClient) GetDiscovery(ctx context.Context, realm string) (*Discovery, error) {
	const op = "realm.discovery"
	var out Discovery
	resp, err := c.gc.GetRequest(withOperation(ctx, op)).
		SetResult(&out).
		Get(c.url + "/realms/" + realm + "/.well-known/openid-configuration")
	if err != nil {
		return nil, wrap(op, err)
	}
	if resp.IsError() {
		return nil, &Error{Operation: op, Code: resp.StatusCode(), Kind: kindOf(resp.StatusCode()), Message: resp.Status()}
	}
	return &out, nil
}

// FindClient implements Admin.
func (c *AdminClient) FindClient(ctx context.Context, realm, clientID string) (*gocloak.Client, error) {
	const op = "client.find"
	var found []*gocloak.Client
	err := c.call(ctx, op, func(ctx context.Context, tok string) (err error) {
		// clientId without search=true is an exact match: a list of 0 or 1.
		found, err = c.gc.GetClients(ctx, tok, realm, gocloak.GetClientsParams{ClientID: &clientID})
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, cl := range found {
		if gocloak.PString(cl.ClientID) == clientID {
			return cl, nil
		}
	}
	return nil, &Error{Operation: op, Code: http.StatusNotFound, Kind: KindNotFound, Message: fmt.Sprintf("no client %q in realm %q", clientID, realm)}
}

// GetClient implements Admin.
func (c *AdminClient) GetClient(ctx context.Context, realm, id string) (*gocloak.Client, error) {
	var out *gocloak.Client
	err := c.call(ctx, "client.get", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetClient(ctx, tok, realm, id)
		return err
	})
	return out, err
}

// CreateClient implements Admin.
func (c *AdminClient) CreateClient(ctx context.Context, realm string, cl gocloak.Client) (string, error) {
	var id string
	err := c.call(ctx, "client.create", func(ctx context.Context, tok string) (err error) {
		id, err = c.gc.CreateClient(ctx, tok, realm, cl)
		return err
	})
	if err == nil && id == "" {
		err = &Error{Operation: "client.create", Kind: KindTransient, Message: "Keycloak returned no client id"}
	}
	if err != nil && cl.Secret != nil && *cl.Secret != "" {
		// A chosen secret (bring your own) must not reach a message through
		// Keycloak's answer (gocloak quotes its errorMessage).
		err = scrub(err, *cl.Secret, nil)
	}
	return id, err
}

// UpdateClient implements Admin.
func (c *AdminClient) UpdateClient(ctx context.Context, realm string, cl gocloak.Client) error {
	if gocloak.NilOrEmpty(cl.ID) {
		return &Error{Operation: "client.update", Kind: KindRejected, Message: "client id is empty"}
	}
	// A representation read earlier carries the secret of that time; sending it
	// back would roll the secret back. Secrets change only through
	// RegenerateClientSecret, so the update never carries one.
	cl.Secret = nil
	// Keycloak also writes the protocol mappers an update carries (by id,
	// config and all): a representation read before the claims step
	// changed them would put the old mappers back (measured:
	// TestUpdateClientLeavesMappersAlone). Mappers change only through
	// the mapper verbs.
	cl.ProtocolMappers = nil
	// The same for the secret's bookkeeping: client.secret.* attributes hold
	// the previous secret in plain text and the rotation times. Sent back
	// stale they would bring an older previous secret back (and end the
	// current grace period); left out, Keycloak keeps what it has.
	if len(cl.Attributes) > 0 {
		attrs := make(map[string]string, len(cl.Attributes))
		for k, v := range cl.Attributes {
			if !strings.HasPrefix(k, "client.secret.") {
				attrs[k] = v
			}
		}
		cl.Attributes = attrs
	}
	return c.call(ctx, "client.update", func(ctx context.Context, tok string) error {
		return c.gc.UpdateClient(ctx, tok, realm, cl)
	})
}

// DeleteClient implements Admin.
func (c *AdminClient) DeleteClient(ctx context.Context, realm, id string) error {
	return c.call(ctx, "client.delete", func(ctx context.Context, tok string) error {
		return c.gc.DeleteClient(ctx, tok, realm, id)
	})
}

// CreateClientMapper implements Admin.
func (c *AdminClient) CreateClientMapper(ctx context.Context, realm, id string, m gocloak.ProtocolMapperRepresentation) error {
	return c.call(ctx, "client.mapper.create", func(ctx context.Context, tok string) error {
		_, err := c.gc.CreateClientProtocolMapper(ctx, tok, realm, id, m)
		return err
	})
}

// UpdateClientMapper implements Admin.
func (c *AdminClient) UpdateClientMapper(ctx context.Context, realm, id string, m gocloak.ProtocolMapperRepresentation) error {
	if gocloak.NilOrEmpty(m.ID) {
		return &Error{Operation: "client.mapper.update", Kind: KindRejected, Message: "mapper id is empty"}
	}
	return c.call(ctx, "client.mapper.update", func(ctx context.Context, tok string) error {
		return c.gc.UpdateClientProtocolMapper(ctx, tok, realm, id, *m.ID, m)
	})
}

// DeleteClientMapper implements Admin.
func (c *AdminClient) DeleteClientMapper(ctx context.Context, realm, id, mapperID string) error {
	return c.call(ctx, "client.mapper.delete", func(ctx context.Context, tok string) error {
		return c.gc.DeleteClientProtocolMapper(ctx, tok, realm, id, mapperID)
	})
}

// GetClientSecret implements Admin.
func (c *AdminClient) GetClientSecret(ctx context.Context, realm, id string) (string, error) {
	var out string
	err := c.call(ctx, "client.secret.get", func(ctx context.Context, tok string) error {
		cred, err := c.gc.GetClientSecret(ctx, tok, realm, id)
		if err == nil {
			out = gocloak.PString(cred.Value)
		}
		return err
	})
	return out, err
}

// RegenerateClientSecret implements Admin.
func (c *AdminClient) RegenerateClientSecret(ctx context.Context, realm, id string) (string, error) {
	var out string
	err := c.call(ctx, "client.secret.regenerate", func(ctx context.Context, tok string) error {
		cred, err := c.gc.RegenerateClientSecret(ctx, tok, realm, id)
		if err == nil {
			out = gocloak.PString(cred.Value)
		}
		return err
	})
	return out, err
}

// ListClientScopes implements Admin.
func (c *AdminClient) ListClientScopes(ctx context.Context, realm string) ([]*gocloak.ClientScope, error) {
	var out []*gocloak.ClientScope
	err := c.call(ctx, "clientscope.list", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetClientScopes(ctx, tok, realm)
		return err
	})
	return out, err
}

// EnsureClientScope implements Admin. Keycloak has no filter by name, so the
// realm's scopes are listed and matched here.
func (c *AdminClient) EnsureClientScope(ctx context.Context, realm string, scope gocloak.ClientScope) (string, bool, error) {
	name := gocloak.PString(scope.Name)
	if name == "" {
		return "", false, &Error{Operation: "clientscope.create", Kind: KindRejected, Message: "client scope name is empty"}
	}
	if scope.Protocol == nil {
		scope.Protocol = gocloak.StringP("openid-connect")
	}
	lookup := func() (string, error) {
		scopes, err := c.ListClientScopes(ctx, realm)
		if err != nil {
			return "", err
		}
		for _, s := range scopes {
			if gocloak.PString(s.Name) == name {
				return gocloak.PString(s.ID), nil
			}
		}
		return "", nil
	}
	if id, err := lookup(); err != nil || id != "" {
		return id, false, err
	}
	var id string
	err := c.call(ctx, "clientscope.create", func(ctx context.Context, tok string) (err error) {
		id, err = c.gc.CreateClientScope(ctx, tok, realm, scope)
		return err
	})
	if CreateOutcomeUnknown(err) {
		// Created concurrently by someone else (409), or stored although
		// the create timed out or failed (ours, or a concurrent one):
		// scopes are shared by name, so what is there is used.
		found, lerr := lookup()
		switch {
		case lerr != nil:
			return "", false, lerr
		case found != "":
			return found, false, nil
		case IsConflict(err):
			return "", false, &Error{Operation: "clientscope.create", Kind: KindTransient, Message: fmt.Sprintf("client scope %q was created concurrently and is gone again", name)}
		}
		return "", false, err
	}
	return id, err == nil, err
}

// GetClientScopesOf implements Admin.
func (c *AdminClient) GetClientScopesOf(ctx context.Context, realm, clientUUID string, kind ScopeKind) ([]*gocloak.ClientScope, error) {
	var out []*gocloak.ClientScope
	err := c.call(ctx, "client.scopes."+string(kind)+".list", func(ctx context.Context, tok string) (err error) {
		if kind == OptionalScope {
			out, err = c.gc.GetClientsOptionalScopes(ctx, tok, realm, clientUUID)
		} else {
			out, err = c.gc.GetClientsDefaultScopes(ctx, tok, realm, clientUUID)
		}
		return err
	})
	return out, err
}

// AddClientScope implements Admin.
func (c *AdminClient) AddClientScope(ctx context.Context, realm, clientUUID, scopeID string, kind ScopeKind) error {
	return c.call(ctx, "client.scopes."+string(kind)+".add", func(ctx context.Context, tok string) error {
		if kind == OptionalScope {
			return c.gc.AddOptionalScopeToClient(ctx, tok, realm, clientUUID, scopeID)
		}
		return c.gc.AddDefaultScopeToClient(ctx, tok, realm, clientUUID, scopeID)
	})
}

// RemoveClientScope implements Admin.
func (c *AdminClient) RemoveClientScope(ctx context.Context, realm, clientUUID, scopeID string, kind ScopeKind) error {
	return c.call(ctx, "client.scopes."+string(kind)+".remove", func(ctx context.Context, tok string) error {
		if kind == OptionalScope {
			return c.gc.RemoveOptionalScopeFromClient(ctx, tok, realm, clientUUID, scopeID)
		}
		return c.gc.RemoveDefaultScopeFromClient(ctx, tok, realm, clientUUID, scopeID)
	})
}

// ListComponents implements Admin.
func (c *AdminClient) ListComponents(ctx context.Context, realm, parentID, providerType string) ([]*gocloak.Component, error) {
	var out []*gocloak.Component
	params := gocloak.GetComponentsParams{}
	if parentID != "" {
		params.ParentID = &parentID
	}
	if providerType != "" {
		params.ProviderType = &providerType
	}
	err := c.call(ctx, "component.list", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetComponentsWithParams(ctx, tok, realm, params)
		return err
	})
	return out, err
}

// CreateComponent implements Admin.
func (c *AdminClient) CreateComponent(ctx context.Context, realm string, comp gocloak.Component) (string, error) {
	var id string
	err := c.call(ctx, "component.create", func(ctx context.Context, tok string) (err error) {
		id, err = c.gc.CreateComponent(ctx, tok, realm, comp)
		return err
	})
	return id, err
}

// UpdateComponent implements Admin.
func (c *AdminClient) UpdateComponent(ctx context.Context, realm string, comp gocloak.Component) error {
	if gocloak.NilOrEmpty(comp.ID) {
		return &Error{Operation: "component.update", Kind: KindRejected, Message: "component id is empty"}
	}
	return c.call(ctx, "component.update", func(ctx context.Context, tok string) error {
		return c.gc.UpdateComponent(ctx, tok, realm, comp)
	})
}

// DeleteComponent implements Admin.
func (c *AdminClient) DeleteComponent(ctx context.Context, realm, id string) error {
	return c.call(ctx, "component.delete", func(ctx context.Context, tok string) error {
		return c.gc.DeleteComponent(ctx, tok, realm, id)
	})
}
