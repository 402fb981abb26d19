//go:build e2ecluster

// Package cluster proves Nauthera the way its users run it: installed with
// `helm install` from the README (docs/getting-started.md) into a real single-node cluster
// (hack/cluster.sh: kubelet, containerd, CNI, kube-proxy, CoreDNS), the
// operator and Keycloak as pods whose images the kubelet pulled from a
// registry, apps reading the Secret as mounted files.
//
// make e2e-cluster runs this package inside the cluster's network namespace
// (hack/cluster.sh exec), with KUBECONFIG pointing at the cluster and
// NAUTHERA_CLUSTER_REGISTRY naming the registry the images were pushed to.
// Without them (go test ./...), every test here is skipped.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nauthera/nauthera/internal/testbed"
)

var registry = os.Getenv("NAUTHERA_CLUSTER_REGISTRY")

func needsCluster(t *testing.T) {
	t.Helper()
	if registry == "" || os.Getenv("KUBECONFIG") == "" {
		t.Skip("needs the cluster test bed: make e2e-cluster")
	}
}

// run runs kubectl or helm (from PATH, which hack/cluster.sh exec sets).
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = testbed.RepoRoot()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s%s", name, strings.Join(args, " "), err, errOut.String(), out.String())
	}
	return out.String(), nil
}

func must(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func apply(t *testing.T, manifests string) {
	t.Helper()
	must(t, manifests, "kubectl", "apply", "-f", "-")
}

func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	testbed.Eventually(t, timeout, what, f)
}

// imageSets are the only values the install overrides: where the images are.
func imageSets() []string {
	return []string{
		"--set", "operator.image.repository=" + registry + "/nauthera", "--set", "operator.image.tag=dev",
		"--set", "keycloak.image.repository=" + registry + "/keycloak", "--set", "keycloak.image.tag=26.7.3",
	}
}

// installOnce installs the chart as the README and docs/getting-started.md say, once per test binary.
var installOnce sync.Once

func install(t *testing.T) {
	t.Helper()
	var err error
	installOnce.Do(func() {
		start := time.Now()
		args := append([]string{"install", "nauthera", "charts/nauthera", "--namespace", "nauthera-system", "--create-namespace"}, imageSets()...)
		if _, err = run(t, "", "helm", append(args, "--wait", "--timeout", "15m")...); err != nil {
			out, _ := run(t, "", "kubectl", "get", "pods", "-A", "-o", "wide")
			ev, _ := run(t, "", "kubectl", "get", "events", "-A", "--sort-by=.lastTimestamp")
			err = fmt.Errorf("%v\npods:\n%s\nevents:\n%s", err, out, lastLines(ev, 40))
			return
		}
		t.Logf("helm install: operator and Keycloak pods Ready after %s", time.Since(start).Round(time.Second))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// svcDialer reaches <name>.<namespace>.svc hosts at their Service's
// ClusterIP, which kube-proxy routes inside the cluster's network namespace
// where this test runs; the machine's own resolver does not know cluster
// names, and the test does not depend on CoreDNS for its own requests.
type svcDialer struct {
	t     *testing.T
	mu    sync.Mutex
	cache map[string]string
}

func (d *svcDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if name, ns, ok := strings.Cut(strings.TrimSuffix(strings.TrimSuffix(host, ".cluster.local"), ".svc"), "."); ok && strings.Contains(host, ".svc") {
		d.mu.Lock()
		ip, found := d.cache[host]
		d.mu.Unlock()
		if !found {
			out, err := run(d.t, "", "kubectl", "-n", ns, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}")
			if err != nil {
				return nil, err
			}
			ip = strings.TrimSpace(out)
			d.mu.Lock()
			d.cache[host] = ip
			d.mu.Unlock()
		}
		addr = net.JoinHostPort(ip, port)
	}
	return (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
}

func clusterHTTP(t *testing.T) *http.Transport {
	return &http.Transport{DialContext: (&svcDialer{t: t, cache: map[string]string{}}).DialContext}
}

func secretData(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	out := must(t, "", "kubectl", "-n", ns, "get", "secret", name, "-o", "json")
	var s struct{ Data map[string][]byte }
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for k, v := range s.Data {
		m[k] = string(v)
	}
	return m
}

func createNamespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, ns := range names {
		if _, err := run(t, "", "kubectl", "create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
	}
}

// probeLines is one probe pod's output, one attempt a line.
type probeLine struct {
	Time          time.Time `json:"time"`
	OK            bool      `json:"ok"`
	Status        int       `json:"status"`
	Error         string    `json:"error"`
	SecretChanged bool      `json:"secretChanged"`
}

func parseProbe(t *testing.T, logs string) []probeLine {
	t.Helper()
	var lines []probeLine
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var p probeLine
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("probe output %q: %v", l, err)
		}
		lines = append(lines, p)
	}
	return lines
}

// probePod is an app pod: the probe image, the AuthClient's Secret mounted
// at /etc/oidc, nothing else (no service-account token, no API access).
func probePod(name, ns, secret string, args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: app
      image: %s/probe:test
      args: [%s]
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: oidc, mountPath: /etc/oidc, readOnly: true}]
  volumes: [{name: oidc, secret: {secretName: %s}}]
`, name, ns, registry, strings.Join(quoted, ", "), secret)
}

// waitPodDone waits for a pod to finish and returns its phase and logs.
func waitPodDone(t *testing.T, ns, name string, timeout time.Duration) (string, string) {
	t.Helper()
	var phase string
	eventually(t, timeout, "pod "+ns+"/"+name+" finishes", func() error {
		out, err := run(t, "", "kubectl", "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		if err != nil {
			return err
		}
		phase = out
		if phase != "Succeeded" && phase != "Failed" {
			return fmt.Errorf("phase %q", phase)
		}
		return nil
	})
	logs := must(t, "", "kubectl", "-n", ns, "logs", name)
	return phase, logs
}

func repoFile(parts ...string) string {
	return filepath.Join(append([]string{testbed.RepoRoot()}, parts...)...)
}
