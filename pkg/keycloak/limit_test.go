package keycloak

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nauthera/nauthera/internal/testbed/settle"
)

// The limiter's own logic, against a local HTTP server standing in for a
// slow or overloaded Keycloak (Keycloak's behaviour is tested elsewhere
// against the real server).

func TestLimiterBoundsRequestsInFlight(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release // held until the test has seen the queue settle
		inFlight.Add(-1)
	}))
	defer srv.Close()
	entering := &countingTransport{next: NewLimiter(3).wrap(http.DefaultTransport)}
	c := &http.Client{Transport: entering}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	// First something positive: all 12 reached the limiter and 3 got past
	// it; only then does "and it stays at 3" mean anything.
	waitFor(t, "12 requests at the limiter and 3 in flight", func() bool {
		return entering.entered.Load() == 12 && inFlight.Load() >= 3
	})
	if n := settle.Stable(t, "requests in flight", inFlight.Load); n != 3 {
		t.Errorf("%d requests in flight with a limit of 3 and 12 waiting", n)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Errorf("peak of %d requests in flight with a limit of 3", p)
	}
}

// A 429 with Retry-After pauses every call to that Keycloak: they fail at
// once with the remaining delay (for the reconciler's requeue), and no
// request goes out until the pause is over.
func TestRetryAfterPausesCalls(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Credentials: Credentials{Username: "admin", Password: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRealm(t.Context(), "r"); err == nil {
		t.Fatal("a 429 must fail the call")
	}
	if d := c.limiter.Paused(); d < time.Second || d > 2*time.Second {
		t.Fatalf("pause after Retry-After: 2 is %s", d)
	}
	sent := calls.Load()
	_, err = c.GetRealm(t.Context(), "r")
	if d := RetryAfter(err); d < time.Second || !IsTransient(err) {
		t.Errorf("a call during the pause: %v (retry after %s), want a transient error carrying the delay", err, d)
	}
	if calls.Load() != sent {
		t.Error("a request went out during the pause")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"5", 5 * time.Second, true}, {"0", 0, false}, {"-3", 0, false}, {"soon", 0, false},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
	} {
		if got, ok := retryAfter(c.in, now); got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// A response whose body is still open holds its slot: with a limit of 1, a
// second request goes out only once the first body is closed.
func TestLimiterHoldsSlotUntilBodyClosed(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		_, _ = w.Write([]byte("a body nobody has read yet"))
	}))
	defer srv.Close()
	entering := &countingTransport{next: NewLimiter(1).wrap(http.DefaultTransport)}
	c := &http.Client{Transport: entering}
	first, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		second <- err
	}()
	// The second request waits for the slot. First wait until it has
	// reached the limiter (the transport in front of it counts it), then
	// the limiter's queue is a channel with no counter to poll: a request
	// that got past it would reach the server, which counts it; the served
	// count must stay at one while the first body is open.
	waitFor(t, "the second request at the limiter", func() bool { return entering.entered.Load() == 2 })
	if n := settle.Stable(t, "requests served", served.Load); n != 1 {
		t.Fatalf("%d requests reached the server while the first body was open, want 1", n)
	}
	select {
	case err := <-second:
		t.Fatalf("the second request finished while the first body was open: %v", err)
	default:
	}
	first.Body.Close()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if n := served.Load(); n != 2 {
		t.Errorf("%d requests served after the first body was closed, want 2", n)
	}
}

// countingTransport counts the requests that reached it, in front of the
// limiter: the proof that a request is waiting at the limiter, not yet in
// its goroutine's start-up.
type countingTransport struct {
	entered atomic.Int64
	next    http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.entered.Add(1)
	return c.next.RoundTrip(r)
}

// waitFor polls ok until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(10 * time.Millisecond) // the poll interval, not a guess at when something ends
	}
}
