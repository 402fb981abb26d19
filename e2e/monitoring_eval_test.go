package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// The alerts evaluated by Prometheus's query engine over half an hour of
// series shaped like the operator's, scraped every 30 seconds: each fires
// for the situation it names and stays quiet in the ones next to it.

// synthetic is a series: its labels and its value minutes into the half hour.
type synthetic struct {
	labels []string
	value  func(minutes float64) float64
}

func constant(v float64) func(float64) float64 { return func(float64) float64 { return v } }

// perMinute is a counter growing by n a minute.
func perMinute(n float64) func(float64) float64 { return func(m float64) float64 { return n * m } }

func TestMonitoringAlertsFire(t *testing.T) {
	const window = 30 * time.Minute
	start := time.Unix(1_900_000_000, 0).UTC()
	now := start.Add(window)
	day := 24 * time.Hour
	at := func(d time.Duration) float64 { return float64(now.Add(d).Unix()) }
	// The target labels of the operator's pod (kube-prometheus relabelling;
	// honorLabels keeps the objects' namespace on Nauthera's own gauges).
	target := []string{"job", "rel-nauthera-metrics", "instance", "10.0.0.7:8080", "pod", "rel-nauthera-5d9c", "service", "rel-nauthera-metrics", "endpoint", "metrics"}
	s := func(name string, value func(float64) float64, ls ...string) synthetic {
		if !slices.Contains(ls, "namespace") {
			ls = append(ls, "namespace", "r-rules")
		}
		return synthetic{labels: slices.Concat([]string{"__name__", name}, ls, target), value: value}
	}
	data := []synthetic{
		// Keycloak kc-down answers nothing; kc-flaky half the time.
		s("nauthera_keycloak_requests_total", perMinute(6), "server", "kc-down:8443", "operation", "client.get", "method", "GET", "code", "error"),
		s("nauthera_keycloak_requests_total", perMinute(2), "server", "kc-down:8443", "operation", "token", "method", "POST", "code", "503"),
		s("nauthera_keycloak_requests_total", perMinute(4), "server", "kc-flaky:8443", "operation", "client.get", "method", "GET", "code", "error"),
		s("nauthera_keycloak_requests_total", perMinute(4), "server", "kc-flaky:8443", "operation", "client.get", "method", "GET", "code", "200"),
		// A realm whose Keycloak is unavailable, one Ready, one not Ready for another reason.
		s("nauthera_authserver_ready", constant(0), "namespace", "security", "name", "staging", "reason", "KeycloakUnavailable"),
		s("nauthera_authserver_ready", constant(1), "namespace", "security", "name", "prod", "reason", "RealmProvisioned"),
		s("nauthera_authserver_ready", constant(0), "namespace", "security", "name", "taken", "reason", "RealmConflict"),
		// Stalled clients in team-a; retrying and Ready ones in team-b.
		s("nauthera_authclients", constant(2), "namespace", "team-a", "ready", "False", "reason", "InvalidSpec", "stalled", "true"),
		s("nauthera_authclients", constant(4), "namespace", "team-b", "ready", "False", "reason", "KeycloakUnavailable", "stalled", "false"),
		s("nauthera_authclients", constant(9), "namespace", "team-b", "ready", "True", "reason", "ClientProvisioned", "stalled", "false"),
		// Certificates: 10 days left, 20 days left, expired yesterday.
		s("nauthera_authserver_certificate_expiration_timestamp_seconds", constant(at(10*day)), "namespace", "security", "name", "soon"),
		s("nauthera_authserver_certificate_expiration_timestamp_seconds", constant(at(20*day)), "namespace", "security", "name", "later"),
		s("nauthera_authserver_certificate_expiration_timestamp_seconds", constant(at(-day)), "namespace", "security", "name", "expired"),
		// Rotations: two hours late, ten minutes late, not due yet.
		s("nauthera_authclient_secret_rotation_due_timestamp_seconds", constant(at(-2*time.Hour)), "namespace", "team-a"),
		s("nauthera_authclient_secret_rotation_due_timestamp_seconds", constant(at(-10*time.Minute)), "namespace", "team-b"),
		s("nauthera_authclient_secret_rotation_due_timestamp_seconds", constant(at(time.Hour)), "namespace", "team-c"),
		// AuthClient reconciles mostly fail on a Kubernetes API error;
		// AuthServer ones on Keycloak (NautheraKeycloakUnreachable's);
		// AuthPolicy ones rarely.
		s("nauthera_reconcile_outcomes_total", perMinute(3), "kind", "AuthClient", "outcome", "transient", "reason", "Progressing"),
		s("nauthera_reconcile_outcomes_total", perMinute(1), "kind", "AuthClient", "outcome", "ready", "reason", "ClientProvisioned"),
		s("nauthera_reconcile_outcomes_total", perMinute(5), "kind", "AuthServer", "outcome", "transient", "reason", "KeycloakUnavailable"),
		s("nauthera_reconcile_outcomes_total", perMinute(1), "kind", "AuthServer", "outcome", "ready", "reason", "RealmProvisioned"),
		s("nauthera_reconcile_outcomes_total", perMinute(1), "kind", "AuthPolicy", "outcome", "transient", "reason", "Progressing"),
		s("nauthera_reconcile_outcomes_total", perMinute(9), "kind", "AuthPolicy", "outcome", "ready", "reason", "PolicyAccepted"),
	}
	up := func(v float64) synthetic { return s("up", constant(v)) }

	want := []string{
		`NautheraKeycloakUnreachable{server="kc-down:8443"}`,
		`NautheraKeycloakUnreachable{name="staging", namespace="security"}`,
		`NautheraAuthClientsStalled{namespace="team-a", reason="InvalidSpec"} = 2`,
		`NautheraCertificateExpiringSoon{name="soon", namespace="security"} = 864000`,
		`NautheraCertificateExpired{name="expired", namespace="security"}`,
		`NautheraSecretRotationOverdue{namespace="team-a"} = 7200`,
		`NautheraReconcileErrorsHigh{kind="AuthClient"} = 0.75`,
	}
	rules := renderedRules(t, monitoringOn)
	for _, tc := range []struct {
		name string
		data []synthetic
		want []string
	}{
		{"operator-scraped", append(slices.Clone(data), up(1)), want},
		{"operator-down", append(slices.Clone(data), up(0)), append(slices.Clone(want), `NautheraOperatorDown{job="rel-nauthera-metrics", namespace="r-rules"}`)},
		{"never-scraped", nil, []string{`NautheraOperatorDown{job="rel-nauthera-metrics", namespace="r-rules"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storageOf(tc.data, start, window)
			engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
			var got []string
			for _, r := range rules {
				q, err := engine.NewInstantQuery(context.Background(), db, nil, r.Expr, now)
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				res := q.Exec(context.Background())
				if res.Err != nil {
					t.Fatalf("%s: %v", r.Alert, res.Err)
				}
				vec, err := res.Vector()
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				for _, sample := range vec {
					got = append(got, firing(r.Alert, sample, tc.want))
				}
			}
			slices.Sort(got)
			wantSorted := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, wantSorted) {
				t.Errorf("firing:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantSorted, "\n  "))
			}
		})
	}
}

// firing formats an alert's series as in want: with " = value" when the
// wanted entry for it has one.
func firing(alert string, s promql.Sample, want []string) string {
	id := alert + s.Metric.String()
	if slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(w, id+" = ") }) {
		return fmt.Sprintf("%s = %g", id, s.F)
	}
	return id
}

// storageOf holds the series sampled every 30 seconds over window.
func storageOf(data []synthetic, start time.Time, window time.Duration) storage.Queryable {
	var all []storage.Series
	for _, d := range data {
		var samples []chunks.Sample
		for step := time.Duration(0); step <= window; step += 30 * time.Second {
			samples = append(samples, floatSample{t: start.Add(step).UnixMilli(), f: d.value(step.Minutes())})
		}
		all = append(all, storage.NewListSeries(labels.FromStrings(d.labels...), samples))
	}
	slices.SortFunc(all, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &storage.MockQueryable{MockQuerier: &storage.MockQuerier{
		SelectMockFunction: func(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
			var out []storage.Series
			for _, s := range all {
				if slices.IndexFunc(ms, func(m *labels.Matcher) bool { return !m.Matches(s.Labels().Get(m.Name)) }) < 0 {
					out = append(out, s)
				}
			}
			return &seriesSet{list: out, i: -1}
		},
	}}
}

type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *seriesSet) At() storage.Series                { return s.list[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
