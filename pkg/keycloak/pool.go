package keycloak

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Pool hands out one AdminClient per Keycloak server and set of admin
// credentials, so that every controller shares its admin token (one login
// per token lifetime, not one per reconcile). Two credential sets for one
// server (the default and an AuthServer's own) each keep their client.
// Clients of rotated credentials stay until the operator restarts: a few
// idle objects, bounded by the number of rotations.
type Pool struct {
	// Metrics records the requests of every client in the pool.
	Metrics *Metrics
	// Timeout bounds each HTTP request; zero uses New's default.
	Timeout time.Duration
	// WrapTransport is passed to every client's Config (fault injection in tests).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// MaxInFlight bounds the requests in flight to each Keycloak server,
	// whatever credentials its clients use (0: DefaultMaxInFlight).
	MaxInFlight int
	// ServerInfoTTL is passed to every client's Config (0: ServerInfoTTL).
	ServerInfoTTL time.Duration

	mu       sync.Mutex
	clients  map[string]*AdminClient
	limiters map[string]*Limiter // by server URL
}

// Get returns the shared client for cfg, creating it on first use.
// cfg.Metrics and cfg.Timeout are taken from the pool.
func (p *Pool) Get(cfg Config) (*AdminClient, error) {
	if cfg.AdminRealm == "" {
		cfg.AdminRealm = "master"
	}
	h := sha256.Sum256([]byte(cfg.URL + "\x00" + cfg.AdminRealm + "\x00" +
		cfg.Credentials.Username + "\x00" + cfg.Credentials.Password + "\x00" +
		cfg.Credentials.ClientID + "\x00" + cfg.Credentials.ClientSecret + "\x00" + cfg.Credentials.TokenFile + "\x00" + cfg.Credentials.AssertionFrom))
	key := hex.EncodeToString(h[:])

	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	cfg.Metrics, cfg.Timeout, cfg.WrapTransport, cfg.ServerInfoTTL = p.Metrics, p.Timeout, p.WrapTransport, p.ServerInfoTTL
	if p.limiters == nil {
		p.limiters = map[string]*Limiter{}
	}
	server := strings.TrimRight(cfg.URL, "/")
	if p.limiters[server] == nil {
		p.limiters[server] = NewLimiter(p.MaxInFlight)
	}
	cfg.Limiter = p.limiters[server]
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if p.clients == nil {
		p.clients = map[string]*AdminClient{}
	}
	p.clients[key] = c
	return c, nil
}
