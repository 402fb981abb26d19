package testbed

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Fault is what Faults does to the requests of one Keycloak operation.
type Fault struct {
	// Status answers the request with this HTTP status instead of sending it
	// to Keycloak (a 2xx makes Keycloak appear to accept a change it never
	// saw). Zero with Err unset passes the request on.
	Status int
	// Err fails the request as a broken connection would.
	Err error
	// Body replaces the default error body ({"error":"injected fault ..."}).
	Body string
	// PathContains, if set, limits the fault to requests whose URL path
	// contains it (a realm name, say), so other tests' objects are spared.
	PathContains string
	// BodyContains, if set, limits the fault to requests whose body
	// contains it (one client's clientId in a create, say).
	BodyContains string
	// Times limits the fault to the next Times requests; 0 means every one.
	Times int
	// AfterSend sends the request to Keycloak first and then replaces its
	// answer: Keycloak made the change, the operator never learns it (as
	// when the operator is killed, or the connection drops, mid-request).
	AfterSend bool
	// Hold keeps the request waiting until Hold is closed (or the request's
	// context ends), then does what the other fields say: with them unset
	// it goes on to Keycloak. A test holds one operation this way while it
	// makes something else happen meanwhile (a race, made deterministic).
	Hold <-chan struct{}
}

// Faults is a fault-injecting http.RoundTripper for tests, placed in front
// of the real Keycloak (keycloak.Config.WrapTransport). It picks requests by
// the operation name the keycloak package puts in their context, such as
// "client.create" or "client.scopes.default.add". There is no fake Keycloak:
// whatever is not injected reaches the real server.
type Faults struct {
	mu    sync.Mutex
	rules map[string]*Fault
	hits  map[string]int
	// seen counts every request that passed, by method and URL path.
	seen map[string]int
}

// Requests counts the requests (faulted or not) whose URL path contains
// path, with one of the methods (all methods when none is given).
func (f *Faults) Requests(path string, methods ...string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, c := range f.seen {
		method, p, _ := strings.Cut(k, " ")
		if strings.Contains(p, path) && (len(methods) == 0 || slices.Contains(methods, method)) {
			n += c
		}
	}
	return n
}

// Set injects f into every request of operation op, replacing any earlier fault.
func (f *Faults) Set(op string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rules == nil {
		f.rules, f.hits = map[string]*Fault{}, map[string]int{}
	}
	f.rules[op] = &fault
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.hits = nil, nil
}

// Hits returns how many requests of op were faulted.
func (f *Faults) Hits(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[op]
}

// Wrap returns next with the faults in front of it.
func (f *Faults) Wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		op := keycloak.OperationFrom(req.Context())
		f.record(req.Method + " " + req.URL.Path)
		body := ""
		if f.wantsBody(op) && req.Body != nil {
			b, err := io.ReadAll(req.Body)
			_ = req.Body.Close()
			if err != nil {
				return nil, err
			}
			body, req.Body = string(b), io.NopCloser(bytes.NewReader(b))
		}
		fault := f.take(op, req.URL.Path, body)
		if fault != nil && fault.Hold != nil {
			select {
			case <-fault.Hold:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
			if fault.Status == 0 && fault.Err == nil {
				fault = nil
			}
		}
		if fault != nil && fault.AfterSend {
			resp, err := next.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		switch {
		case fault == nil:
			return next.RoundTrip(req)
		case fault.Err != nil:
			return nil, fault.Err
		default:
			if req.Body != nil && !fault.AfterSend {
				_ = req.Body.Close()
			}
			body := fault.Body
			if body == "" && fault.Status >= 300 {
				body = fmt.Sprintf(`{"error":"injected fault for %s"}`, op)
			}
			return &http.Response{
				StatusCode: fault.Status, Status: fmt.Sprintf("%d %s", fault.Status, http.StatusText(fault.Status)),
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
				Header:        http.Header{"Content-Type": []string{"application/json"}},
				Body:          io.NopCloser(strings.NewReader(body)),
				ContentLength: int64(len(body)),
			}, nil
		}
	})
}

func (f *Faults) record(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[key]++
}

// wantsBody says whether the fault for op looks at the request body.
func (f *Faults) wantsBody(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rules[op] != nil && f.rules[op].BodyContains != ""
}

func (f *Faults) take(op, path, body string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault := f.rules[op]
	if fault == nil || (fault.Status == 0 && fault.Err == nil && fault.Hold == nil) ||
		!strings.Contains(path, fault.PathContains) || !strings.Contains(body, fault.BodyContains) {
		return nil
	}
	f.hits[op]++
	if fault.Times > 0 {
		if fault.Times--; fault.Times == 0 {
			delete(f.rules, op)
		}
	}
	cp := *fault
	return &cp
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
