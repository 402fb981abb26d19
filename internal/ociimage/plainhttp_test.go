package ociimage

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestCheckPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		host    string
		allowed bool
		ok      bool
	}{
		{"127.0.0.1:5000", false, true},
		{"127.0.0.1", false, true},
		{"127.8.9.10:5000", false, true},
		{"[::1]:5000", false, true},
		{"::1", false, true},
		{"localhost:5000", false, true},
		{"LOCALHOST:5000", false, true},
		// go-containerregistry's own heuristics would speak plain HTTP to all of these.
		{"10.0.0.5:5000", false, false},
		{"172.16.4.2:443", false, false},
		{"172.31.255.255", false, false},
		{"192.168.1.10:5000", false, false},
		{"registry.localhost:5000", false, false},
		{"localhost.example.com:5000", false, false},
		{"registry.example.com", false, false},
		{"[fd00::1]:5000", false, false},
		{"0.0.0.0:5000", false, false},
		// Other spellings of loopback, or of a name, that a resolver or a
		// dialer might take elsewhere: refused, never guessed at.
		{"localhost.:5000", false, false},
		{"[::]:5000", false, false},
		{"2130706433:5000", false, false},
		{"0177.0.0.1:5000", false, false},
		{"0x7f.0.0.1:5000", false, false},
		{"127.1:5000", false, false},
		{"localhost:5000@10.0.0.5", false, false},
		// The opt-in allows any registry.
		{"10.0.0.5:5000", true, true},
		{"registry.example.com", true, true},
	} {
		err := CheckPlainHTTP(tc.host, tc.allowed)
		if tc.ok != (err == nil) {
			t.Errorf("CheckPlainHTTP(%q, %v) = %v, want allowed %v", tc.host, tc.allowed, err, tc.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrPlainHTTPRefused) || !strings.Contains(err.Error(), tc.host) || !strings.Contains(err.Error(), "ALLOW_PLAIN_HTTP=1") {
			t.Errorf("CheckPlainHTTP(%q) = %q, want ErrPlainHTTPRefused naming the registry and the opt-in", tc.host, err)
		}
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 80}, true},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 80}, true},
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 80}, false},
		{&net.TCPAddr{IP: net.ParseIP("192.168.0.1"), Port: 80}, false},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, false},
	} {
		if got := isLoopbackAddr(tc.addr); got != tc.want {
			t.Errorf("isLoopbackAddr(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// countingRegistry is go-containerregistry's registry on 127.0.0.1, plain
// HTTP, counting the HTTP requests that reached it.
func countingRegistry(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// dialTo sends every connection to addr on loopback, as if the registry's
// name resolved there: a registry "in a private range" without leaving the machine.
func dialTo(addr string) dialFunc {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

// A registry at a private-range address that speaks only plain HTTP:
// go-containerregistry would fall back to plain HTTP by itself. The push is
// refused before any HTTP request reaches the registry, and the error names
// the registry and the opt-in; with the opt-in the same push goes through.
func TestPushRefusesPlainHTTPToAPrivateRange(t *testing.T) {
	img := operatorImage(t)
	want, _ := img.Digest()
	srv, requests := countingRegistry(t)
	dial := dialTo(srv.Listener.Addr().String())
	const ref = "10.20.30.40:5000/team/nauthera:0.1.0"

	_, err := Push(ref, img, PushOptions{dial: dial})
	if !errors.Is(err, ErrPlainHTTPRefused) {
		t.Fatalf("push without opt-in: err = %v, want ErrPlainHTTPRefused", err)
	}
	for _, s := range []string{"10.20.30.40:5000", "--allow-plain-http", "ALLOW_PLAIN_HTTP=1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry received %d plain-HTTP requests from a refused push, want 0", n)
	}

	pushed, err := Push(ref, img, PushOptions{AllowPlainHTTP: true, dial: dial})
	if err != nil {
		t.Fatalf("push with the opt-in: %v", err)
	}
	if pushed.DigestStr() != want.String() || requests.Load() == 0 {
		t.Fatalf("push with the opt-in wrote %s in %d requests, want %s", pushed.DigestStr(), requests.Load(), want)
	}
	r, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/team/nauthera:0.1.0")
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("the registry holds %s, want %s", got, want)
	}
}

// A registry on loopback (plain HTTP is fine there) that names a token
// endpoint over plain HTTP on another host, where the credentials would
// be sent: refused too. The guard sees every request of a push, not only
// the first ping. (go-containerregistry itself refuses an http realm only for
// a registry it speaks HTTPS to.)
func TestPushRefusesAPlainHTTPTokenEndpoint(t *testing.T) {
	var tokenRequests atomic.Int32
	token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tokenRequests.Add(1)
		_, _ = w.Write([]byte(`{"token":"t"}`))
	}))
	defer token.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://token.example.net:8080/token",service="registry"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	// The token server's name leads to loopback.
	tokenAddr := token.Listener.Addr().String()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "token.example.net:") {
			addr = tokenAddr
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}

	ref := strings.TrimPrefix(reg.URL, "http://") + "/team/nauthera:0.1.0"
	_, err := Push(ref, operatorImage(t), PushOptions{dial: dial})
	if !errors.Is(err, ErrPlainHTTPRefused) || !strings.Contains(err.Error(), "token.example.net:8080") {
		t.Fatalf("err = %v, want ErrPlainHTTPRefused naming token.example.net:8080", err)
	}
	if n := tokenRequests.Load(); n != 0 {
		t.Errorf("the plain-HTTP token endpoint received %d requests, want 0", n)
	}
}

// remoteAddrConn reports a remote address other than the one it is
// connected to: the name localhost resolving off the machine, seen from the
// dialer, without leaving it.
type remoteAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteAddrConn) RemoteAddr() net.Addr { return c.remote }

// The name localhost passes the check by name, but the connection must
// also end on a loopback address: a localhost that resolves to a private
// address (a tampered /etc/hosts, a resolver) gets no plain-HTTP request.
func TestPushRefusesALocalhostThatIsNotLoopback(t *testing.T) {
	srv, requests := countingRegistry(t)
	target := srv.Listener.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, target)
		if err != nil {
			return nil, err
		}
		return remoteAddrConn{Conn: c, remote: &net.TCPAddr{IP: net.ParseIP("10.9.8.7"), Port: 5000}}, nil
	}
	_, err := Push("localhost:5000/team/nauthera:0.1.0", operatorImage(t), PushOptions{dial: dial})
	if !errors.Is(err, ErrPlainHTTPRefused) || !strings.Contains(err.Error(), "10.9.8.7") {
		t.Fatalf("err = %v, want ErrPlainHTTPRefused naming 10.9.8.7", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry received %d plain-HTTP requests, want 0", n)
	}
}
