package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
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
	{"single-namespace", "r-single", []string{"operator.installMode=namespaces", "operator.watchNamespaces={r-single,team-x}", "operator.restartWorkloads=true"}},
	{"restart-workloads", "r-restart", []string{"operator.restartWorkloads=true"}},
	{"external-keycloak", "r-external", []string{"keycloak.enabled=false", "keycloak.external.url=https://keycloak.example.com", "keycloak.external.adminSecret=kc-admin"}},
	{"production-postgres", "r-prod", []string{"keycloak.mode=production", "keycloak.replicas=2", "keycloak.database.host=postgres.db.svc", "keycloak.database.existingSecret=keycloak-db", "keycloak.hostname=auth.example.com"}},
	{"ingress", "r-ingress", []string{"keycloak.ingress.enabled=true", "keycloak.ingress.host=auth.example.com", "keycloak.ingress.className=nginx", "keycloak.ingress.tls.enabled=true", "keycloak.ingress.tls.secretName=auth-tls", "defaultAuthServer.enabled=true", "defaultAuthServer.issuerUrl=https://auth.example.com"}},
	{"webhook-disabled", "r-nowebhook", []string{"webhook.enabled=false"}},
	{"keycloak-service-account-token", "r-kcsa", []string{"keycloak.serviceAccountToken=true"}},
	{"cert-manager", "r-certmanager", []string{"webhook.certManager.enabled=true", "webhook.failurePolicy=Fail"}},
	{"cert-manager-issuer", "r-cm-issuer", []string{"webhook.certManager.enabled=true", "webhook.certManager.issuerRef.name=corp-ca", "webhook.certManager.issuerRef.kind=ClusterIssuer"}},
	{"monitoring", "r-monitoring", []string{"operator.metrics.serviceMonitor.enabled=true", "operator.metrics.serviceMonitor.labels.release=kps",
		"monitoring.grafanaDashboard.enabled=true", "monitoring.grafanaDashboard.namespace=r-monitoring-grafana", "monitoring.grafanaDashboard.annotations.grafana_folder=Nauthera",
		"monitoring.prometheusRule.enabled=true", "monitoring.prometheusRule.labels.release=kps", "monitoring.prometheusRule.alertLabels.team=platform"}},
}

// certManagerKinds are rendered with webhook.certManager.enabled. The test
// API server has no cert-manager CRDs, so the server-side dry run skips them;
// rendered-manifests checks them instead.
func certManagerKind(o *unstructured.Unstructured) bool {
	return strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/")
}

// yamlStream joins objects into one multi-document stream for kubectl.
func yamlStream(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	docs := make([]string, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = string(b)
	}
	return strings.Join(docs, "\n---\n")
}

// The admission webhook's contract with the operator (cmd/nauthera flags).
const webhookCertDir = "/tmp/k8s-webhook-server/serving-certs"

var webhooks = []struct{ name, path, resource string }{
	{"vauthclient.auth.nauthera.io", "/validate-auth-nauthera-io-v1alpha1-authclient", "authclients"},
	{"vauthpolicy.auth.nauthera.io", "/validate-auth-nauthera-io-v1alpha1-authpolicy", "authpolicies"},
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
		for _, r := range renderings {
			args := []string{"lint", "--strict", chart, "--namespace", r.ns}
			for _, s := range r.set {
				args = append(args, "--set", s)
			}
			out := mustTool(t, nil, "helm", args...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("%s: %s", r.name, out)
			}
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
		// No operator pod runs here: a webhook without a backend must not
		// outlive this test and sit in front of the AuthClients of later tests.
		t.Cleanup(func() {
			_, _ = tool(t, nil, "kubectl", "delete", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "nh-nauthera", "--ignore-not-found")
		})
		// Play the operator's cert-controller: fill the webhook Secret and
		// inject a CA. A helm upgrade must keep both.
		cert := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
		mustTool(t, nil, "kubectl", "-n", "nauthera-system", "patch", "secret", "nh-nauthera-webhook-cert", "--type=merge",
			"-p", fmt.Sprintf(`{"data":{"ca.crt":%q,"ca.key":%q,"tls.crt":%q,"tls.key":%q}}`, cert, cert, cert, cert))
		mustTool(t, nil, "kubectl", "patch", "validatingwebhookconfiguration", "nh-nauthera", "--type=json",
			"-p", fmt.Sprintf(`[{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":%q}]`, cert))
		mustTool(t, nil, "helm", "upgrade", "nh", chart, "--namespace", "nauthera-system", "--set", "operator.logLevel=debug")
		if got := secretValue(t, "nauthera-system", "nh-nauthera-keycloak-admin", "password"); got != password {
			t.Error("helm upgrade changed the Keycloak admin password: the operator and Keycloak would disagree")
		}
		for _, k := range []string{"ca\\.crt", "ca\\.key", "tls\\.crt", "tls\\.key"} {
			if got := mustTool(t, nil, "kubectl", "-n", "nauthera-system", "get", "secret", "nh-nauthera-webhook-cert", "-o", "jsonpath={.data."+k+"}"); got != cert {
				t.Errorf("helm upgrade wiped %s from the webhook Secret the operator fills", strings.ReplaceAll(k, `\`, ""))
			}
		}
		if got := mustTool(t, nil, "kubectl", "get", "validatingwebhookconfiguration", "nh-nauthera", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"); got != cert {
			t.Errorf("helm upgrade removed the CA the operator injected into the webhook configuration (caBundle %q)", got)
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

	// The PrometheusRule and ServiceMonitor CRDs, from upstream: the
	// monitoring rendering must be accepted against their schemas, not skipped.
	t.Run("monitoring-crds", func(t *testing.T) {
		for _, f := range prometheusOperatorCRDs.files {
			path, err := testbed.ModuleFile(prometheusOperatorCRDs.module, prometheusOperatorCRDs.version, f)
			if err != nil {
				t.Fatal(err)
			}
			mustTool(t, nil, "kubectl", "apply", "--server-side", "--field-manager=e2e", "-f", path)
		}
		mustTool(t, nil, "kubectl", "wait", "--for=condition=Established", "--timeout=60s",
			"crd/prometheusrules.monitoring.coreos.com", "crd/servicemonitors.monitoring.coreos.com")
	})

	for _, r := range renderings {
		t.Run("accepted/"+r.name, func(t *testing.T) {
			manifests := render(t, "rel", r.ns, r.set)
			mustTool(t, nil, "kubectl", "create", "namespace", r.ns)
			if slices.ContainsFunc(r.set, func(s string) bool { return strings.Contains(s, "team-x") }) {
				mustTool(t, nil, "kubectl", "create", "namespace", "team-x")
			}
			for _, s := range r.set {
				if dashboardNS, ok := strings.CutPrefix(s, "monitoring.grafanaDashboard.namespace="); ok {
					mustTool(t, nil, "kubectl", "create", "namespace", dashboardNS)
				}
			}
			// cert-manager's Certificate and Issuer are left out: the test API
			// server has no cert-manager CRDs (see certManagerKind).
			objs := slices.DeleteFunc(objects(t, manifests), certManagerKind)
			out := mustTool(t, strings.NewReader(yamlStream(t, objs)), "kubectl", "apply", "--dry-run=server", "-f", "-")
			if n := len(objs); strings.Count(out, "(server dry run)") != n {
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
	// kubebuilder markers ask for (config/rbac/role.yaml, generated), each
	// permission at the same scope: what the markers keep to the operator's
	// namespace (leader election) is a Role in the chart too.
	t.Run("rbac-matches-markers", func(t *testing.T) {
		generated, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "rbac", "role.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		scoped := func(objs []*unstructured.Unstructured) []string {
			var out []string
			for _, o := range objs {
				for _, p := range permissions([]*unstructured.Unstructured{o}) {
					out = append(out, o.GetKind()+" "+p)
				}
			}
			slices.Sort(out)
			return slices.Compact(out)
		}
		want := scoped(objects(t, string(generated)))
		// The webhook's certificate RBAC (cert-controller's, not the
		// reconcilers') is checked in rendered-manifests.
		got := scoped(slices.DeleteFunc(objects(t, render(t, "rel", "r-defaults", nil)), func(o *unstructured.Unstructured) bool {
			return isWebhookObject(o) || isPersonaObject(o)
		}))
		if !slices.Equal(got, want) {
			t.Errorf("chart RBAC differs from config/rbac/role.yaml:\nchart:     %v\ngenerated: %v", got, want)
		}
	})

	// The chart's webhook is the one the validator's kubebuilder marker
	// describes (config/webhook/manifests.yaml, generated), except where the
	// chart must differ: the Service it calls, the rule's scope and, in
	// single-namespace mode, the namespaceSelector.
	t.Run("webhook-matches-markers", func(t *testing.T) {
		generated, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "webhook", "manifests.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		hooksOf := func(objs []*unstructured.Unstructured) []any {
			var hooks []any
			for _, o := range objs {
				if o.GetKind() != "ValidatingWebhookConfiguration" && o.GetKind() != "MutatingWebhookConfiguration" {
					continue
				}
				ws, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
				for _, w := range ws {
					w := w.(map[string]any)
					unstructured.RemoveNestedField(w, "namespaceSelector")
					path, _, _ := unstructured.NestedString(w, "clientConfig", "service", "path")
					w["clientConfig"] = map[string]any{"service": map[string]any{"path": path}}
					rules, _, _ := unstructured.NestedSlice(w, "rules")
					for _, r := range rules {
						delete(r.(map[string]any), "scope")
					}
					w["rules"] = rules
					hooks = append(hooks, w)
				}
			}
			return hooks
		}
		want := hooksOf(objects(t, string(generated)))
		got := hooksOf(objects(t, render(t, "rel", "r-defaults", nil)))
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("chart webhook differs from config/webhook/manifests.yaml:\nchart:     %v\ngenerated: %v", got, want)
		}
	})

	t.Run("schema-rejects-bad-values", func(t *testing.T) {
		for set, want := range map[string]string{
			"operatr.replicas=2":                                              "additional properties 'operatr' not allowed",
			"operator.replicas=two":                                           "/operator/replicas': got string, want integer",
			"keycloak.mode=testing":                                           "/keycloak/mode",
			"operator.logLevl=debug":                                          "additional properties 'logLevl' not allowed",
			"webhook.failurePolicy=Sometimes":                                 "/webhook/failurePolicy",
			"webhook.port=0":                                                  "/webhook/port",
			"webhook.certManager.issuerRef.namespace=x":                       "additional properties 'namespace' not allowed",
			"monitoring.grafanaDashboard.folder=x":                            "additional properties 'folder' not allowed",
			"monitoring.prometheusRule.keycloakUnreachableFor=5 minutes":      "/monitoring/prometheusRule/keycloakUnreachableFor",
			"monitoring.prometheusRule.certificateExpiryDays=0":               "/monitoring/prometheusRule/certificateExpiryDays",
			"monitoring.prometheusRule.disabledAlerts={NautheraKeycloakDown}": "/monitoring/prometheusRule/disabledAlerts/0",
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

	// Kubernetes puts Docker-link variables of the namespace's Services into
	// a pod's environment unless told not to: NAUTHERA_WEBHOOK_PORT=tcp://...
	// of the Service "nauthera-webhook" reads as the operator's
	// --webhook-port, and the operator refuses to start (make e2e-cluster).
	t.Run("operator-without-service-links", func(t *testing.T) {
		for _, r := range renderings {
			seen := false
			for _, o := range objects(t, render(t, "rel", r.ns, r.set)) {
				if o.GetKind() != "Deployment" || o.GetName() != "rel-nauthera" {
					continue
				}
				seen = true
				if on, found, _ := unstructured.NestedBool(o.Object, "spec", "template", "spec", "enableServiceLinks"); !found || on {
					t.Errorf("%s: the operator pod gets the Services' link variables (enableServiceLinks not false)", r.name)
				}
			}
			if !seen {
				t.Errorf("%s: no operator Deployment rel-nauthera rendered", r.name)
			}
		}
	})

	// Keycloak with its service-account token (in-cluster issuer for
	// secretless clients) runs as a ServiceAccount of its own that nothing
	// is bound to, never the namespace's default one.
	t.Run("keycloak-service-account", func(t *testing.T) {
		sa := ""
		for _, o := range objects(t, render(t, "rel", "r-kcsa", []string{"keycloak.serviceAccountToken=true"})) {
			switch o.GetKind() {
			case "Deployment":
				if o.GetName() == "rel-nauthera-keycloak" {
					sa, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
				}
			case "RoleBinding", "ClusterRoleBinding":
				if strings.Contains(fmt.Sprint(o.Object["subjects"]), "rel-nauthera-keycloak") {
					t.Errorf("%s %s binds Keycloak's ServiceAccount", o.GetKind(), o.GetName())
				}
			}
		}
		if sa != "rel-nauthera-keycloak" {
			t.Errorf("Keycloak runs as ServiceAccount %q, want its own rel-nauthera-keycloak", sa)
		}
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

	// Production Keycloak with several replicas: a PodDisruptionBudget for
	// its pods and a spread over nodes and zones; one replica has neither.
	multi := slices.Contains(set, "keycloak.replicas=2")
	pdbs := byKind["PodDisruptionBudget"]
	if multi != (len(pdbs) == 1) {
		t.Errorf("%s: %d PodDisruptionBudgets, want one exactly with several Keycloak replicas", name, len(pdbs))
	}
	if multi && len(pdbs) == 1 {
		sel, _, _ := unstructured.NestedStringMap(pdbs[0].Object, "spec", "selector", "matchLabels")
		if sel["app.kubernetes.io/name"] != "keycloak" {
			t.Errorf("%s: the PodDisruptionBudget selects %v, not Keycloak", name, sel)
		}
	}
	for _, d := range byKind["Deployment"] {
		if d.GetLabels()["app.kubernetes.io/name"] != "keycloak" {
			continue
		}
		spread, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "topologySpreadConstraints")
		if multi != (len(spread) == 2) {
			t.Errorf("%s: Keycloak topologySpreadConstraints %v", name, spread)
		}
	}

	// Workload restarts: the flag and its RBAC only when asked for.
	restart := slices.Contains(set, "operator.restartWorkloads=true")
	perms := permissions(slices.Concat(byKind["Role"], byKind["ClusterRole"]))
	for _, p := range []string{"apps/deployments:list", "apps/deployments:patch", "apps/statefulsets:list", "apps/statefulsets:patch"} {
		if slices.Contains(perms, p) != restart {
			t.Errorf("%s: permission %s granted = %v, want it exactly with operator.restartWorkloads", name, p, !restart)
		}
	}
	if slices.ContainsFunc(byKind["Deployment"], func(o *unstructured.Unstructured) bool {
		return strings.Contains(fmt.Sprint(o.Object), "--restart-workloads=true")
	}) != restart {
		t.Errorf("%s: --restart-workloads must be passed exactly with operator.restartWorkloads", name)
	}

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
					if field == "verbs" && slices.Contains(vals, "delete") && !isPersonaObject(r) {
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
		if kc == nil || !strings.Contains(fmt.Sprint(kc.Object), "name:KC_FEATURES value:client-secret-rotation") {
			t.Errorf("%s: Keycloak 26.7 needs the client-secret-rotation feature enabled (KC_FEATURES)", name)
		}
	} else if slices.ContainsFunc(byKind["Secret"], func(o *unstructured.Unstructured) bool { return !isWebhookObject(o) }) ||
		find(byKind["Deployment"], "rel-nauthera-keycloak") != nil {
		t.Errorf("%s: an external Keycloak needs no Keycloak Deployment or admin Secret", name)
	}
	checkWebhook(t, name, ns, set, byKind, container, op)
	checkFinalizerWebhook(t, name, ns, set, byKind)
	checkMonitoring(t, name, ns, set, byKind)

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

// isWebhookObject reports whether the chart rendered o for the admission
// webhook (component label webhook).
func isWebhookObject(o *unstructured.Unstructured) bool {
	return o.GetLabels()["app.kubernetes.io/component"] == "webhook"
}

// isPersonaObject reports whether the chart rendered o for the people who
// use Nauthera (rbac.personas), not for the operator.
func isPersonaObject(o *unstructured.Unstructured) bool {
	return o.GetLabels()["app.kubernetes.io/component"] == "rbac-personas"
}

// checkWebhook asserts the admission webhook's wiring: the configuration the
// API server calls, the Service and port it reaches, where the serving
// certificate comes from, the operator flags, and RBAC only where the
// operator manages certificates itself.
func checkWebhook(t *testing.T, name, ns string, set []string, byKind map[string][]*unstructured.Unstructured, container map[string]any, op *unstructured.Unstructured) {
	t.Helper()
	enabled := !slices.Contains(set, "webhook.enabled=false")
	certManager := slices.Contains(set, "webhook.certManager.enabled=true")
	issuerRef := slices.Contains(set, "webhook.certManager.issuerRef.name=corp-ca")
	single := slices.Contains(set, "operator.installMode=namespaces")
	failurePolicy := "Ignore"
	if slices.Contains(set, "webhook.failurePolicy=Fail") {
		failurePolicy = "Fail"
	}
	service, secret := "rel-nauthera-webhook", "rel-nauthera-webhook-cert"
	if certManager {
		secret = "rel-nauthera-webhook-tls"
	}

	args, _, _ := unstructured.NestedStringSlice(container, "args")
	var webhookArgs []string
	for _, a := range args {
		if strings.HasPrefix(a, "--webhook-") {
			webhookArgs = append(webhookArgs, a)
		}
	}
	ports, _, _ := unstructured.NestedSlice(container, "ports")
	var webhookPort any
	for _, p := range ports {
		if p.(map[string]any)["name"] == "webhook" {
			webhookPort = p.(map[string]any)["containerPort"]
		}
	}
	vols, _, _ := unstructured.NestedSlice(op.Object, "spec", "template", "spec", "volumes")
	mounts, _, _ := unstructured.NestedSlice(container, "volumeMounts")
	volumeSecret, mount := "", map[string]any(nil)
	for _, v := range vols {
		if v.(map[string]any)["name"] == "webhook-cert" {
			volumeSecret, _, _ = unstructured.NestedString(v.(map[string]any), "secret", "secretName")
		}
	}
	for _, m := range mounts {
		if m.(map[string]any)["name"] == "webhook-cert" {
			mount = m.(map[string]any)
		}
	}
	var webhookRBAC []*unstructured.Unstructured
	for _, kind := range []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} {
		for _, o := range byKind[kind] {
			if isWebhookObject(o) {
				webhookRBAC = append(webhookRBAC, o)
			}
		}
	}
	vwcGranted := slices.ContainsFunc(permissions(slices.Concat(byKind["Role"], byKind["ClusterRole"])), func(p string) bool {
		return strings.HasPrefix(p, "admissionregistration.k8s.io/")
	})

	if !enabled {
		if len(byKind["ValidatingWebhookConfiguration"]) != 0 || find(byKind["Service"], service) != nil ||
			find(byKind["Secret"], secret) != nil || len(byKind["Certificate"])+len(byKind["Issuer"]) != 0 {
			t.Errorf("%s: webhook disabled, yet its configuration, Service, Secret or Certificate is rendered", name)
		}
		if len(webhookRBAC) != 0 || vwcGranted {
			t.Errorf("%s: webhook disabled, yet webhook RBAC is rendered", name)
		}
		if !slices.Equal(webhookArgs, []string{"--webhook-port=0"}) {
			t.Errorf("%s: webhook disabled: want only --webhook-port=0 (the operator's default serves it), got %v", name, webhookArgs)
		}
		if webhookPort != nil || volumeSecret != "" || mount != nil {
			t.Errorf("%s: webhook disabled, yet the operator has its port, volume or mount", name)
		}
		return
	}

	// The configuration the API server calls.
	vwc := find(byKind["ValidatingWebhookConfiguration"], "rel-nauthera")
	if vwc == nil || vwc.GetNamespace() != "" {
		t.Fatalf("%s: no cluster-scoped ValidatingWebhookConfiguration rel-nauthera", name)
	}
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	if len(hooks) != len(webhooks) {
		t.Fatalf("%s: want %d webhooks, got %d", name, len(webhooks), len(hooks))
	}
	for i, wh := range webhooks {
		hook := hooks[i].(map[string]any)
		for path, want := range map[string]string{
			"name": wh.name, "failurePolicy": failurePolicy, "sideEffects": "None", "matchPolicy": "Equivalent",
			"clientConfig.service.name": service, "clientConfig.service.namespace": ns, "clientConfig.service.path": wh.path,
		} {
			if got, _, _ := unstructured.NestedString(hook, strings.Split(path, ".")...); got != want {
				t.Errorf("%s: webhook %s = %q, want %q", name, path, got, want)
			}
		}
		// Numbers decode as float64 or int64: compare their text.
		if got, _, _ := unstructured.NestedFieldNoCopy(hook, "timeoutSeconds"); fmt.Sprint(got) != "5" {
			t.Errorf("%s: webhook timeoutSeconds = %v, want 5", name, got)
		}
		if got, _, _ := unstructured.NestedFieldNoCopy(hook, "clientConfig", "service", "port"); fmt.Sprint(got) != "443" {
			t.Errorf("%s: webhook service port = %v, want 443", name, got)
		}
		if got, _, _ := unstructured.NestedStringSlice(hook, "admissionReviewVersions"); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("%s: admissionReviewVersions = %v", name, got)
		}
		if _, found, _ := unstructured.NestedString(hook, "clientConfig", "caBundle"); found {
			t.Errorf("%s: the chart sets a caBundle; it is injected (helm upgrade would overwrite it)", name)
		}
		rules, _, _ := unstructured.NestedSlice(hook, "rules")
		wantRule := "map[apiGroups:[auth.nauthera.io] apiVersions:[v1alpha1] operations:[CREATE UPDATE] resources:[" + wh.resource + "] scope:Namespaced]"
		if len(rules) != 1 || fmt.Sprint(rules[0]) != wantRule {
			t.Errorf("%s: webhook rules %v, want [%s]", name, rules, wantRule)
		}
		watched := ns
		for _, s := range set {
			if v, ok := strings.CutPrefix(s, "operator.watchNamespaces="); ok {
				watched = strings.NewReplacer("{", "", "}", "", ",", " ").Replace(v)
			}
		}
		nsSel, _, _ := unstructured.NestedSlice(hook, "namespaceSelector", "matchExpressions")
		if single != (fmt.Sprint(nsSel) == "[map[key:kubernetes.io/metadata.name operator:In values:["+watched+"]]]") {
			t.Errorf("%s: namespaceSelector %v: want the watched namespaces in single-namespace mode, none otherwise", name, nsSel)
		}
	}
	inject := vwc.GetAnnotations()["cert-manager.io/inject-ca-from"]
	if certManager && inject != ns+"/rel-nauthera-webhook" || !certManager && inject != "" {
		t.Errorf("%s: cert-manager.io/inject-ca-from = %q", name, inject)
	}

	// The Service and the operator's port.
	svc := find(byKind["Service"], service)
	if svc == nil {
		t.Fatalf("%s: no Service %s", name, service)
	}
	svcPorts, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(svcPorts) != 1 || fmt.Sprint(svcPorts[0]) != "map[name:webhook port:443 targetPort:webhook]" {
		t.Errorf("%s: webhook Service ports %v, want 443 → webhook", name, svcPorts)
	}
	if sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector"); sel["app.kubernetes.io/name"] != "nauthera-operator" {
		t.Errorf("%s: webhook Service selects %v, not the operator", name, sel)
	}
	if fmt.Sprint(webhookPort) != "9443" {
		t.Errorf("%s: operator container port webhook = %v, want 9443", name, webhookPort)
	}

	// The serving certificate, mounted where the operator reads it.
	if volumeSecret != secret {
		t.Errorf("%s: webhook-cert volume from Secret %q, want %q", name, volumeSecret, secret)
	}
	if mount == nil || mount["mountPath"] != webhookCertDir || mount["readOnly"] != true {
		t.Errorf("%s: webhook-cert mount %v, want %s read-only", name, mount, webhookCertDir)
	}
	wantArgs := []string{"--webhook-port=9443", "--webhook-cert-dir=" + webhookCertDir}
	if failurePolicy == "Fail" {
		// Strict admission also when the webhook cannot read what it judges by.
		wantArgs = append(wantArgs, "--webhook-fail-closed")
	}
	if certManager {
		wantArgs = append(wantArgs, "--webhook-cert-management=external")
	} else {
		wantArgs = append(wantArgs, "--webhook-cert-management=operator", "--webhook-secret="+ns+"/"+secret,
			"--webhook-service="+service+"."+ns+".svc", "--webhook-configuration=rel-nauthera")
	}
	if !slices.Equal(webhookArgs, wantArgs) {
		t.Errorf("%s: operator webhook flags\n got %v\nwant %v", name, webhookArgs, wantArgs)
	}

	if certManager {
		cert := find(byKind["Certificate"], "rel-nauthera-webhook")
		if cert == nil {
			t.Fatalf("%s: no cert-manager Certificate rel-nauthera-webhook", name)
		}
		if got, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName"); got != secret {
			t.Errorf("%s: Certificate secretName %q, want %q", name, got, secret)
		}
		if got, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames"); !slices.Contains(got, service+"."+ns+".svc") {
			t.Errorf("%s: Certificate dnsNames %v lack %s.%s.svc", name, got, service, ns)
		}
		ref, _, _ := unstructured.NestedStringMap(cert.Object, "spec", "issuerRef")
		wantRef := map[string]string{"name": "rel-nauthera-selfsigned", "kind": "Issuer", "group": "cert-manager.io"}
		wantIssuers := 1
		if issuerRef {
			wantRef, wantIssuers = map[string]string{"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}, 0
		}
		if fmt.Sprint(ref) != fmt.Sprint(wantRef) {
			t.Errorf("%s: Certificate issuerRef %v, want %v", name, ref, wantRef)
		}
		if len(byKind["Issuer"]) != wantIssuers {
			t.Errorf("%s: %d Issuers rendered, want %d", name, len(byKind["Issuer"]), wantIssuers)
		} else if wantIssuers == 1 {
			if _, found, _ := unstructured.NestedMap(byKind["Issuer"][0].Object, "spec", "selfSigned"); !found {
				t.Errorf("%s: the chart's Issuer is not self-signed", name)
			}
		}
		// cert-manager writes the Secret and injects the CA: the operator
		// needs no permission for either.
		if find(byKind["Secret"], "rel-nauthera-webhook-cert") != nil || find(byKind["Secret"], secret) != nil {
			t.Errorf("%s: cert-manager writes the webhook Secret; the chart must not create one", name)
		}
		if len(webhookRBAC) != 0 || vwcGranted {
			t.Errorf("%s: cert-manager manages the certificates, yet cert-controller RBAC is rendered", name)
		}
		return
	}

	// The operator's cert-controller: an empty Secret it fills, and RBAC to
	// fill it and inject the CA, nothing more.
	s := find(byKind["Secret"], secret)
	if s == nil {
		t.Fatalf("%s: no Secret %s for cert-controller", name, secret)
	}
	for _, k := range []string{"data", "stringData"} {
		if _, found := s.Object[k]; found {
			t.Errorf("%s: Secret %s has %s: a helm upgrade would wipe the certificates the operator wrote", name, secret, k)
		}
	}
	if len(byKind["Certificate"])+len(byKind["Issuer"]) != 0 {
		t.Errorf("%s: cert-manager objects rendered without webhook.certManager.enabled", name)
	}
	var roles []*unstructured.Unstructured
	for _, o := range webhookRBAC {
		switch o.GetKind() {
		case "Role", "ClusterRole":
			roles = append(roles, o)
		default:
			ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			if ref != "rel-nauthera-webhook-certs" || fmt.Sprint(subjects) != "[map[kind:ServiceAccount name:rel-nauthera namespace:"+ns+"]]" {
				t.Errorf("%s: %s %s binds %s to %v", name, o.GetKind(), o.GetName(), ref, subjects)
			}
		}
	}
	wantPerms := []string{
		"/secrets:get", "/secrets:list", "/secrets:update", "/secrets:watch",
		"admissionregistration.k8s.io/mutatingwebhookconfigurations:get", "admissionregistration.k8s.io/mutatingwebhookconfigurations:list",
		"admissionregistration.k8s.io/mutatingwebhookconfigurations:update", "admissionregistration.k8s.io/mutatingwebhookconfigurations:watch",
		"admissionregistration.k8s.io/validatingwebhookconfigurations:get", "admissionregistration.k8s.io/validatingwebhookconfigurations:list",
		"admissionregistration.k8s.io/validatingwebhookconfigurations:update", "admissionregistration.k8s.io/validatingwebhookconfigurations:watch",
	}
	if got := permissions(roles); len(webhookRBAC) != 4 || !slices.Equal(got, wantPerms) {
		t.Errorf("%s: cert-controller RBAC (%d objects) grants %v, want %v", name, len(webhookRBAC), got, wantPerms)
	}
	for _, r := range roles {
		if r.GetKind() == "Role" && r.GetNamespace() != ns {
			t.Errorf("%s: cert-controller Role in %q, want the release namespace", name, r.GetNamespace())
		}
		if r.GetKind() == "Role" && strings.Contains(fmt.Sprint(r.Object), "admissionregistration") ||
			r.GetKind() == "ClusterRole" && strings.Contains(fmt.Sprint(r.Object), "secrets") {
			t.Errorf("%s: %s %s mixes Secrets and webhook configurations", name, r.GetKind(), r.GetName())
		}
		// Writes reach only the chart's own Secret and configuration.
		rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
		for _, rule := range rules {
			verbs, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), "verbs")
			names, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), "resourceNames")
			if slices.Contains(verbs, "update") && !slices.Equal(names, []string{secret}) && !slices.Equal(names, []string{"rel-nauthera"}) {
				t.Errorf("%s: %s %s may update %v, want only %s or rel-nauthera", name, r.GetKind(), r.GetName(), names, secret)
			}
		}
	}
}

// checkMonitoring asserts the optional monitoring objects: each exactly
// when its value asks for it, with the labels the scrapers and the Grafana
// sidecar select by, and a ServiceMonitor that reaches the metrics port
// and keeps the metrics' own namespace label.
func checkMonitoring(t *testing.T, name, ns string, set []string, byKind map[string][]*unstructured.Unstructured) {
	t.Helper()
	on := func(key string) bool { return slices.Contains(set, key+"=true") }
	release := func(o *unstructured.Unstructured) bool { return o.GetLabels()["release"] == "kps" }

	sms := byKind["ServiceMonitor"]
	if want := on("operator.metrics.serviceMonitor.enabled"); want != (len(sms) == 1) || len(sms) > 1 {
		t.Errorf("%s: %d ServiceMonitors, want one exactly with operator.metrics.serviceMonitor.enabled", name, len(sms))
	}
	for _, sm := range sms {
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		svc := find(byKind["Service"], "rel-nauthera-metrics")
		if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" || eps[0].(map[string]any)["honorLabels"] != true {
			t.Errorf("%s: ServiceMonitor endpoints %v, want port metrics with honorLabels", name, eps)
		}
		if svc == nil || sm.GetNamespace() != ns || !release(sm) {
			t.Errorf("%s: ServiceMonitor in %q with labels %v; metrics Service found: %v", name, sm.GetNamespace(), sm.GetLabels(), svc != nil)
		} else {
			for k, v := range sel {
				if svc.GetLabels()[k] != v {
					t.Errorf("%s: the ServiceMonitor selects %v; the metrics Service has %v", name, sel, svc.GetLabels())
				}
			}
		}
	}

	rules := byKind["PrometheusRule"]
	if want := on("monitoring.prometheusRule.enabled"); want != (len(rules) == 1) || len(rules) > 1 {
		t.Errorf("%s: %d PrometheusRules, want one exactly with monitoring.prometheusRule.enabled", name, len(rules))
	}
	for _, r := range rules {
		if r.GetNamespace() != ns || !release(r) {
			t.Errorf("%s: PrometheusRule in %q with labels %v", name, r.GetNamespace(), r.GetLabels())
		}
	}

	var dashboards []*unstructured.Unstructured
	for _, cm := range byKind["ConfigMap"] {
		if _, ok := cm.GetLabels()["grafana_dashboard"]; ok {
			dashboards = append(dashboards, cm)
		}
	}
	if want := on("monitoring.grafanaDashboard.enabled"); want != (len(dashboards) == 1) || len(dashboards) > 1 {
		t.Errorf("%s: %d dashboard ConfigMaps, want one exactly with monitoring.grafanaDashboard.enabled", name, len(dashboards))
	}
	for _, d := range dashboards {
		wantNS := ns
		for _, s := range set {
			if v, ok := strings.CutPrefix(s, "monitoring.grafanaDashboard.namespace="); ok {
				wantNS = v
			}
		}
		if d.GetNamespace() != wantNS || d.GetLabels()["grafana_dashboard"] != "1" || d.GetAnnotations()["grafana_folder"] != "Nauthera" {
			t.Errorf("%s: dashboard ConfigMap in %q, labels %v, annotations %v", name, d.GetNamespace(), d.GetLabels(), d.GetAnnotations())
		}
	}
}

// checkFinalizerWebhook asserts the mutating webhook that gives a new
// AuthClient its finalizer: rendered exactly with the validating one,
// always failing open (the reconciler adds the finalizer without it), on
// creates only, and where the validating one looks (the watched namespaces
// in single-namespace mode), with the CA injected like the validating one's.
func checkFinalizerWebhook(t *testing.T, name, ns string, set []string, byKind map[string][]*unstructured.Unstructured) {
	t.Helper()
	mwcs := byKind["MutatingWebhookConfiguration"]
	if slices.Contains(set, "webhook.enabled=false") {
		if len(mwcs) != 0 {
			t.Errorf("%s: webhook disabled, yet a MutatingWebhookConfiguration is rendered", name)
		}
		return
	}
	mwc, vwc := find(mwcs, "rel-nauthera"), find(byKind["ValidatingWebhookConfiguration"], "rel-nauthera")
	if len(mwcs) != 1 || mwc == nil || vwc == nil {
		t.Fatalf("%s: want one MutatingWebhookConfiguration rel-nauthera beside the validating one, got %d", name, len(mwcs))
	}
	hooks, _, _ := unstructured.NestedSlice(mwc.Object, "webhooks")
	vhooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	if len(hooks) != 1 || len(vhooks) == 0 {
		t.Fatalf("%s: want one mutating webhook, got %d", name, len(hooks))
	}
	hook, vhook := hooks[0].(map[string]any), vhooks[0].(map[string]any)
	for path, want := range map[string]string{
		"name": "mauthclient.auth.nauthera.io", "failurePolicy": "Ignore", "sideEffects": "None", "matchPolicy": "Equivalent",
		"clientConfig.service.name": "rel-nauthera-webhook", "clientConfig.service.namespace": ns,
		"clientConfig.service.path": "/mutate-auth-nauthera-io-v1alpha1-authclient",
	} {
		if got, _, _ := unstructured.NestedString(hook, strings.Split(path, ".")...); got != want {
			t.Errorf("%s: mutating webhook %s = %q, want %q", name, path, got, want)
		}
	}
	rules, _, _ := unstructured.NestedSlice(hook, "rules")
	if want := "map[apiGroups:[auth.nauthera.io] apiVersions:[v1alpha1] operations:[CREATE] resources:[authclients] scope:Namespaced]"; len(rules) != 1 || fmt.Sprint(rules[0]) != want {
		t.Errorf("%s: mutating webhook rules %v, want [%s]", name, rules, want)
	}
	if fmt.Sprint(hook["namespaceSelector"]) != fmt.Sprint(vhook["namespaceSelector"]) {
		t.Errorf("%s: mutating webhook namespaceSelector %v, the validating one's %v", name, hook["namespaceSelector"], vhook["namespaceSelector"])
	}
	if _, found, _ := unstructured.NestedString(hook, "clientConfig", "caBundle"); found {
		t.Errorf("%s: the chart sets a caBundle on the mutating webhook; it is injected", name)
	}
	if got, want := mwc.GetAnnotations()["cert-manager.io/inject-ca-from"], vwc.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != want {
		t.Errorf("%s: mutating webhook cert-manager.io/inject-ca-from = %q, the validating one's %q", name, got, want)
	}
}
