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
	// SkipDryRun leaves server-side dry runs (Kubernetes' dryRun=All) alone:
	// only the real write fails.
	SkipDryRun bool
	// Hold keeps the request waiting until Hold is closed (or the request's
	// context ends), then does what the other fields say: with them unset
	// it goes on to Keycloak. A test holds one operation this way while it
	// makes something else happen meanwhile (a race, made deterministic).
	Hold <-chan struct{}
}

// Faults is a fault-injecting http.RoundTripper for tests, placed in front
// of the real Keycloak (keycloak.Config.WrapTransport, with Wrap) and of
// the real Kubernetes API server (rest.Config.WrapTransport, with
// WrapKubernetes). It picks Keycloak requests by the operation name the
// keycloak package puts in their context, such as "client.create" or
// "client.scopes.default.add", and Kubernetes requests by resource and
// verb, such as "kubernetes.secrets.patch" (KubernetesOperation). There is
// no fake server: whatever is not injected reaches the real one.
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

// Wrap returns next (a Keycloak client's transport) with the faults in
// front of it.
func (f *Faults) Wrap(next http.RoundTripper) http.RoundTripper {
	return f.wrap(next, func(req *http.Request) string { return keycloak.OperationFrom(req.Context()) })
}

// WrapKubernetes returns next (a Kubernetes client's transport, for
// rest.Config.WrapTransport) with the faults in front of it.
func (f *Faults) WrapKubernetes(next http.RoundTripper) http.RoundTripper {
	return f.wrap(next, KubernetesOperation)
}

// KubernetesOperation names a Kubernetes API request for Faults:
// "kubernetes.<resource>[/<subresource>].<verb>", with the verb one of get,
// list, watch, create, update, patch, delete ("kubernetes.secrets.patch",
// "kubernetes.authclients/status.patch"); "" for other paths.
func KubernetesOperation(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) > 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) > 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return ""
	}
	if len(parts) > 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	resource := parts[0]
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[req.Method]
	switch {
	case req.Method != http.MethodGet:
	case req.URL.Query().Get("watch") == "true":
		verb = "watch"
	case len(parts) == 1:
		verb = "list"
	default:
		verb = "get"
	}
	return "kubernetes." + resource + "." + verb
}

func (f *Faults) wrap(next http.RoundTripper, operation func(*http.Request) string) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		op := operation(req)
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
		fault := f.take(op, req, body)
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

func (f *Faults) take(op string, req *http.Request, body string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault := f.rules[op]
	if fault == nil || (fault.Status == 0 && fault.Err == nil && fault.Hold == nil) ||
		!strings.Contains(req.URL.Path, fault.PathContains) || !strings.Contains(body, fault.BodyContains) ||
		fault.SkipDryRun && req.URL.Query().Get("dryRun") != "" {
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
