package keycloak

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxInFlight bounds the requests in flight to one Keycloak when
// NewLimiter (or Pool.MaxInFlight) gets 0. More reconcile workers then queue here
// instead of piling onto Keycloak (measured with make bench-scale: see
// docs/operations/performance.md).
const DefaultMaxInFlight = 8

// maxRetryAfter caps how long a Retry-After answer holds requests back.
const maxRetryAfter = time.Minute

// Limiter bounds the requests in flight to one Keycloak, and remembers a
// pause Keycloak asked for (HTTP 429 or 503 with Retry-After): until it
// ends, AdminClient calls fail at once with an error that carries the
// delay, which the reconcilers turn into a requeue after it (not a burst of
// retries, nor requests held in a queue until they time out). One Limiter
// serves every client of the same server. Written by hand:
// golang.org/x/time/rate limits a rate, not the requests in flight, and
// has no notion of a pause the server asks for.
type Limiter struct {
	slots chan struct{}
	now   func() time.Time

	mu        sync.Mutex
	notBefore time.Time
}

// NewLimiter returns a limiter of maxInFlight requests (0: DefaultMaxInFlight).
func NewLimiter(maxInFlight int) *Limiter {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	return &Limiter{slots: make(chan struct{}, maxInFlight), now: time.Now}
}

// wrap puts the limiter in front of next.
func (l *Limiter) wrap(next http.RoundTripper) http.RoundTripper {
	return &limitTransport{next: next, Limiter: l}
}

type limitTransport struct {
	next http.RoundTripper
	*Limiter
}

// Paused returns how long the pause Keycloak asked for still lasts (0: none).
func (l *Limiter) Paused() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(0, l.notBefore.Sub(l.now()))
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		<-t.slots
		return resp, err
	}
	// The slot is held until the body is closed: a response whose body is
	// still being read is still a request Keycloak is serving, and
	// releasing the slot at the headers would let a slow body stream
	// while more requests go out than the limit allows.
	resp.Body = &releaseOnClose{ReadCloser: resp.Body, release: func() { <-t.slots }}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			t.mu.Lock()
			if until := t.now().Add(min(d, maxRetryAfter)); until.After(t.notBefore) {
				t.notBefore = until
			}
			t.mu.Unlock()
		}
	}
	return resp, nil
}

// releaseOnClose frees a limiter slot once, when the body is closed.
type releaseOnClose struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second, s > 0
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now), true
	}
	return 0, false
}
