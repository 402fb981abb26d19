// Package kubeissuer reads the service-account token issuer of the
// Kubernetes API server the operator runs against, from its OpenID Connect
// discovery document (/.well-known/openid-configuration), for AuthServers
// that enable service-account authentication without naming an issuer.
package kubeissuer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// DiscoveryPath is where the API server publishes its issuer.
const DiscoveryPath = "/.well-known/openid-configuration"

// Issuer is the part of the API server's discovery document the operator uses.
type Issuer struct {
	// URL is the issuer, as in the iss claim of service-account tokens.
	URL string `json:"issuer"`
	// JWKSURI is where the API server says its keys are.
	JWKSURI string `json:"jwks_uri"`
}

// Reader reads the issuer, and keeps it for TTL (an API server's issuer
// changes only with its flags, which restart it).
type Reader struct {
	client rest.Interface
	// TTL is how long an issuer read is kept; 10 minutes when zero.
	TTL time.Duration

	mu  sync.Mutex
	got *Issuer
	at  time.Time
	now func() time.Time
}

// New returns a Reader for the API server of cfg, with the operator's own
// credentials (they need get on the non-resource URL
// /.well-known/openid-configuration; Kubernetes grants it to every service
// account through the system:service-account-issuer-discovery role).
func New(cfg *rest.Config) (*Reader, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Reader{client: dc.RESTClient()}, nil
}

// Issuer returns the API server's service-account issuer.
func (r *Reader) Issuer(ctx context.Context) (*Issuer, error) {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got != nil && now().Sub(r.at) < ttl {
		return r.got, nil
	}
	raw, err := r.client.Get().AbsPath(DiscoveryPath).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET %s from the Kubernetes API server: %w", DiscoveryPath, err)
	}
	var iss Issuer
	if err := json.Unmarshal(raw, &iss); err != nil {
		return nil, fmt.Errorf("the Kubernetes API server's %s is not JSON: %w", DiscoveryPath, err)
	}
	if iss.URL == "" {
		return nil, fmt.Errorf("the Kubernetes API server's %s names no issuer", DiscoveryPath)
	}
	r.got, r.at = &iss, now()
	return r.got, nil
}
