package keycloak

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Pool hands out one AdminClient per Keycloak server and set of admin
// credentials, so that every controller shares its admin token (one login
// per token lifetime, not one per reconcile). New credentials for the same
// server get a new client; the old one is dropped.
type Pool struct {
	// Metrics records the requests of every client in the pool.
	Metrics *Metrics
	// Timeout bounds each HTTP request; zero uses New's default.
	Timeout time.Duration

	mu      sync.Mutex
	clients map[string]pooled
}

type pooled struct {
	credsHash string
	client    *AdminClient
}

// Get returns the shared client for cfg, creating it on first use.
// cfg.Metrics and cfg.Timeout are taken from the pool.
func (p *Pool) Get(cfg Config) (*AdminClient, error) {
	if cfg.AdminRealm == "" {
		cfg.AdminRealm = "master"
	}
	server := cfg.URL + "|" + cfg.AdminRealm
	h := sha256.Sum256([]byte(cfg.Credentials.Username + "\x00" + cfg.Credentials.Password + "\x00" +
		cfg.Credentials.ClientID + "\x00" + cfg.Credentials.ClientSecret))
	credsHash := hex.EncodeToString(h[:])

	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[server]; ok && c.credsHash == credsHash {
		return c.client, nil
	}
	cfg.Metrics, cfg.Timeout = p.Metrics, p.Timeout
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if p.clients == nil {
		p.clients = map[string]pooled{}
	}
	p.clients[server] = pooled{credsHash: credsHash, client: c}
	return c, nil
}
