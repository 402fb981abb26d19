package ociimage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PlainHTTPOptIn is how a person allows a push over plain HTTP to a registry
// that is not on loopback, named in every refusal.
const PlainHTTPOptIn = "--allow-plain-http (make image-push ALLOW_PLAIN_HTTP=1)"

// ErrPlainHTTPRefused is the class of error of a refused plain-HTTP request.
var ErrPlainHTTPRefused = errors.New("plain HTTP refused")

// CheckPlainHTTP decides whether a request over plain HTTP may go to host
// (host or host:port): only to loopback, unless allowed says the person opted
// in. go-containerregistry on its own falls back to plain HTTP for localhost,
// *.localhost and every RFC 1918 address (10/8, 172.16/12, 192.168/16); for a
// registry in a private range that would send the image and the registry
// credentials unencrypted across a network.
func CheckPlainHTTP(host string, allowed bool) error {
	if allowed || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w: registry %s would be spoken to without TLS, and the image and registry credentials "+
		"would travel unencrypted; serve the registry over HTTPS, or opt in with %s", ErrPlainHTTPRefused, host, PlainHTTPOptIn)
}

// isLoopbackHost tells whether host (host or host:port, IPv6 in brackets)
// names this machine: a loopback address, or the name localhost. Other names
// ending in .localhost are not trusted: a resolver may send them elsewhere.
func isLoopbackHost(host string) bool {
	h := host
	if hh, port, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false // not host:port (e.g. "localhost:5000@10.0.0.5")
		}
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackAddr tells whether a connection's remote address is a loopback
// address: what the name localhost resolved to, checked once connected.
func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// dialFunc dials a TCP connection, like net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// plainHTTPGuard is the transport of a push. It sends HTTPS through https,
// and plain HTTP only where CheckPlainHTTP allows it; without the opt-in, a
// plain-HTTP connection must also end on a loopback address (the name
// localhost could resolve elsewhere). Every request of a push passes here:
// go-containerregistry's ping fallback, redirects, upload locations and the
// token endpoint a registry names, so none of them can fall back to plain
// HTTP either.
type plainHTTPGuard struct {
	https, loopback http.RoundTripper
	allowed         bool
	refused         atomic.Pointer[error]
}

func newPlainHTTPGuard(opts PushOptions) *plainHTTPGuard {
	base := remote.DefaultTransport.(*http.Transport).Clone()
	if opts.dial != nil {
		base.DialContext = opts.dial
	}
	if opts.tlsConfig != nil {
		base.TLSClientConfig = opts.tlsConfig
	}
	next := base.DialContext
	lo := base.Clone()
	lo.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !isLoopbackAddr(c.RemoteAddr()) {
			_ = c.Close() // nothing was sent on it
			return nil, fmt.Errorf("%w: %s resolved to %s, which is not loopback; opt in with %s",
				ErrPlainHTTPRefused, addr, c.RemoteAddr(), PlainHTTPOptIn)
		}
		return c, nil
	}
	return &plainHTTPGuard{https: base, loopback: lo, allowed: opts.AllowPlainHTTP}
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.URL.Scheme == "https":
		return g.https.RoundTrip(req)
	case req.URL.Scheme != "http":
		return nil, fmt.Errorf("registry request to %s: unexpected scheme %q", req.URL.Host, req.URL.Scheme)
	case g.allowed:
		return g.https.RoundTrip(req)
	}
	if err := CheckPlainHTTP(req.URL.Host, false); err != nil {
		g.refused.CompareAndSwap(nil, &err)
		return nil, err
	}
	resp, err := g.loopback.RoundTrip(req)
	if errors.Is(err, ErrPlainHTTPRefused) {
		g.refused.CompareAndSwap(nil, &err)
	}
	return resp, err
}

// refusal is the first plain-HTTP request the guard refused, if any.
func (g *plainHTTPGuard) refusal() error {
	if p := g.refused.Load(); p != nil {
		return *p
	}
	return nil
}
