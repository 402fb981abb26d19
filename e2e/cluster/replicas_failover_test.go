//go:build e2ecluster

package cluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

type lease struct {
	Spec struct {
		HolderIdentity string    `json:"holderIdentity"`
		AcquireTime    time.Time `json:"acquireTime"`
	} `json:"spec"`
}

func leaseHolder(t *testing.T) lease {
	t.Helper()
	var l lease
	out := must(t, "", "kubectl", "-n", "nauthera-system", "get", "lease", "nauthera.auth.nauthera.io", "-o", "json")
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// secretWatch records every value each managed Secret of a namespace takes
// (as a digest, never the value), from a kubectl watch.
type secretWatch struct {
	mu     sync.Mutex
	values map[string]map[string]bool
	cmd    *exec.Cmd
	// first is closed when the watch sees the first Secret.
	first     chan struct{}
	firstOnce sync.Once
}

func watchSecrets(t *testing.T, ns string) *secretWatch {
	t.Helper()
	w := &secretWatch{values: map[string]map[string]bool{}, first: make(chan struct{})}
	w.cmd = exec.Command("kubectl", "-n", ns, "get", "secrets", "-l", "app.kubernetes.io/managed-by=nauthera", "--watch", "-o", "json")
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.cmd.Process.Kill(); _ = w.cmd.Wait() })
	go func() {
		dec := json.NewDecoder(bufio.NewReader(out))
		for {
			var s struct {
				Metadata struct{ Name string }
				Data     map[string]string
			}
			if err := dec.Decode(&s); err != nil {
				return
			}
			sum := sha256.Sum256([]byte(s.Data["client_secret"]))
			w.mu.Lock()
			if w.values[s.Metadata.Name] == nil {
				w.values[s.Metadata.Name] = map[string]bool{}
			}
			w.values[s.Metadata.Name][fmt.Sprintf("%x", sum[:8])] = true
			w.mu.Unlock()
			w.firstOnce.Do(func() { close(w.first) })
		}
	}()
	return w
}

// (c) Two replicas with leader election: the leader pod is deleted while
// 100 AuthClients converge. All become Ready, each has exactly one Keycloak
// client, and no Secret ever holds two different secrets.
func TestLeaderFailoverUnderLoad(t *testing.T) {
	needsCluster(t)
	install(t)
	args := append([]string{"upgrade", "nauthera", "charts/nauthera", "--namespace", "nauthera-system",
		"--set", "operator.replicas=2"}, imageSets()...)
	must(t, "", "helm", append(args, "--wait", "--timeout", "10m")...)
	createNamespaces(t, "security", "scale-team")
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: scale-server, namespace: security}
spec:
  issuerUrl: %q
`, keycloakURL))
	must(t, "", "kubectl", "-n", "security", "wait", "authserver/scale-server", "--for=condition=Ready", "--timeout=300s")
	eventually(t, 2*time.Minute, "a leader", func() error {
		if leaseHolder(t).Spec.HolderIdentity == "" {
			return fmt.Errorf("no holder")
		}
		return nil
	})
	before := leaseHolder(t)
	leaderPod, _, _ := strings.Cut(before.Spec.HolderIdentity, "_")
	watch := watchSecrets(t, "scale-team")

	const n = 100
	var docs strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&docs, `---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: app-%03d, namespace: scale-team}
spec:
  authServerRef: {name: scale-server, namespace: security}
  redirectUris: ["http://app-%03d.example/callback"]
`, i, i)
	}
	// Created in the background: the leader is deleted as soon as the first
	// Secret is written (kubectl may still be creating the last
	// AuthClients), so that it goes while most AuthClients still converge
	// (checked below).
	applied := make(chan error, 1)
	go func() {
		_, err := run(t, docs.String(), "kubectl", "apply", "-f", "-")
		applied <- err
	}()
	select {
	case <-watch.first:
	case <-time.After(3 * time.Minute):
		t.Fatal("no Secret within 3m of creating the AuthClients")
	}
	deleted := time.Now()
	must(t, "", "kubectl", "-n", "nauthera-system", "delete", "pod", leaderPod, "--wait=false")
	// The failover proves something only if most AuthClients were still
	// converging when the leader went. Counted from the API server after
	// the delete returned, so it can only overcount.
	atDelete := len(strings.Fields(must(t, "", "kubectl", "-n", "scale-team", "get", "secrets",
		"-l", "app.kubernetes.io/managed-by=nauthera", "-o", "name")))
	if atDelete > n/2 {
		t.Fatalf("%d of %d Secrets existed when the leader was deleted: the failover happened after most had converged", atDelete, n)
	}
	// The Keycloak clients that exist when the leader goes: the new leader
	// must keep each of them (same internal id), not create it again.
	ctx := context.Background()
	gc, jwt := keycloakAdmin(ctx, t)
	kcBefore := scaleClients(ctx, t, gc, jwt)
	t.Logf("leader deleted with %d of %d Secrets written; %d Keycloak clients right after", atDelete, n, len(kcBefore))
	if err := <-applied; err != nil {
		t.Fatalf("creating the AuthClients: %v", err)
	}
	var after lease
	eventually(t, 3*time.Minute, "a new leader", func() error {
		after = leaseHolder(t)
		if holder, _, _ := strings.Cut(after.Spec.HolderIdentity, "_"); holder == "" || holder == leaderPod {
			return fmt.Errorf("holder %q", after.Spec.HolderIdentity)
		}
		return nil
	})
	failover := time.Since(deleted)
	t.Logf("leader %s deleted; %s leads after %s (lease acquireTime %s after the delete)", leaderPod,
		after.Spec.HolderIdentity, failover.Round(100*time.Millisecond), after.Spec.AcquireTime.Sub(deleted).Round(time.Second))

	must(t, "", "kubectl", "-n", "scale-team", "wait", "authclients", "--all", "--for=condition=Ready", "--timeout=600s")
	converged := time.Since(deleted)
	ready := strings.Fields(must(t, "", "kubectl", "-n", "scale-team", "get", "authclients", "-o", "name"))
	if len(ready) != n {
		t.Fatalf("%d AuthClients, want %d", len(ready), n)
	}

	// Exactly one Keycloak client per AuthClient, and each one that existed
	// when the leader was deleted is the same client (not recreated).
	gc, jwt = keycloakAdmin(ctx, t)
	kcAfter := scaleClients(ctx, t, gc, jwt)
	if len(kcAfter) != n {
		t.Errorf("%d Keycloak clients for scale-team, want %d", len(kcAfter), n)
	}
	for id, ids := range kcAfter {
		if len(ids) != 1 {
			t.Errorf("Keycloak client %s exists %d times", id, len(ids))
		}
	}
	for id, ids := range kcBefore {
		if got := kcAfter[id]; len(got) != 1 || got[0] != ids[0] {
			t.Errorf("Keycloak client %s had internal id %v before the failover, %v after: recreated", id, ids, got)
		}
	}
	// No flip: each Secret only ever held one secret.
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if len(watch.values) != n {
		t.Errorf("the watch saw %d Secrets, want %d", len(watch.values), n)
	}
	for name, vals := range watch.values {
		if len(vals) != 1 {
			t.Errorf("Secret %s held %d different secrets", name, len(vals))
		}
	}
	t.Logf("failover %s; all %d AuthClients Ready %s after the leader was deleted", failover.Round(100*time.Millisecond), n, converged.Round(time.Second))
}

// keycloakAdmin logs in to the in-cluster Keycloak with the chart's admin Secret.
func keycloakAdmin(ctx context.Context, t *testing.T) (*gocloak.GoCloak, *gocloak.JWT) {
	t.Helper()
	admin := secretData(t, "nauthera-system", "nauthera-keycloak-admin")
	gc := gocloak.NewClient(keycloakURL)
	gc.RestyClient().SetTransport(clusterHTTP(t))
	jwt, err := gc.LoginAdmin(ctx, admin["username"], admin["password"], "master")
	if err != nil {
		t.Fatal(err)
	}
	return gc, jwt
}

// scaleClients maps each scale-team Keycloak client's clientId to the
// internal ids of the clients holding it (more than one is a duplicate).
func scaleClients(ctx context.Context, t *testing.T, gc *gocloak.GoCloak, jwt *gocloak.JWT) map[string][]string {
	t.Helper()
	clients, err := gc.GetClients(ctx, jwt.AccessToken, "scale-server", gocloak.GetClientsParams{Max: gocloak.IntP(1000)})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, c := range clients {
		if c.ClientID != nil && c.ID != nil && strings.HasPrefix(*c.ClientID, "scale-team.") {
			ids[*c.ClientID] = append(ids[*c.ClientID], *c.ID)
		}
	}
	return ids
}
