package e2e

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/nauthera/nauthera/internal/testbed"
)

// tool runs bin/<name> (helm, kubectl) against the test API server.
func tool(t *testing.T, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	in := ""
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			t.Fatal(err)
		}
		in = string(b)
	}
	return cluster.Tool(in, name, args...)
}

func mustTool(t *testing.T, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	out, err := tool(t, stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const chart = "charts/nauthera"

// renderings are the chart configurations the issue names; each must be
// accepted by the API server.
var renderings = []struct {
	name string
	ns   string
	set  []string
}{
	{"defaults", "r-defaults", nil},
	{"single-namespace", "r-single", []string{"operator.installMode=namespaces", "operator.watchNamespaces={r-single,team-x}"}},
	{"external-keycloak", "r-external", []string{"keycloak.enabled=false", "keycloak.external.url=https://keycloak.example.com", "keycloak.external.adminSecret=kc-admin"}},
	{"production-postgres", "r-prod", []string{"keycloak.mode=production", "keycloak.replicas=2", "keycloak.database.host=postgres.db.svc", "keycloak.database.existingSecret=keycloak-db", "keycloak.hostname=auth.example.com"}},
	{"ingress", "r-ingress", []string{"keycloak.ingress.enabled=true", "keycloak.ingress.host=auth.example.com", "keycloak.ingress.className=nginx", "keycloak.ingress.tls.enabled=true", "keycloak.ingress.tls.secretName=auth-tls", "defaultAuthServer.enabled=true", "defaultAuthServer.issuerUrl=https://auth.example.com"}},
}

func render(t *testing.T, release, ns string, set []string) string {
	t.Helper()
	args := []string{"template", release, chart, "--namespace", ns}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return mustTool(t, nil, "helm", args...)
}

func objects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func TestChart(t *testing.T) {
	needsControlPlane(t)

	t.Run("lint", func(t *testing.T) {
		out := mustTool(t, nil, "helm", "lint", "--strict", chart)
		if !strings.Contains(out, "0 chart(s) failed") {
			t.Fatal(out)
		}
	})

	// A real install first: it creates the CRDs the other renderings use.
	t.Run("install-and-upgrade", func(t *testing.T) {
		mustTool(t, nil, "helm", "install", "nh", chart, "--namespace", "nauthera-system", "--create-namespace",
			"--set", "operator.image.repository=registry.example.com/nauthera", "--set", "operator.image.tag=0.1.0-e2e")
		if img := mustTool(t, nil, "kubectl", "-n", "nauthera-system", "get", "deployment", "nh-nauthera", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "registry.example.com/nauthera:0.1.0-e2e" {
			t.Errorf("operator image %q does not follow the values", img)
		}
		password := secretValue(t, "nauthera-system", "nh-nauthera-keycloak-admin", "password")
		if len(password) < 24 {
			t.Fatalf("generated admin password too short (%d chars)", len(password))
		}
		mustTool(t, nil, "helm", "upgrade", "nh", chart, "--namespace", "nauthera-system", "--set", "operator.logLevel=debug")
		if got := secretValue(t, "nauthera-system", "nh-nauthera-keycloak-admin", "password"); got != password {
			t.Error("helm upgrade changed the Keycloak admin password: the operator and Keycloak would disagree")
		}
		values := mustTool(t, nil, "helm", "get", "values", "nh", "--namespace", "nauthera-system", "--all")
		manifest := mustTool(t, nil, "helm", "get", "manifest", "nh", "--namespace", "nauthera-system")
		if strings.Contains(values, password) {
			t.Error("the admin password appears in the release values")
		}
		cms := mustTool(t, nil, "kubectl", "get", "configmaps", "-A", "-o", "yaml")
		if strings.Contains(cms, password) || strings.Contains(cms, base64.StdEncoding.EncodeToString([]byte(password))) {
			t.Error("the admin password appears in a ConfigMap")
		}
		for _, o := range objects(t, manifest) {
			if o.GetKind() == "ConfigMap" && strings.Contains(fmt.Sprint(o.Object), password) {
				t.Errorf("ConfigMap %s holds the admin password", o.GetName())
			}
		}
		crds := mustTool(t, nil, "kubectl", "get", "crds", "-o", "name")
		for _, k := range []string{"authservers", "authclients", "authpolicies", "userstores"} {
			if !strings.Contains(crds, k+".auth.nauthera.io") {
				t.Errorf("CRD %s not installed by the chart", k)
			}
		}
	})

	for _, r := range renderings {
		t.Run("accepted/"+r.name, func(t *testing.T) {
			manifests := render(t, "rel", r.ns, r.set)
			mustTool(t, nil, "kubectl", "create", "namespace", r.ns)
			if slices.ContainsFunc(r.set, func(s string) bool { return strings.Contains(s, "team-x") }) {
				mustTool(t, nil, "kubectl", "create", "namespace", "team-x")
			}
			out := mustTool(t, strings.NewReader(manifests), "kubectl", "apply", "--dry-run=server", "-f", "-")
			if n := len(objects(t, manifests)); strings.Count(out, "(server dry run)") != n {
				t.Errorf("%d objects rendered, the server accepted:\n%s", n, out)
			}
		})
	}

	t.Run("rendered-manifests", func(t *testing.T) {
		for _, r := range renderings {
			checkManifests(t, r.name, r.ns, r.set, objects(t, render(t, "rel", r.ns, r.set)))
		}
	})

	// The chart's hand-written RBAC grants exactly what the reconcilers'
	// kubebuilder markers ask for (config/rbac/role.yaml, generated).
	t.Run("rbac-matches-markers", func(t *testing.T) {
		generated, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "rbac", "role.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		want := permissions(objects(t, string(generated)))
		got := permissions(objects(t, render(t, "rel", "r-defaults", nil)))
		if !slices.Equal(got, want) {
			t.Errorf("chart RBAC differs from config/rbac/role.yaml:\nchart:     %v\ngenerated: %v", got, want)
		}
	})

	t.Run("schema-rejects-bad-values", func(t *testing.T) {
		for set, want := range map[string]string{
			"operatr.replicas=2":     "additional properties 'operatr' not allowed",
			"operator.replicas=two":  "/operator/replicas': got string, want integer",
			"keycloak.mode=testing":  "/keycloak/mode",
			"operator.logLevl=debug": "additional properties 'logLevl' not allowed",
		} {
			_, err := tool(t, nil, "helm", "template", "rel", chart, "--set", set)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("--set %s: want an error containing %q, got %v", set, want, err)
			}
		}
		_, err := tool(t, nil, "helm", "template", "rel", chart, "--set", "keycloak.mode=production")
		if err == nil || !strings.Contains(err.Error(), "keycloak.database.host is required") {
			t.Errorf("production mode without a database: %v", err)
		}
	})

	t.Run("kustomize", func(t *testing.T) {
		out := mustTool(t, nil, "kubectl", "kustomize", "config/default")
		if len(objects(t, out)) < 8 {
			t.Fatalf("config/default rendered too little:\n%s", out)
		}
		mustTool(t, strings.NewReader(out), "kubectl", "apply", "--server-side", "--field-manager=e2e", "-f", "-")
		mustTool(t, nil, "kubectl", "-n", "nauthera-system", "get", "deployment", "nauthera")
	})
}

func secretValue(t *testing.T, ns, name, key string) string {
	t.Helper()
	out := mustTool(t, nil, "kubectl", "-n", ns, "get", "secret", name, "-o", "jsonpath={.data."+key+"}")
	b, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var keycloakVersion = regexp.MustCompile(`(?m)^KEYCLOAK_VERSION \?= (\S+)`)

// checkManifests asserts what a platform team relies on in every rendering.
func checkManifests(t *testing.T, name, ns string, set []string, objs []*unstructured.Unstructured) {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	testedKeycloak := keycloakVersion.FindStringSubmatch(string(mk))[1]
	byKind := map[string][]*unstructured.Unstructured{}
	for _, o := range objs {
		byKind[o.GetKind()] = append(byKind[o.GetKind()], o)
	}
	external := slices.Contains(set, "keycloak.enabled=false")
	single := slices.Contains(set, "operator.installMode=namespaces")

	// No wildcard RBAC; Secrets only as far as needed.
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, r := range byKind[kind] {
			rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
			for _, rule := range rules {
				for _, field := range []string{"verbs", "resources", "apiGroups"} {
					vals, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), field)
					if slices.Contains(vals, "*") {
						t.Errorf("%s: %s %s has a wildcard in %s", name, kind, r.GetName(), field)
					}
					if field == "verbs" && slices.Contains(vals, "delete") {
						t.Errorf("%s: %s %s may delete; the operator never deletes Kubernetes objects", name, kind, r.GetName())
					}
				}
			}
			if single && kind == "ClusterRole" && strings.Contains(fmt.Sprint(rules), "secrets") {
				t.Errorf("%s: single-namespace mode must not grant Secrets cluster-wide (%s)", name, r.GetName())
			}
		}
	}
	if single && len(byKind["Role"]) < 3 {
		t.Errorf("%s: want a Role per watched namespace plus leader election, got %d", name, len(byKind["Role"]))
	}

	// Images pinned; Keycloak at the version the tests run.
	for _, d := range byKind["Deployment"] {
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			img := c.(map[string]any)["image"].(string)
			if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") || strings.HasSuffix(img, ":") {
				t.Errorf("%s: image %q is not pinned", name, img)
			}
			if strings.HasPrefix(img, "quay.io/keycloak/keycloak:") && img != "quay.io/keycloak/keycloak:"+testedKeycloak {
				t.Errorf("%s: Keycloak image %q, the tests run %s", name, img, testedKeycloak)
			}
		}
	}

	op := find(byKind["Deployment"], "rel-nauthera")
	if op == nil {
		t.Fatalf("%s: no operator Deployment", name)
	}
	c, _, _ := unstructured.NestedSlice(op.Object, "spec", "template", "spec", "containers")
	container := c[0].(map[string]any)
	args, _, _ := unstructured.NestedStringSlice(container, "args")
	wantURL := "--keycloak-url=http://rel-nauthera-keycloak." + ns + ".svc:8080"
	wantSecret := "rel-nauthera-keycloak-admin"
	if external {
		wantURL, wantSecret = "--keycloak-url=https://keycloak.example.com", "kc-admin"
	}
	if !slices.Contains(args, wantURL) {
		t.Errorf("%s: operator args %v lack %s", name, args, wantURL)
	}
	if single && !slices.Contains(args, "--watch-namespaces=r-single,team-x") {
		t.Errorf("%s: operator args %v lack the watched namespaces", name, args)
	}
	vols, _, _ := unstructured.NestedSlice(op.Object, "spec", "template", "spec", "volumes")
	if got, _, _ := unstructured.NestedString(vols[0].(map[string]any), "secret", "secretName"); got != wantSecret {
		t.Errorf("%s: operator reads admin credentials from Secret %q, want %q", name, got, wantSecret)
	}
	if !external {
		if find(byKind["Secret"], wantSecret) == nil {
			t.Errorf("%s: the chart does not create the admin Secret %s", name, wantSecret)
		}
		if find(byKind["Service"], "rel-nauthera-keycloak") == nil {
			t.Errorf("%s: no Keycloak Service", name)
		}
		kc := find(byKind["Deployment"], "rel-nauthera-keycloak")
		if kc == nil || !strings.Contains(fmt.Sprint(kc.Object), "name:"+wantSecret) {
			t.Errorf("%s: Keycloak does not take its admin from %s", name, wantSecret)
		}
	} else if len(byKind["Secret"]) != 0 || find(byKind["Deployment"], "rel-nauthera-keycloak") != nil {
		t.Errorf("%s: an external Keycloak needs no Keycloak Deployment or admin Secret", name)
	}

	// A restricted security context.
	sc, _, _ := unstructured.NestedMap(container, "securityContext")
	for path, want := range map[string]any{
		"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
	} {
		if sc[path] != want {
			t.Errorf("%s: operator securityContext.%s = %v, want %v", name, path, sc[path], want)
		}
	}
	if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("%s: capabilities.drop = %v", name, drop)
	}
	if p, _, _ := unstructured.NestedString(sc, "seccompProfile", "type"); p != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile %q", name, p)
	}
	for _, cm := range byKind["ConfigMap"] {
		if strings.Contains(strings.ToLower(fmt.Sprint(cm.Object)), "password") {
			t.Errorf("%s: ConfigMap %s mentions a password", name, cm.GetName())
		}
	}
}

// permissions lists the group/resource/verb triples that the Roles and
// ClusterRoles among objs grant, sorted.
func permissions(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rule := r.(map[string]any)
			groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
			resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
			verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
			for _, g := range groups {
				for _, res := range resources {
					for _, v := range verbs {
						out = append(out, g+"/"+res+":"+v)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func find(objs []*unstructured.Unstructured, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetName() == name {
			return o
		}
	}
	return nil
}
