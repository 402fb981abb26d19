//go:build e2ecluster

package cluster

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// (d) Zero-downtime rotation as a real pod sees it: the probe reads the
// mounted Secret files and asks for a token every 200 ms while two
// scheduled rotations happen. No request may fail. The delay between
// Keycloak's rotation and the file changing in the pod (the kubelet's
// Secret refresh) is measured and reported.
func TestRotationWatchedByAPod(t *testing.T) {
	needsCluster(t)
	install(t)
	createNamespaces(t, "security", "rotation-team")
	// The safe minimum docs/guides/rotation.md documents for a grace period (the
	// kubelet refreshes mounted files up to about 80 s late), as both the
	// schedule and the grace: the proof of that minimum, and the shortest
	// run with two scheduled rotations.
	const every = 2 * time.Minute
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: rotating, namespace: security}
spec:
  issuerUrl: %q
  policySelector: {matchLabels: {tier: rotation-cluster}}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: rotate-often, namespace: security, labels: {tier: rotation-cluster}}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@every %s", gracePeriod: %s}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: rotating-app, namespace: rotation-team}
spec:
  authServerRef: {name: rotating, namespace: security}
  redirectUris: ["http://rotating.example/callback"]
  grantTypes: [authorization_code, client_credentials]
`, keycloakURL, every, every))
	must(t, "", "kubectl", "-n", "rotation-team", "wait", "authclient/rotating-app", "--for=condition=Ready", "--timeout=300s")
	must(t, "", "kubectl", "-n", "security", "wait", "authserver/rotating", "--for=condition=SecretRotationReady", "--timeout=300s")

	apply(t, probePod("rotation-probe", "rotation-team", "rotating-app-client-secret", "--every=200ms", "--for=30m"))
	must(t, "", "kubectl", "-n", "rotation-team", "wait", "pod/rotation-probe", "--for=condition=Ready", "--timeout=300s")
	started := time.Now()
	t.Cleanup(func() {
		_, _ = run(t, "", "kubectl", "-n", "rotation-team", "delete", "pod", "rotation-probe", "--wait=false")
	})

	// The rotations the operator made while the probe ran (lastRotationTime
	// as it changes), until the pod has seen two of them in its files.
	rotations := map[time.Time]bool{}
	var lines []probeLine
	eventually(t, 3*every+5*time.Minute, "two scheduled rotations seen by the pod", func() error {
		out, err := run(t, "", "kubectl", "-n", "rotation-team", "get", "authclient", "rotating-app", "-o", "jsonpath={.status.secretRotation.lastRotationTime}")
		if err != nil {
			return err
		}
		// Every value, also one from before the probe started: a change the
		// pod sees is paired with the latest rotation before it.
		if ts, err := time.Parse(time.RFC3339, strings.TrimSpace(out)); err == nil {
			rotations[ts] = true
		}
		logs, err := run(t, "", "kubectl", "-n", "rotation-team", "logs", "rotation-probe")
		if err != nil {
			return err
		}
		lines = parseProbe(t, logs)
		changes := 0
		for _, l := range lines {
			if l.SecretChanged {
				changes++
			}
		}
		since := 0
		for ts := range rotations {
			if ts.After(started) {
				since++
			}
		}
		if since < 2 || changes < 2 {
			return fmt.Errorf("%d rotations, %d changes seen by the pod", since, changes)
		}
		return nil
	})
	times := make([]time.Time, 0, len(rotations))
	for ts := range rotations {
		times = append(times, ts)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	failed, changes := 0, []time.Time{}
	for _, l := range lines {
		if !l.OK {
			failed++
			t.Errorf("request at %s failed: HTTP %d %s", l.Time.Format(time.RFC3339Nano), l.Status, l.Error)
		}
		if l.SecretChanged {
			changes = append(changes, l.Time)
		}
	}
	// Each change of the mounted file belongs to the latest rotation before
	// it (lastRotationTime has a one-second resolution), one change per
	// rotation, and comes within the kubelet's refresh bound.
	const bound = 2 * time.Minute
	paired := map[time.Time]bool{}
	var worst time.Duration
	for _, ch := range changes {
		var rot time.Time
		for _, r := range times {
			if !r.After(ch.Add(time.Second)) {
				rot = r
			}
		}
		if rot.IsZero() {
			t.Errorf("the pod's secret changed at %s before any rotation", ch.Format(time.RFC3339Nano))
			continue
		}
		if paired[rot] {
			t.Errorf("the pod's secret changed twice after the rotation at %s", rot.Format(time.RFC3339))
		}
		paired[rot] = true
		delay := ch.Sub(rot)
		worst = max(worst, delay)
		if delay >= bound {
			t.Errorf("rotation at %s reached the pod's files %s later, want < %s", rot.Format(time.RFC3339), delay, bound)
		}
		t.Logf("rotation at %s; the pod read the new secret %s later (kubelet Secret refresh delay)",
			rot.Format(time.RFC3339), delay.Round(100*time.Millisecond))
	}
	t.Logf("worst kubelet Secret refresh delay %s", worst.Round(100*time.Millisecond))
	t.Logf("%d requests every 200 ms across %d rotations: %d failed", len(lines), len(times), failed)
}
