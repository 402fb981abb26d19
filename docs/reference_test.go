package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

const (
	apiDir          = "apis/auth/v1alpha1"
	troubleshooting = "docs/operations/troubleshooting.md"
	concepts        = "docs/concepts.md"
	monitoring      = "docs/guides/monitoring.md"
)

// codeReasons reads every reason constant: the Reason* constants of the API
// package, and the certificate reasons of pkg/certs (whose const block says
// each is a condition reason). An Event-only reason is one declared in
// events.go or documented "(Event)"; every other reason is a condition
// reason (and also an Event reason: a condition turning False emits it).
func codeReasons(t *testing.T) (conditionReasons, eventReasons map[string]goConst) {
	t.Helper()
	conditionReasons, eventReasons = map[string]goConst{}, map[string]goConst{}
	for _, c := range stringConsts(t, apiDir) {
		if !strings.HasPrefix(c.Name, "Reason") {
			continue
		}
		if c.File == "events.go" || strings.Contains(c.Doc, "(Event)") {
			eventReasons[c.Value] = c
		} else {
			conditionReasons[c.Value] = c
		}
	}
	for _, c := range stringConsts(t, "pkg/certs") {
		// The block's comment says so ("each a condition reason"), whether
		// or not a constant has a comment of its own.
		if strings.Contains(c.Doc+c.BlockDoc, "condition reason") {
			conditionReasons[c.Value] = c
		}
	}
	if len(conditionReasons) < 20 || len(eventReasons) < 10 {
		t.Fatalf("found %d condition and %d Event reasons in the code: the parser lost them", len(conditionReasons), len(eventReasons))
	}
	return conditionReasons, eventReasons
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// Troubleshooting lists every condition reason with what to do about it.
func TestConditionReasonsTable(t *testing.T) {
	conditionReasons, _ := codeReasons(t)
	rows := tableUnder(t, troubleshooting, "## Condition reasons")
	documented := firstCodeSpans(t, rows)
	compareSets(t, "condition reason", troubleshooting, keys(conditionReasons), documented)
	for name, row := range documented {
		if len(row) < 3 || strings.TrimSpace(row[2]) == "" {
			t.Errorf("%s: reason %s says nothing about what to do", troubleshooting, name)
		}
	}
}

// The Events table lists every Event-only reason, with the type its
// constant's comment gives.
func TestEventReasonsTable(t *testing.T) {
	_, eventReasons := codeReasons(t)
	rows := tableUnder(t, troubleshooting, "## Events")
	documented := firstCodeSpans(t, rows)
	compareSets(t, "Event reason", troubleshooting, keys(eventReasons), documented)
	for name, row := range documented {
		c, ok := eventReasons[name]
		if !ok || len(row) < 2 {
			continue
		}
		for _, typ := range []string{"Normal", "Warning"} {
			if strings.Contains(c.Doc, "("+typ+")") && strings.TrimSpace(row[1]) != typ {
				t.Errorf("%s: Event %s is of type %q in the table; its constant %s says %s", troubleshooting, name, row[1], c.Name, typ)
			}
		}
	}
}

// The condition types of every kind, in concepts.
func TestConditionTypesTable(t *testing.T) {
	code := map[string]bool{}
	for _, c := range stringConsts(t, apiDir) {
		if strings.HasSuffix(c.Name, "Condition") {
			code[c.Value] = true
		}
	}
	compareSets(t, "condition type", concepts, code, firstCodeSpans(t, tableUnder(t, concepts, "## Conditions")))
}

// The per-kind condition tables of the spec pages name only conditions and
// reasons that exist.
func TestSpecPagesNameRealReasons(t *testing.T) {
	conditionReasons, eventReasons := codeReasons(t)
	known := keys(conditionReasons)
	for _, c := range stringConsts(t, apiDir) {
		if strings.HasSuffix(c.Name, "Condition") {
			known[c.Value] = true
		}
	}
	for _, kind := range kinds {
		page := "docs/spec/v1alpha1/" + kind + ".md"
		for _, row := range tableUnder(t, page, "## Conditions") {
			for _, cell := range row[:2] {
				for _, name := range codeSpans(cell) {
					if !known[name] {
						t.Errorf("%s: %q in its conditions table is no condition type or reason of the code", page, name)
					}
				}
			}
		}
		for _, row := range tableUnder(t, page, "## Events") {
			for _, name := range codeSpans(row[0]) {
				if _, ok := eventReasons[name]; !ok && !known[name] {
					t.Errorf("%s: Event %q is no reason of the code", page, name)
				}
			}
		}
	}
}

var kinds = []string{"authserver", "authclient", "authpolicy", "userstore"}

// codeMetric is a metric the operator defines.
type codeMetric struct {
	typ    string // counter, gauge, histogram; "" for a Desc (collected by hand)
	labels []string
}

var metricConstructors = map[string]string{
	"NewCounterVec": "counter", "NewCounter": "counter",
	"NewGaugeVec": "gauge", "NewGauge": "gauge",
	"NewHistogramVec": "histogram", "NewHistogram": "histogram",
	"NewSummaryVec": "summary", "NewSummary": "summary",
}

// codeMetrics finds every metric the operator's packages define: the
// prometheus.New*(Opts{Namespace, Subsystem, Name}, labels) calls and the
// prometheus.NewDesc(name, help, labels, ...) of collectors.
func codeMetrics(t *testing.T) map[string]codeMetric {
	t.Helper()
	out := map[string]codeMetric{}
	for _, path := range goFiles(t, "cmd", "controllers", "internal", "pkg") {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
				return true
			}
			if sel.Sel.Name == "NewDesc" && len(call.Args) >= 3 {
				name, ok := stringLit(call.Args[0])
				labels, lok := stringList(call.Args[2])
				if !ok || (!lok && !isNil(call.Args[2])) {
					t.Errorf("%s: a prometheus.NewDesc whose name or labels are not literals: document it by hand and teach this test", path)
					return true
				}
				out[name] = codeMetric{labels: labels}
				return true
			}
			typ, ok := metricConstructors[sel.Sel.Name]
			if !ok || len(call.Args) == 0 {
				return true
			}
			name := optsName(call.Args[0])
			if name == "" {
				t.Errorf("%s: a prometheus.%s whose name is not a literal: document it by hand and teach this test", path, sel.Sel.Name)
				return true
			}
			var labels []string
			if len(call.Args) > 1 {
				labels, _ = stringList(call.Args[1])
			}
			out[name] = codeMetric{typ: typ, labels: labels}
			return true
		})
	}
	if len(out) < 5 {
		t.Fatalf("found %d metrics in the code: the parser lost them", len(out))
	}
	return out
}

func isNil(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}

// optsName is the full name of a prometheus *Opts literal:
// namespace_subsystem_name.
func optsName(e ast.Expr) string {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	parts := map[string]string{}
	for _, el := range cl.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, _ := kv.Key.(*ast.Ident)
		if v, ok := stringLit(kv.Value); ok && k != nil {
			parts[k.Name] = v
		}
	}
	if parts["Name"] == "" {
		return ""
	}
	var name []string
	for _, p := range []string{parts["Namespace"], parts["Subsystem"], parts["Name"]} {
		if p != "" {
			name = append(name, p)
		}
	}
	return strings.Join(name, "_")
}

// The metrics reference lists every metric of the operator with its type
// and its labels.
func TestMetricsTable(t *testing.T) {
	code := codeMetrics(t)
	rows := tableUnder(t, monitoring, "## Metrics")
	documented := firstCodeSpans(t, rows)
	compareSets(t, "metric", monitoring, keys(code), documented)
	for name, row := range documented {
		m, ok := code[name]
		if !ok || len(row) < 3 {
			continue
		}
		if m.typ != "" && strings.TrimSpace(row[1]) != m.typ {
			t.Errorf("%s: metric %s is a %s in the table, a %s in the code", monitoring, name, row[1], m.typ)
		}
		doc := codeSpans(row[2])
		want := slices.Clone(m.labels)
		slices.Sort(doc)
		slices.Sort(want)
		if !slices.Equal(doc, want) {
			t.Errorf("%s: metric %s has labels %v in the table, %v in the code", monitoring, name, doc, want)
		}
	}
}
