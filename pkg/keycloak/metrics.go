package keycloak

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts and times every HTTP request made to Keycloak, by server,
// operation, method and status code. The server label is the host:port of
// the Keycloak (one per configured Keycloak, a bounded set); labels never
// carry paths, realms, object names or credentials.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
}

// NewMetrics creates the Keycloak request metrics. Register them with
// Register (the operator uses controller-runtime's registry).
func NewMetrics() *Metrics {
	return &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nauthera",
			Subsystem: "keycloak",
			Name:      "requests_total",
			Help:      "HTTP requests made to the Keycloak admin and token APIs, by server (host:port), operation, method and status code (\"error\" when no response arrived).",
		}, []string{"server", "operation", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "nauthera",
			Subsystem: "keycloak",
			Name:      "request_duration_seconds",
			Help:      "Duration of HTTP requests made to Keycloak, by server (host:port) and operation.",
			Buckets:   []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"server", "operation"}),
	}
}

// Register adds the metrics to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Requests, m.Duration} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

type operationKey struct{}

// withOperation names the operation that requests made with ctx belong to.
func withOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom returns the name of the operation (such as "client.create")
// that a request made with ctx belongs to, or "unknown". Test transports use
// it to inject faults into chosen operations.
func OperationFrom(ctx context.Context) string {
	if op, ok := ctx.Value(operationKey{}).(string); ok {
		return op
	}
	return "unknown"
}

// instrumentedTransport is an http.RoundTripper that records Metrics for
// every request passing through it.
type instrumentedTransport struct {
	next    http.RoundTripper
	metrics *Metrics
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := OperationFrom(req.Context())
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.metrics.Duration.WithLabelValues(req.URL.Host, op).Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.metrics.Requests.WithLabelValues(req.URL.Host, op, req.Method, code).Inc()
	return resp, err
}
