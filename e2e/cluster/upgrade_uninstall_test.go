//go:build e2ecluster

package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the RBAC check reads.
type auditEvent struct {
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	Verb           string `json:"verb"`
	RequestURI     string `json:"requestURI"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

// operatorCalls reads the API server's audit log (hack/cluster.sh logs every
// request of the release namespace's ServiceAccounts) since a time, and
// returns how many calls the operator made and those RBAC forbade.
func operatorCalls(t *testing.T, since time.Time) (int, []string) {
	t.Helper()
	f, err := os.Open(os.Getenv("NAUTHERA_CLUSTER_AUDIT_LOG"))
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, forbidden := 0, []string{}
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		if e.User.Username != "system:serviceaccount:nauthera-system:nauthera" || e.StageTimestamp.Before(since) {
			continue
		}
		n++
		if e.ResponseStatus.Code == 403 {
			forbidden = append(forbidden, e.Verb+" "+e.RequestURI)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n, forbidden
}

func checkNoForbiddenCalls(t *testing.T, since time.Time, what string) {
	t.Helper()
	n, forbidden := operatorCalls(t, since)
	if n < 10 {
		t.Fatalf("%s: only %d operator API calls in the audit log: the check would prove nothing", what, n)
	}
	if len(forbidden) > 0 {
		t.Errorf("%s: the chart's RBAC forbade %d of the operator's %d API calls: %s", what, len(forbidden), n, strings.Join(forbidden, "; "))
		return
	}
	t.Logf("%s: %d operator API calls, none forbidden", what, n)
}

// (g) RBAC as shipped: everything above ran under the chart's ServiceAccount
// and ClusterRole; again with operator.installMode=namespaces (Roles only).
func TestRBACAsShipped(t *testing.T) {
	needsCluster(t)
	install(t)
	checkNoForbiddenCalls(t, time.Time{}, "installMode=cluster")

	mark := time.Now()
	args := append([]string{"upgrade", "nauthera", "charts/nauthera", "--namespace", "nauthera-system",
		"--set", "operator.installMode=namespaces", "--set", "operator.watchNamespaces={nauthera-system,security,my-app-dev}"}, imageSets()...)
	must(t, "", "helm", append(args, "--wait", "--timeout", "10m")...)
	roles := must(t, "", "kubectl", "get", "clusterroles", "-l", "app.kubernetes.io/instance=nauthera", "-o", "name")
	t.Logf("ClusterRoles of the release in installMode=namespaces: %q", roles)
	createNamespaces(t, "security", "my-app-dev")
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: in-cluster, namespace: security}
spec:
  issuerUrl: %q
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: namespaced, namespace: my-app-dev}
spec:
  authServerRef: {name: in-cluster, namespace: security}
  redirectUris: ["http://namespaced.my-app-dev.example/callback"]
  grantTypes: [authorization_code, client_credentials]
`, keycloakURL))
	must(t, "", "kubectl", "-n", "my-app-dev", "wait", "authclient/namespaced", "--for=condition=Ready", "--timeout=300s")
	apply(t, probePod("namespaced-app", "my-app-dev", "namespaced-client-secret"))
	if phase, logs := waitPodDone(t, "my-app-dev", "namespaced-app", 5*time.Minute); phase != "Succeeded" {
		t.Errorf("app pod in installMode=namespaces: %s %s", phase, logs)
	}
	checkNoForbiddenCalls(t, mark, "installMode=namespaces")
}

// managedSecrets returns every Secret the operator manages, name -> content
// digest of all keys (compared, never printed).
func managedSecrets(t *testing.T) map[string]string {
	t.Helper()
	out := must(t, "", "kubectl", "get", "secrets", "-A", "-l", "app.kubernetes.io/managed-by=nauthera", "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct{ Namespace, Name string }
			Data     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, s := range list.Items {
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + s.Data[k] + ";")
		}
		m[s.Metadata.Namespace+"/"+s.Metadata.Name] = b.String()
	}
	return m
}

// (h) helm upgrade with changed values keeps every credential; helm
// uninstall leaves exactly what docs/getting-started.md ("Install on a cluster") says.
func TestUpgradeKeepsCredentialsUninstallLeaves(t *testing.T) {
	needsCluster(t)
	install(t)
	before := managedSecrets(t)
	if len(before) < 2 {
		t.Fatalf("only %d managed Secrets: run the other proofs first", len(before))
	}
	adminBefore := secretData(t, "nauthera-system", "nauthera-keycloak-admin")

	args := append([]string{"upgrade", "nauthera", "charts/nauthera", "--namespace", "nauthera-system",
		"--set", "operator.logLevel=debug", "--set", "operator.resyncInterval=2m", "--set", "operator.maxBackoff=1m"}, imageSets()...)
	must(t, "", "helm", append(args, "--wait", "--timeout", "10m")...)
	// The upgraded operator is the one at work: a pod of the Deployment's
	// new ReplicaSet holds the leader lease.
	waitNewReplicaSetLeads(t)
	must(t, "", "kubectl", "wait", "authclients", "--all", "-n", "my-app-dev", "--for=condition=Ready", "--timeout=300s")
	after := managedSecrets(t)
	for name, content := range before {
		if after[name] != content {
			t.Errorf("Secret %s changed across helm upgrade", name)
		}
	}
	if a := secretData(t, "nauthera-system", "nauthera-keycloak-admin"); a["password"] != adminBefore["password"] {
		t.Error("the Keycloak admin Secret changed across helm upgrade")
	}
	apply(t, probePod("after-upgrade", "my-app-dev", "shop-client-secret"))
	if phase, logs := waitPodDone(t, "my-app-dev", "after-upgrade", 5*time.Minute); phase != "Succeeded" {
		t.Errorf("the app's credentials no longer work after helm upgrade: %s %s", phase, logs)
	}

	must(t, "", "helm", "uninstall", "nauthera", "--namespace", "nauthera-system", "--wait", "--timeout", "5m")
	// Gone: the operator, Keycloak, their Services, RBAC and webhook.
	if out := strings.TrimSpace(must(t, "", "kubectl", "get", "clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations",
		"-l", "app.kubernetes.io/instance=nauthera", "-o", "name")); out != "" {
		t.Errorf("left after helm uninstall: %s", out)
	}
	// Left in the release namespace: exactly this list (docs/getting-started.md's
	// "Install on a cluster" names it). The Keycloak admin Secret (resource
	// policy keep), the leader-election Lease (the operator creates it at
	// run time, Helm never knew it), and what Kubernetes puts into every
	// namespace. Events are records that expire on their own, not objects
	// the release left. Pods, ReplicaSets and EndpointSlices go by garbage
	// collection after helm returns: wait for them.
	allowed := []string{
		"configmap/kube-root-ca.crt",
		"lease.coordination.k8s.io/nauthera.auth.nauthera.io",
		"secret/nauthera-keycloak-admin",
		"serviceaccount/default",
	}
	var left []string
	eventually(t, 2*time.Minute, "only the allowed objects left in nauthera-system", func() error {
		left = namespaceObjects(t, "nauthera-system")
		if !slices.Equal(left, allowed) {
			return fmt.Errorf("left %v, want %v", left, allowed)
		}
		return nil
	})
	// Kept: the CRDs (Helm never deletes crds/), so every AuthServer,
	// AuthClient and their Secrets.
	for _, crd := range []string{"authclients.auth.nauthera.io", "authservers.auth.nauthera.io", "authpolicies.auth.nauthera.io", "userstores.auth.nauthera.io"} {
		must(t, "", "kubectl", "get", "crd", crd)
	}
	must(t, "", "kubectl", "-n", "my-app-dev", "get", "authclient", "shop")
	if left := managedSecrets(t); len(left) != len(after) {
		t.Errorf("%d managed Secrets after helm uninstall, want all %d", len(left), len(after))
	}
}

// namespaceObjects lists every object of every listable namespaced kind in
// ns (kind/name, sorted), Events left out.
func namespaceObjects(t *testing.T, ns string) []string {
	t.Helper()
	var kinds []string
	for _, k := range strings.Fields(must(t, "", "kubectl", "api-resources", "--verbs=list", "--namespaced", "-o", "name")) {
		if k != "events" && k != "events.events.k8s.io" {
			kinds = append(kinds, k)
		}
	}
	objs := strings.Fields(must(t, "", "kubectl", "-n", ns, "get", strings.Join(kinds, ","), "-o", "name"))
	slices.Sort(objs)
	return objs
}

// waitNewReplicaSetLeads waits until a pod of the operator Deployment's
// current ReplicaSet (the one of the Deployment's revision) holds the
// leader lease.
func waitNewReplicaSetLeads(t *testing.T) {
	t.Helper()
	rev := strings.TrimSpace(must(t, "", "kubectl", "-n", "nauthera-system", "get", "deployment", "nauthera",
		"-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`))
	var hash string
	for _, line := range strings.Split(must(t, "", "kubectl", "-n", "nauthera-system", "get", "replicasets", "-l", "app.kubernetes.io/instance=nauthera",
		"-o", `jsonpath={range .items[*]}{.metadata.annotations.deployment\.kubernetes\.io/revision} {.metadata.labels.pod-template-hash}{"\n"}{end}`), "\n") {
		if r, h, ok := strings.Cut(strings.TrimSpace(line), " "); ok && r == rev {
			hash = h
		}
	}
	if hash == "" {
		t.Fatalf("no ReplicaSet of the operator Deployment's revision %q", rev)
	}
	start := time.Now()
	eventually(t, 3*time.Minute, "a pod of the new ReplicaSet holding the leader lease", func() error {
		holder, _, _ := strings.Cut(leaseHolder(t).Spec.HolderIdentity, "_")
		pods := strings.Fields(must(t, "", "kubectl", "-n", "nauthera-system", "get", "pods", "-l", "pod-template-hash="+hash, "-o", "name"))
		if !slices.Contains(pods, "pod/"+holder) {
			return fmt.Errorf("lease held by %q, new ReplicaSet's pods %v", holder, pods)
		}
		return nil
	})
	t.Logf("a pod of the new ReplicaSet (revision %s) leads %s after helm upgrade returned", rev, time.Since(start).Round(100*time.Millisecond))
}
