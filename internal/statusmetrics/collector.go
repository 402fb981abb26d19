// Package statusmetrics exports gauges computed at scrape time from the
// manager's cache: AuthClients by condition, AuthServer readiness, rotations due.
package statusmetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// The gauges below describe the objects as their status says, for the
// chart's dashboard and alerts. They are computed at scrape time from the
// manager's cache (no request to the API server), so they are never stale
// and need no bookkeeping when an object is deleted.
var (
	// AuthClients are many: counted by namespace, Ready status and
	// reason (a bounded set), and whether they are Stalled. No label names
	// a client; `kubectl get authclients -n <namespace>` does.
	authClientsDesc = prometheus.NewDesc("nauthera_authclients",
		"AuthClients by namespace, Ready condition status (True, False, Unknown), its reason, and stalled (true: a failure retrying cannot fix).",
		[]string{"namespace", "ready", "reason", "stalled"}, nil)
	// AuthServers are few, and an alert must name the realm that is down.
	authServerReadyDesc = prometheus.NewDesc("nauthera_authserver_ready",
		"1 if the AuthServer's Ready condition is True, else 0; reason is the condition's reason (KeycloakUnavailable: Keycloak cannot be reached).",
		[]string{"namespace", "name", "reason"}, nil)
	// Rotation lag is exported as a timestamp rather than as a count of
	// "overdue" clients, so that the margin after which a late rotation
	// pages someone lives in the alert rule (a chart value), not in the
	// operator. Per namespace, the earliest one: no client names, and the
	// most overdue client is the one an alert is about.
	rotationDueDesc = prometheus.NewDesc("nauthera_authclient_secret_rotation_due_timestamp_seconds",
		"Earliest time (Unix seconds) a secret rotation of an AuthClient in the namespace is or was due: the start of a rotation not yet finished (status.secretRotation.pending.since), else the next scheduled one (status.secretRotation.nextRotationTime). Far in the past: a rotation is overdue.",
		[]string{"namespace"}, nil)
)

// StatusCollector is a prometheus.Collector that reports, at each scrape,
// AuthClients by condition, AuthServer readiness and the earliest due
// secret rotation per namespace, from reader (the manager's cache-backed
// client). Only the leader reports (elected is closed once it leads, at
// once without leader election): every replica's cache holds the same
// objects, and a sum over replicas must not count them twice.
type StatusCollector struct {
	reader  client.Reader
	elected <-chan struct{}
	// Timeout bounds the cache reads of one scrape (until the informers
	// have synced, a read waits for them).
	Timeout time.Duration
}

// NewStatusCollector returns a StatusCollector over reader; see there.
func NewStatusCollector(reader client.Reader, elected <-chan struct{}) *StatusCollector {
	return &StatusCollector{reader: reader, elected: elected, Timeout: 10 * time.Second}
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- authClientsDesc
	ch <- authServerReadyDesc
	ch <- rotationDueDesc
}

// Collect implements prometheus.Collector. A failed read leaves its
// metrics out of this scrape and is logged: an invalid metric would fail
// the whole scrape, the operator's other metrics with it.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	log := ctrl.Log.WithName("metrics")
	// Read-only use of the cached objects: no deep copy per scrape.
	var clients authv1.AuthClientList
	if err := c.reader.List(ctx, &clients, client.UnsafeDisableDeepCopy); err != nil {
		log.Error(err, "Cannot list AuthClients for the status metrics")
	} else {
		collectAuthClients(ch, clients.Items)
	}
	var servers authv1.AuthServerList
	if err := c.reader.List(ctx, &servers, client.UnsafeDisableDeepCopy); err != nil {
		log.Error(err, "Cannot list AuthServers for the status metrics")
	} else {
		for i := range servers.Items {
			as := &servers.Items[i]
			ready, reason := readyOf(as.Status.Conditions)
			v := 0.0
			if ready == metav1.ConditionTrue {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(authServerReadyDesc, prometheus.GaugeValue, v, as.Namespace, as.Name, reason)
		}
	}
}

func collectAuthClients(ch chan<- prometheus.Metric, items []authv1.AuthClient) {
	type key struct{ namespace, ready, reason, stalled string }
	counts := map[key]int{}
	due := map[string]time.Time{}
	for i := range items {
		ac := &items[i]
		ready, reason := readyOf(ac.Status.Conditions)
		stalled := "false"
		if meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.StalledCondition) {
			stalled = "true"
		}
		counts[key{ac.Namespace, string(ready), reason, stalled}]++
		if ac.DeletionTimestamp != nil {
			continue // no rotation is owed to a client being deleted
		}
		if t := rotationDue(ac.Status.SecretRotation); !t.IsZero() {
			if d, ok := due[ac.Namespace]; !ok || t.Before(d) {
				due[ac.Namespace] = t
			}
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(authClientsDesc, prometheus.GaugeValue, float64(n), k.namespace, k.ready, k.reason, k.stalled)
	}
	for ns, t := range due {
		ch <- prometheus.MustNewConstMetric(rotationDueDesc, prometheus.GaugeValue, float64(t.Unix()), ns)
	}
}

// rotationDue is when st's rotation is or was due: a started rotation
// since its start (the reconciler moves nextRotationTime on before it asks
// Keycloak, so a rotation that keeps failing shows only here), else the
// next scheduled one (which stays in the past while reconciles of the
// client fail before they reach the rotation). Zero when nothing is
// scheduled or pending.
func rotationDue(st *authv1.SecretRotationStatus) time.Time {
	if st == nil {
		return time.Time{}
	}
	due := time.Time{}
	if st.NextRotationTime != nil {
		due = st.NextRotationTime.Time
	}
	if p := st.Pending; p != nil && !p.Since.IsZero() && (due.IsZero() || p.Since.Time.Before(due)) {
		due = p.Since.Time
	}
	return due
}

// readyOf returns the Ready condition's status (Unknown when it has none
// yet) and reason.
func readyOf(conds []metav1.Condition) (metav1.ConditionStatus, string) {
	c := meta.FindStatusCondition(conds, authv1.ReadyCondition)
	if c == nil {
		return metav1.ConditionUnknown, ""
	}
	return c.Status, c.Reason
}

var _ prometheus.Collector = (*StatusCollector)(nil)
