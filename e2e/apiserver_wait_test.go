package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/nauthera/nauthera/internal/testbed"
)

// The operator started while the API server is unreachable waits, logging
// why, and starts working once the API answers; it does not exit (which in
// a pod is a crash loop).
func TestOperatorWaitsForAPIServer(t *testing.T) {
	needsControlPlane(t)
	mustTool(t, nil, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(testbed.RepoRoot(), "config", "crd", "bases"))
	if _, err := tool(t, nil, "kubectl", "create", "namespace", "wait-test"); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		t.Fatal(err)
	}
	// A kubeconfig whose server is a port where nothing listens yet.
	cfg, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := "127.0.0.1:" + freePort(t)
	var target string
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			t.Fatal(err)
		}
		target = u.Host
		u.Host = proxyAddr
		c.Server = u.String()
	}
	kubeconfig := filepath.Join(workDir, "kubeconfig-proxied")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	probes, metrics := freePort(t), freePort(t)
	logFile := filepath.Join(workDir, "operator-wait.log")
	op, err := testbed.StartOperator(&testbed.Cluster{Kubeconfig: kubeconfig}, logFile,
		"--watch-namespaces=wait-test", "--log-format=json",
		"--health-probe-bind-address=127.0.0.1:"+probes, "--metrics-bind-address=127.0.0.1:"+metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log tail:\n%s", testbed.Tail(logFile, 40))
		}
	})

	eventually(t, 20*time.Second, "the operator logs that it waits for the API server", func() error {
		b, _ := os.ReadFile(logFile)
		if n := strings.Count(string(b), "Waiting for the Kubernetes API server"); n < 2 {
			return fmt.Errorf("%d waiting lines so far", n)
		}
		return nil
	})
	if exited, err := op.Exited(); exited {
		t.Fatalf("the operator exited while the API server was unreachable: %v", err)
	}
	// Alive (the liveness probe must not restart it) but not ready.
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable} {
		resp, err := http.Get("http://127.0.0.1:" + probes + path)
		if err != nil {
			t.Fatalf("GET %s while waiting: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s while waiting: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}

	// The API server becomes reachable: a TCP proxy to the real one.
	ln, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in) }()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
	waitHTTP(t, "http://127.0.0.1:"+probes+"/readyz")
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "Kubernetes API server is reachable") {
		t.Errorf("the operator should log that the API server became reachable")
	}
}
