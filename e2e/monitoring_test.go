package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	_ "github.com/nauthera/nauthera/controllers" // registers the reconcilers' metrics (init)
	"github.com/nauthera/nauthera/internal/statusmetrics"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The chart's optional monitoring objects: the PrometheusRule's alerts and
// the Grafana dashboard. Here they are parsed as Prometheus and Grafana
// would, and every metric and label they use is checked against what the
// operator registers. TestChart has the API server accept them against the
// upstream CRDs (prometheusOperatorCRDs).

// prometheusOperatorCRDs are the CRDs of the monitoring objects the chart
// renders, from the prometheus-operator module (the newest version of its
// root module that the module proxy serves; the CRDs are in its example/).
var prometheusOperatorCRDs = struct {
	module, version string
	files           []string
}{
	"github.com/prometheus-operator/prometheus-operator", "v0.85.0",
	[]string{
		"example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
		"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
	},
}

// monitoringOn turns on the three monitoring objects, as the examples of
// docs/guides/monitoring.md and the chart's README do (checked in
// readme-examples).
var monitoringOn = []string{
	"operator.metrics.serviceMonitor.enabled=true",
	"monitoring.grafanaDashboard.enabled=true",
	"monitoring.prometheusRule.enabled=true",
}

// wantAlerts are the alerts the chart ships; the issue names the first five.
var wantAlerts = []string{
	"NautheraKeycloakUnreachable", "NautheraAuthClientsStalled", "NautheraCertificateExpiringSoon",
	"NautheraCertificateExpired", "NautheraSecretRotationOverdue", "NautheraReconcileErrorsHigh", "NautheraOperatorDown",
}

// targetLabels are the labels Prometheus adds to every scraped series
// (kube-prometheus' ServiceMonitor relabelling). namespace is the operator
// pod's, except on series that carry their own (honorLabels).
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

func TestMonitoring(t *testing.T) {
	exported := operatorMetrics(t)

	t.Run("alerts", func(t *testing.T) {
		rules := renderedRules(t, monitoringOn)
		var names []string
		for _, r := range rules {
			names = append(names, r.Alert)
			checkAlert(t, r, exported)
		}
		for _, a := range wantAlerts {
			if !slices.Contains(names, a) {
				t.Errorf("no alert %s (got %v)", a, names)
			}
		}
	})

	t.Run("alerts-follow-values", func(t *testing.T) {
		rules := renderedRules(t, []string{
			"monitoring.prometheusRule.enabled=true",
			"monitoring.prometheusRule.keycloakUnreachableFor=7m",
			"monitoring.prometheusRule.certificateExpiryDays=30",
			"monitoring.prometheusRule.secretRotationOverdueMinutes=90",
			"monitoring.prometheusRule.disabledAlerts={NautheraReconcileErrorsHigh}",
			"monitoring.prometheusRule.alertLabels.team=platform",
		})
		got := map[string][]rulefmt.Rule{}
		for _, r := range rules {
			got[r.Alert] = append(got[r.Alert], r)
			if r.Labels["team"] != "platform" || r.Labels["severity"] == "" {
				t.Errorf("%s: labels %v, want team=platform next to severity", r.Alert, r.Labels)
			}
		}
		for alert, want := range map[string]int{"NautheraReconcileErrorsHigh": 0, "NautheraOperatorDown": 0, "NautheraKeycloakUnreachable": 2} {
			if len(got[alert]) != want {
				t.Errorf("%d rules %s, want %d (disabledAlerts; NautheraOperatorDown needs the chart's ServiceMonitor)", len(got[alert]), alert, want)
			}
		}
		for _, r := range got["NautheraKeycloakUnreachable"] {
			if r.For.String() != "7m" {
				t.Errorf("NautheraKeycloakUnreachable for %s, want 7m", r.For)
			}
		}
		for alert, want := range map[string]string{"NautheraCertificateExpiringSoon": "30 * 86400", "NautheraSecretRotationOverdue": "> 90 * 60"} {
			if len(got[alert]) != 1 || !strings.Contains(got[alert][0].Expr, want) {
				t.Errorf("%s: expression %v lacks %q", alert, got[alert], want)
			}
		}
	})

	// The values the docs tell users to paste render the three objects.
	t.Run("readme-examples", func(t *testing.T) {
		for file, heading := range map[string]string{
			"docs/guides/monitoring.md": "## Dashboard and alerts",
			"charts/nauthera/README.md": "## Monitoring",
		} {
			b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), file))
			if err != nil {
				t.Fatal(err)
			}
			_, section, _ := strings.Cut(string(b), "\n"+heading+"\n")
			_, example, _ := strings.Cut(section, "```yaml\n")
			example, _, found := strings.Cut(example, "```")
			if !found {
				t.Errorf("%s: no yaml example under %q", file, heading)
				continue
			}
			values := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(values, []byte(example), 0o600); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, o := range objects(t, renderOffline(t, "r-readme", nil, "--values", values)) {
				if o.GetKind() == "ConfigMap" && o.GetLabels()["grafana_dashboard"] == "" {
					continue
				}
				kinds[o.GetKind()]++
			}
			for _, k := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
				if kinds[k] != 1 {
					t.Errorf("%s: its example renders %d %s, want 1", file, kinds[k], k)
				}
			}
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		objs := objects(t, renderOffline(t, "r-dash", []string{"monitoring.grafanaDashboard.enabled=true"}))
		var cm *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "ConfigMap" && o.GetLabels()["grafana_dashboard"] == "1" {
				cm = o
			}
		}
		if cm == nil {
			t.Fatal("no ConfigMap labelled grafana_dashboard=1")
		}
		raw, _, _ := unstructured.NestedString(cm.Object, "data", "nauthera.json")
		checkDashboard(t, raw, exported)
	})
}

// operatorMetrics returns the metrics the operator registers, by name, with
// their labels: what cmd/nauthera registers on controller-runtime's registry
// (its own, and Nauthera's from the packages' init) plus the Keycloak
// request metrics and the status collector it adds there. The real binary's
// /metrics is checked in TestOperator.
func operatorMetrics(t *testing.T) map[string][]string {
	t.Helper()
	extra := prometheus.NewRegistry()
	if err := keycloak.NewMetrics().Register(extra); err != nil {
		t.Fatal(err)
	}
	extra.MustRegister(statusmetrics.NewStatusCollector(nil, nil))
	descs := make(chan *prometheus.Desc)
	go func() {
		metrics.Registry.(prometheus.Collector).Describe(descs)
		extra.Describe(descs)
		close(descs)
	}()
	// Desc has no accessors; its String is stable across client_golang
	// releases, and a change fails here rather than passing silently.
	re := regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*, variableLabels: \{([^}]*)\}\}$`)
	out := map[string][]string{}
	for d := range descs {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = labels
	}
	for _, name := range []string{"nauthera_reconcile_outcomes_total", "nauthera_keycloak_requests_total", "nauthera_authclients", "workqueue_depth"} {
		if _, ok := out[name]; !ok {
			t.Fatalf("the operator's registry lacks %s: %v", name, slices.Sorted(maps.Keys(out)))
		}
	}
	return out
}

// renderOffline runs helm template; it needs no API server, so these
// checks run with -short too, given bin/helm.
func renderOffline(t *testing.T, ns string, set []string, extra ...string) string {
	t.Helper()
	helm := filepath.Join(testbed.RepoRoot(), "bin", "helm")
	if _, err := os.Stat(helm); err != nil && testing.Short() {
		t.Skipf("no %s (make envtest-assets)", helm)
	}
	args := append([]string{"template", "rel", chart, "--namespace", ns}, extra...)
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(helm, args...)
	cmd.Dir = testbed.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// renderedRules renders the chart with set and parses every group of every
// PrometheusRule with Prometheus's rule parser, which also parses each
// expression and each annotation template.
func renderedRules(t *testing.T, set []string) []rulefmt.Rule {
	t.Helper()
	var rules []rulefmt.Rule
	n := 0
	for _, o := range objects(t, renderOffline(t, "r-rules", set)) {
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		n++
		if o.GetAPIVersion() != "monitoring.coreos.com/v1" {
			t.Errorf("PrometheusRule apiVersion %s", o.GetAPIVersion())
		}
		spec, _, _ := unstructured.NestedMap(o.Object, "spec")
		b, err := yaml.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		groups, errs := rulefmt.Parse(b, false, model.LegacyValidation, parser.NewParser(parser.Options{}), nil)
		for _, err := range errs {
			t.Errorf("PrometheusRule %s: %v", o.GetName(), err)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			rules = append(rules, g.Rules...)
		}
	}
	if n != 1 || len(rules) == 0 {
		t.Fatalf("%d PrometheusRules with %d rules rendered, want one with rules", n, len(rules))
	}
	return rules
}

var labelRef = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// checkAlert asserts what makes an alert actionable: a severity, a summary
// and a description that say what to run, labels in the annotations that
// the expression keeps, and only metrics and labels the operator exports.
func checkAlert(t *testing.T, r rulefmt.Rule, exported map[string][]string) {
	t.Helper()
	if r.Alert == "" {
		t.Errorf("a recording rule %q: the chart ships alerts only", r.Record)
		return
	}
	if s := r.Labels["severity"]; s != "critical" && s != "warning" {
		t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
	}
	if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["description"], "kubectl") {
		t.Errorf("%s: want a summary and a description that says what to run (kubectl ...): %v", r.Alert, r.Annotations)
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
	if err != nil {
		t.Errorf("%s: %v", r.Alert, err)
		return
	}
	checkExpr(t, r.Alert, expr, exported)
	out, known := outputLabels(expr, exported)
	for _, text := range r.Annotations {
		for _, m := range labelRef.FindAllStringSubmatch(text, -1) {
			if !known || !slices.Contains(out, m[1]) {
				t.Errorf("%s: an annotation uses $labels.%s, but the expression's series carry %v (known: %v)", r.Alert, m[1], out, known)
			}
		}
	}
}

// checkExpr asserts that every metric expr selects is one the operator
// exports (or Prometheus's up), that its matchers use labels the metric
// has, and that every by() clause groups by labels its input has.
func checkExpr(t *testing.T, what string, expr parser.Expr, exported map[string][]string) {
	t.Helper()
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			labels, ok := seriesLabels(n.Name, exported)
			if !ok {
				t.Errorf("%s: metric %q is not one the operator exports", what, n.Name)
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !slices.Contains(labels, m.Name) {
					t.Errorf("%s: %s has no label %q (it has %v)", what, n.Name, m.Name, labels)
				}
			}
		case *parser.AggregateExpr:
			var in []string
			parser.Inspect(n.Expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					l, _ := seriesLabels(vs.Name, exported)
					in = append(in, l...)
				}
				return nil
			})
			for _, g := range n.Grouping {
				if !slices.Contains(in, g) {
					t.Errorf("%s: %s by/without (%s): its input has no label %q (it has %v)", what, n.Op, strings.Join(n.Grouping, ", "), g, in)
				}
			}
		}
		return nil
	})
}

// seriesLabels returns the labels of the series of a metric name as
// Prometheus stores them: the metric's own, a histogram's le on _bucket, and
// the target's.
func seriesLabels(name string, exported map[string][]string) ([]string, bool) {
	if name == "up" {
		return targetLabels, true
	}
	if l, ok := exported[name]; ok {
		return slices.Concat(l, targetLabels), true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if l, ok := exported[base]; ok {
				if suffix == "_bucket" {
					l = append(slices.Clone(l), "le")
				}
				return slices.Concat(l, targetLabels), true
			}
		}
	}
	return nil, false
}

// outputLabels returns the labels of the series expr yields, for the
// shapes alert expressions take; false when it cannot tell.
func outputLabels(expr parser.Expr, exported map[string][]string) ([]string, bool) {
	switch e := expr.(type) {
	case *parser.ParenExpr:
		return outputLabels(e.Expr, exported)
	case *parser.AggregateExpr:
		if e.Without {
			return nil, false
		}
		return e.Grouping, true
	case *parser.BinaryExpr:
		switch {
		case e.LHS.Type() == parser.ValueTypeScalar:
			return outputLabels(e.RHS, exported)
		case e.RHS.Type() == parser.ValueTypeScalar:
			return outputLabels(e.LHS, exported)
		case e.VectorMatching != nil && e.VectorMatching.Card == parser.CardOneToOne && !e.VectorMatching.On && len(e.VectorMatching.MatchingLabels) == 0:
			// Both sides match on all their labels: the result has the left's.
			return outputLabels(e.LHS, exported)
		}
	case *parser.VectorSelector:
		return seriesLabels(e.Name, exported)
	}
	return nil, false
}

// grafanaVar is a dashboard variable reference: $name, ${name},
// ${name:format} or [[name]].
var grafanaVar = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)

// checkDashboard parses the dashboard as Grafana's JSON model and each
// query with the PromQL parser, after putting values in for the variables.
func checkDashboard(t *testing.T, raw string, exported map[string][]string) {
	t.Helper()
	var dash struct {
		UID           string            `json:"uid"`
		Title         string            `json:"title"`
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		}
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion < 36 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d", dash.UID, dash.Title, dash.SchemaVersion)
	}

	// Variables: a Prometheus data source, and label_values() queries on
	// exported metrics and labels.
	vars := map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range dash.Templating.List {
		vars[v.Name] = "x"
		switch v.Type {
		case "datasource":
			if string(v.Query) != `"prometheus"` {
				t.Errorf("variable %s: data sources of type %s, want prometheus", v.Name, v.Query)
			}
		case "query":
			var q struct{ Query string }
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
			m := labelValues.FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
				continue
			}
			if l, ok := seriesLabels(m[1], exported); !ok || !slices.Contains(l, m[2]) {
				t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
			}
		}
	}
	if _, ok := vars["datasource"]; !ok {
		t.Error("no datasource variable: the dashboard would be tied to one Prometheus")
	}

	// Panels, including those inside collapsed rows.
	var panels []map[string]any
	var walk func([]json.RawMessage)
	walk = func(list []json.RawMessage) {
		for _, raw := range list {
			var p map[string]any
			var nested struct{ Panels []json.RawMessage }
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(raw, &nested)
			panels = append(panels, p)
			walk(nested.Panels)
		}
	}
	walk(dash.Panels)
	ids := map[float64]bool{}
	used := map[string]bool{}
	queries := 0
	for _, p := range panels {
		title, _ := p["title"].(string)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: id %v used twice", title, id)
		}
		ids[id] = true
		if p["type"] == "row" {
			continue
		}
		if ds := fmt.Sprint(p["datasource"]); ds != "map[type:prometheus uid:${datasource}]" {
			t.Errorf("panel %q: datasource %s, want the datasource variable", title, ds)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range targets {
			tg := tg.(map[string]any)
			if ds := fmt.Sprint(tg["datasource"]); ds != "map[type:prometheus uid:${datasource}]" {
				t.Errorf("panel %q: a query's datasource %s, want the datasource variable", title, ds)
			}
			q, _ := tg["expr"].(string)
			var undefined []string
			q = grafanaVar.ReplaceAllStringFunc(q, func(ref string) string {
				m := grafanaVar.FindStringSubmatch(ref)
				name := m[1] + m[2] + m[3]
				v, ok := vars[name]
				if !ok {
					undefined = append(undefined, name)
				}
				return v
			})
			if len(undefined) > 0 {
				t.Errorf("panel %q: undefined variables %v", title, undefined)
			}
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
			if err != nil {
				t.Errorf("panel %q: %q: %v", title, q, err)
				continue
			}
			queries++
			checkExpr(t, "panel "+title, expr, exported)
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					used[strings.TrimSuffix(vs.Name, "_bucket")] = true
				}
				return nil
			})
		}
	}
	// Every Nauthera metric has a place on the dashboard.
	for name := range exported {
		if strings.HasPrefix(name, "nauthera_") && !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries parsed", queries)
	}
}
