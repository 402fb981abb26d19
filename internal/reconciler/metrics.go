package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcome is how a reconcile ended, as counted by the outcome metric.
type Outcome string

const (
	// OutcomeReady: the object is as its spec asks.
	OutcomeReady Outcome = "ready"
	// OutcomeWaiting: waiting for something expected to happen soon.
	OutcomeWaiting Outcome = "waiting"
	// OutcomeStalled: a failure that retrying cannot fix; waits for a change.
	OutcomeStalled Outcome = "stalled"
	// OutcomeTransient: a failure retried with backoff.
	OutcomeTransient Outcome = "transient"
)

// reconcileOutcomes counts reconcile outcomes by kind, outcome and reason.
// Reasons are the bounded set of condition reasons in the API package; no
// label names an object.
var reconcileOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "nauthera",
	Name:      "reconcile_outcomes_total",
	Help:      "Reconcile outcomes by kind, outcome (ready, waiting, stalled, transient) and condition reason.",
}, []string{"kind", "outcome", "reason"})

func init() {
	// controller-runtime's registry is the one its metrics server serves.
	metrics.Registry.MustRegister(reconcileOutcomes)
}

func countOutcome(kind string, outcome Outcome, reason string) {
	if kind == "" {
		kind = "unknown"
	}
	reconcileOutcomes.WithLabelValues(kind, string(outcome), reason).Inc()
}

// OutcomeCount returns how many reconciles of kind ended with outcome and
// reason so far (for tests and benchmarks).
func OutcomeCount(kind string, outcome Outcome, reason string) float64 {
	c, err := reconcileOutcomes.GetMetricWithLabelValues(kind, string(outcome), reason)
	if err != nil {
		return 0
	}
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
