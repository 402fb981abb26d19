package docs

import (
	"fmt"
	"go/ast"
	"go/token"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const (
	flagsDoc  = "docs/operations/flags-and-environment.md"
	chartDoc  = "charts/nauthera/README.md"
	cmdDir    = "cmd/nauthera"
	module    = "github.com/nauthera/nauthera/"
	envPrefix = "NAUTHERA_"
)

// codeFlag is a flag of the operator binary: its name and default as Go
// source evaluates it.
type codeFlag struct {
	name, def string
	duration  bool
}

// codeFlags reads the fs.XxxVar(&field, "name", default, "usage") calls of
// cmd/nauthera. Defaults are evaluated from the source: literals, N*time.Unit
// and constants of the module's packages (keycloak.DefaultMaxInFlight).
func codeFlags(t *testing.T) map[string]codeFlag {
	t.Helper()
	out := map[string]codeFlag{}
	for _, f := range parseDir(t, cmdDir) {
		imports := map[string]string{}
		for _, imp := range f.AST.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			name := path.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			imports[name] = p
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			// A flag defined any other way than fs.XxxVar(&field, "name",
			// default, "usage") would be missed in silence: fail instead.
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && flagDefiners[sel.Sel.Name] && len(call.Args) != 4 {
				if x, ok := sel.X.(*ast.Ident); ok && (x.Name == "fs" || x.Name == "flag") {
					t.Errorf("%s: %s.%s defines a flag this test does not read: use fs.XxxVar or teach docs/config_test.go", f.Name, x.Name, sel.Sel.Name)
				}
			}
			if len(call.Args) != 4 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") {
				return true
			}
			name, ok := stringLit(call.Args[1])
			if !ok {
				t.Errorf("%s: a flag whose name is not a string literal: teach docs/config_test.go", f.Name)
				return true
			}
			def, err := evalDefault(t, imports, call.Args[2])
			if err != nil {
				t.Errorf("%s: flag --%s: %v", f.Name, name, err)
			}
			out[name] = codeFlag{name: name, def: def, duration: sel.Sel.Name == "DurationVar"}
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("found %d flags in %s: the parser lost them", len(out), cmdDir)
	}
	return out
}

// flagDefiners are the methods of flag.FlagSet (and functions of package
// flag) that define a flag.
var flagDefiners = map[string]bool{
	"Bool": true, "BoolFunc": true, "Duration": true, "Float64": true, "Func": true,
	"Int": true, "Int64": true, "String": true, "TextVar": true, "Uint": true,
	"Uint64": true, "Var": true,
}

// evalDefault renders a flag's default expression as the binary prints it.
func evalDefault(t *testing.T, imports map[string]string, e ast.Expr) (string, error) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err
		}
		return v.Value, nil
	case *ast.Ident:
		if v.Name == "true" || v.Name == "false" {
			return v.Name, nil
		}
	case *ast.BinaryExpr:
		// N*time.Unit
		n, nerr := evalDefault(t, imports, v.X)
		unit, ok := v.Y.(*ast.SelectorExpr)
		if nerr == nil && ok && v.Op == token.MUL {
			if x, ok := unit.X.(*ast.Ident); ok && x.Name == "time" {
				d, err := time.ParseDuration(n + map[string]string{"Second": "s", "Minute": "m", "Hour": "h", "Millisecond": "ms"}[unit.Sel.Name])
				return d.String(), err
			}
		}
	case *ast.SelectorExpr:
		// A constant of one of the module's packages.
		if x, ok := v.X.(*ast.Ident); ok && strings.HasPrefix(imports[x.Name], module) {
			for _, c := range parseDir(t, strings.TrimPrefix(imports[x.Name], module)) {
				for _, d := range c.AST.Decls {
					gd, ok := d.(*ast.GenDecl)
					if !ok || gd.Tok != token.CONST {
						continue
					}
					for _, s := range gd.Specs {
						vs := s.(*ast.ValueSpec)
						for i, n := range vs.Names {
							if n.Name == v.Sel.Name && i < len(vs.Values) {
								return evalDefault(t, imports, vs.Values[i])
							}
						}
					}
				}
			}
		}
	}
	return "", fmt.Errorf("cannot evaluate the default %T: teach docs/config_test.go", e)
}

// envName is cmd/nauthera's rule: NAUTHERA_ and the flag's name in upper
// snake case (TestFlagsTable checks the binary's own list of variables that
// are not flags, notFlags, is documented too).
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// The flags table lists every flag with its environment variable and its
// default.
func TestFlagsTable(t *testing.T) {
	code := codeFlags(t)
	rows := tableUnder(t, flagsDoc, "## Flags")
	documented := map[string][]string{}
	for _, r := range rows {
		spans := codeSpans(r[0])
		if len(spans) != 1 || !strings.HasPrefix(spans[0], "--") || len(r) < 4 {
			t.Errorf("%s: row %q: want | `--flag` | `NAUTHERA_FLAG` | default | what for |", flagsDoc, strings.Join(r, " | "))
			continue
		}
		documented[strings.TrimPrefix(spans[0], "--")] = r
	}
	compareSets(t, "flag", flagsDoc, keys(code), documented)
	for name, r := range documented {
		f, ok := code[name]
		if !ok {
			continue
		}
		if env := codeSpans(r[1]); len(env) != 1 || env[0] != envName(name) {
			t.Errorf("%s: --%s: environment variable %q, the binary reads %s", flagsDoc, name, r[1], envName(name))
		}
		def := codeSpans(r[2])
		switch {
		case f.def == "" && len(def) == 0:
		case len(def) == 0:
			t.Errorf("%s: --%s: default %q, the code's is `%s`", flagsDoc, name, r[2], f.def)
		case f.duration:
			d, err := time.ParseDuration(def[0])
			if err != nil || d.String() != f.def {
				t.Errorf("%s: --%s: default %s, the code's is %s", flagsDoc, name, def[0], f.def)
			}
		case def[0] != f.def:
			t.Errorf("%s: --%s: default %s, the code's is %s", flagsDoc, name, def[0], f.def)
		}
	}
	// The NAUTHERA_ variables that set no flag, which the binary does not
	// warn about, are documented too.
	doc := readRepo(t, flagsDoc)
	for _, f := range parseDir(t, cmdDir) {
		ast.Inspect(f.AST, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "notFlags" || len(vs.Values) != 1 {
				return true
			}
			names, _ := stringList(vs.Values[0])
			if len(names) == 0 {
				t.Errorf("%s: notFlags is no list of literals", f.Name)
			}
			for _, v := range names {
				if !strings.Contains(doc, "`"+v) {
					t.Errorf("%s does not mention %s, a variable the binary reads as no flag", flagsDoc, v)
				}
			}
			return false
		})
	}
}

// chartRowKeys expands the first cell of a row of the chart's values table:
// `a.b.c` / `d`, `e` names a.b.c, a.b.d and a.b.e; `a.b.*` names the subtree.
func chartRowKeys(cell string) []string {
	spans := codeSpans(cell)
	if len(spans) == 0 {
		return nil
	}
	first := spans[0]
	parent := first[:strings.LastIndex(first, ".")+1]
	out := []string{first}
	for _, s := range spans[1:] {
		if !strings.Contains(s, ".") {
			s = parent + s
		}
		out = append(out, s)
	}
	return out
}

// leaves flattens values.yaml into the dotted keys of its scalars, lists and
// empty maps. A table row naming a map (operator.resources) or a subtree
// (keycloak.ingress.*) covers every leaf under it.
func leaves(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		out[prefix] = v
		return
	}
	for k, child := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		leaves(key, child, out)
	}
}

// The chart's values table (charts/nauthera/README.md, ## Values) documents
// every key of values.yaml, and names no key that does not exist; where a
// row gives a default in code font for a key (`a` / `b` for keys a / b),
// it is the default in values.yaml.
func TestChartValuesTable(t *testing.T) {
	var values map[string]any
	if err := yaml.Unmarshal([]byte(readRepo(t, "charts/nauthera/values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	code := map[string]any{}
	leaves("", values, code)
	covered := map[string]bool{}
	for _, r := range tableUnder(t, chartDoc, "## Values") {
		ks := chartRowKeys(r[0])
		if len(ks) == 0 {
			t.Errorf("%s: row %q names no value", chartDoc, strings.Join(r, " | "))
		}
		for _, k := range ks {
			prefix := strings.TrimSuffix(k, ".*")
			found := false
			for leaf := range code {
				if leaf == prefix || strings.HasPrefix(leaf, prefix+".") {
					covered[leaf], found = true, true
				}
			}
			if !found {
				t.Errorf("%s: value %q is in the table but not in values.yaml", chartDoc, k)
			}
		}
		// One default per key, ` / ` between them as between the keys; a
		// default that is one code span is compared, prose ("empty",
		// "release namespace") is not.
		defs := []string{r[1]}
		if len(ks) > 1 {
			defs = strings.Split(r[1], " / ")
		}
		if len(defs) != len(ks) {
			continue
		}
		for i, k := range ks {
			cell := strings.TrimSpace(defs[i])
			def := codeSpans(cell)
			if len(def) != 1 || cell != "`"+def[0]+"`" {
				continue
			}
			if v, ok := code[k]; ok && !sameValue(v, def[0]) {
				t.Errorf("%s: %s defaults to %s in the table, to %v in values.yaml", chartDoc, k, def[0], v)
			}
		}
	}
	for leaf := range code {
		if !covered[leaf] {
			t.Errorf("%s: value %q of values.yaml is not in the table", chartDoc, leaf)
		}
	}
}

// sameValue compares a value of values.yaml with a table's default as YAML.
func sameValue(v any, doc string) bool {
	var d any
	if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
		return false
	}
	return fmt.Sprint(d) == fmt.Sprint(v)
}

// The spec pages' field tables list every top-level field of spec and
// status of their CRD, and no other.
func TestSpecFieldTables(t *testing.T) {
	plural := map[string]string{"authserver": "authservers", "authclient": "authclients", "authpolicy": "authpolicies", "userstore": "userstores"}
	for _, kind := range kinds {
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema struct {
							Properties map[string]struct {
								Properties map[string]any
							}
						} `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal([]byte(readRepo(t, "config/crd/bases/auth.nauthera.io_"+plural[kind]+".yaml")), &crd); err != nil {
			t.Fatal(err)
		}
		page := "docs/spec/v1alpha1/" + kind + ".md"
		for _, part := range []string{"spec", "status"} {
			code := map[string]bool{}
			for _, v := range crd.Spec.Versions {
				if v.Name == "v1alpha1" {
					for f := range v.Schema.OpenAPIV3Schema.Properties[part].Properties {
						code[part+"."+f] = true
					}
				}
			}
			if len(code) == 0 {
				t.Fatalf("%s: no %s fields in the CRD", kind, part)
			}
			heading := "## " + strings.ToUpper(part[:1]) + part[1:] + " fields"
			compareSets(t, "field", page, code, firstCodeSpans(t, tableUnder(t, page, heading)))
		}
	}
}

// Each spec page's example is its kind's sample, verbatim: the file the
// API server accepts in apis/auth/v1alpha1/validation_test.go.
func TestSpecExamplesAreTheSamples(t *testing.T) {
	for _, kind := range kinds {
		page := "docs/spec/v1alpha1/" + kind + ".md"
		_, section, _ := strings.Cut(readRepo(t, page), "\n## Example\n")
		_, example, _ := strings.Cut(section, "```yaml\n")
		example, _, found := strings.Cut(example, "```")
		if !found {
			t.Errorf("%s: no yaml example under ## Example", page)
			continue
		}
		sample := "config/samples/auth_v1alpha1_" + kind + ".yaml"
		if strings.TrimSpace(example) != strings.TrimSpace(readRepo(t, sample)) {
			t.Errorf("%s: the example differs from %s", page, sample)
		}
	}
}
