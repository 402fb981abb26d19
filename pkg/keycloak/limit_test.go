package keycloak

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The limiter's own logic, against a local HTTP server standing in for a
// slow or overloaded Keycloak (Keycloak's behaviour is tested elsewhere
// against the real server).

func TestLimiterBoundsRequestsInFlight(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	c := &http.Client{Transport: NewLimiter(3).wrap(http.DefaultTransport)}
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
