package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/internal/testbed"
)

// regenerateProxy stands between the operator and Keycloak. It counts the
// secret regenerations of one realm and, when armed, SIGKILLs the operator
// as soon as Keycloak has answered one: Keycloak has rotated, the operator
// dies before it can write the Secret.
type regenerateProxy struct {
	realm string
	mu    sync.Mutex
	at    []time.Time
	kill  func()
	armed bool
}

func (p *regenerateProxy) modify(resp *http.Response) error {
	r := resp.Request
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/admin/realms/"+p.realm+"/clients/") || !strings.HasSuffix(r.URL.Path, "/client-secret") {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = append(p.at, time.Now())
	if p.armed && resp.StatusCode == http.StatusOK {
		p.armed = false
		p.kill()
		return errors.New("operator killed after Keycloak regenerated (test)")
	}
	return nil
}

func (p *regenerateProxy) regenerations() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}

// The crash test with real processes: the operator binary is
// SIGKILLed between Keycloak's regenerate and its Secret write. After a
// restart the Secret holds Keycloak's current secret, which works, and that
// schedule slot was not rotated a second time.
func TestRotationSurvivesSIGKILL(t *testing.T) {
	needsControlPlane(t)
	root := testbed.RepoRoot()
	mustTool(t, nil, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "config", "crd", "bases"))
	for _, ns := range []string{"nauthera-system", "security", "team-kill"} {
		if _, err := tool(t, nil, "kubectl", "create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
	}
	if _, err := tool(t, nil, "kubectl", "-n", "nauthera-system", "create", "secret", "generic", "keycloak-admin",
		"--from-literal=username="+kc.AdminUser, "--from-literal=password="+kc.AdminPassword); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}

	target, err := url.Parse(kc.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &regenerateProxy{realm: "rot-kill"}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = proxy.modify
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	probes := freePort(t)
	op, err := testbed.StartOperator(cluster, filepath.Join(workDir, "operator-rotation.log"),
		"--keycloak-url=http://"+ln.Addr().String(), "--keycloak-admin-secret=nauthera-system/keycloak-admin",
		"--resync-interval=3s", "--max-backoff=3s", "--log-format=json",
		"--health-probe-bind-address=127.0.0.1:"+probes, "--metrics-bind-address=0")
	if err != nil {
		t.Fatal(err)
	}
	// Kill consumes the process's exit: whether it runs is tracked here.
	killed, running := make(chan struct{}), true
	proxy.kill = func() { _ = op.Kill(); close(killed) }
	t.Cleanup(func() {
		if running {
			if err := op.Stop(); err != nil {
				t.Errorf("graceful shutdown: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("operator log tail:\n%s", testbed.Tail(op.LogFile, 40))
		}
		_, _ = tool(t, nil, "kubectl", "delete", "authclient", "-n", "team-kill", "--all", "--wait=false")
	})
	waitHTTP(t, "http://127.0.0.1:"+probes+"/readyz")

	kubectlApply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: rot-kill, namespace: security}
spec:
  issuerUrl: "https://rot-kill.example.com"
  policySelector:
    matchLabels: {tier: rot-kill}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: rot-kill, namespace: security, labels: {tier: rot-kill}}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@every 20s", gracePeriod: 15s}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: team-kill}
spec:
  authServerRef: {name: rot-kill, namespace: security}
  grantTypes: [client_credentials]
`)
	mustTool(t, nil, "kubectl", "-n", "team-kill", "wait", "authclient/worker", "--for=condition=Ready", "--timeout=120s")
	mustTool(t, nil, "kubectl", "-n", "security", "wait", "authserver/rot-kill", "--for=condition=SecretRotationReady", "--timeout=60s")
	before := secretData(t, "team-kill", "worker-client-secret")["client_secret"]

	proxy.mu.Lock()
	proxy.armed = true
	proxy.mu.Unlock()
	select {
	case <-killed:
		running = false
	case <-time.After(60 * time.Second):
		t.Fatal("no regenerate within 60s of arming the kill")
	}
	killedAt := time.Now()
	slot := killedAt.Truncate(20 * time.Second)
	gc := gocloak.NewClient(kc.URL)
	ctx := context.Background()
	tok, err := gc.LoginAdmin(ctx, kc.AdminUser, kc.AdminPassword, "master")
	if err != nil {
		t.Fatal(err)
	}
	clients, err := gc.GetClients(ctx, tok.AccessToken, "rot-kill", gocloak.GetClientsParams{ClientID: gocloak.StringP("team-kill.worker")})
	if err != nil || len(clients) != 1 {
		t.Fatalf("client: %v %d", err, len(clients))
	}
	current := func() string {
		cred, err := gc.GetClientSecret(ctx, tok.AccessToken, "rot-kill", gocloak.PString(clients[0].ID))
		if err != nil {
			t.Fatal(err)
		}
		return gocloak.PString(cred.Value)
	}
	rotated := current()
	if rotated == before || secretData(t, "team-kill", "worker-client-secret")["client_secret"] != before {
		t.Fatal("the kill did not land between Keycloak's regenerate and the Secret write")
	}

	if err := op.Restart(cluster); err != nil {
		t.Fatal(err)
	}
	running = true
	eventually(t, 30*time.Second, "the Secret holds Keycloak's current secret after the restart", func() error {
		if got := secretData(t, "team-kill", "worker-client-secret")["client_secret"]; got != current() {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	finished := time.Now()
	if _, err := gc.LoginClient(ctx, "team-kill.worker", secretData(t, "team-kill", "worker-client-secret")["client_secret"], "rot-kill"); err != nil {
		t.Errorf("the Secret's secret is refused: %v", err)
	}
	if _, err := gc.LoginClient(ctx, "team-kill.worker", before, "rot-kill"); err != nil {
		t.Errorf("the previous secret is refused during its grace period: %v", err)
	}
	inSlot := 0
	for _, at := range proxy.regenerations() {
		if !at.Before(slot) && at.Before(slot.Add(20*time.Second)) {
			inSlot++
		}
	}
	if inSlot != 1 {
		t.Errorf("%d regenerations in the slot of the kill (%s), want 1 (the secret was caught up %s after the kill)", inSlot, slot.Format(time.TimeOnly), finished.Sub(killedAt).Round(time.Millisecond))
	}
	ev := mustTool(t, nil, "kubectl", "-n", "team-kill", "get", "events.events.k8s.io", "--field-selector", "reason=SecretRotated", "-o", "jsonpath={.items[*].note}")
	if !strings.Contains(ev, "Completed an interrupted rotation") {
		t.Errorf("no SecretRotated Event says the interrupted rotation was completed: %q", ev)
	}
	t.Logf("killed at %s, Secret caught up in %s", killedAt.Format(time.TimeOnly), finished.Sub(killedAt).Round(time.Millisecond))
}
