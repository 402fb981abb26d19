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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

func TestLimiterHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int64
	var second atomic.Int64 // unix nanoseconds of the second request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		second.Store(time.Now().UnixNano())
	}))
	defer srv.Close()
	l := NewLimiter(4)
	c := &http.Client{Transport: l.wrap(http.DefaultTransport)}
	start := time.Now()
	for i := 0; i < 2; i++ {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i == 0 && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("first answer %d: the limiter must pass Keycloak's answer on", resp.StatusCode)
		}
	}
	if waited := time.Unix(0, second.Load()).Sub(start); waited < 900*time.Millisecond {
		t.Errorf("the request after a 429 with Retry-After: 1 went out after %s", waited)
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
