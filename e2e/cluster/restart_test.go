//go:build e2ecluster

package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// (e) restartWorkloads: a Deployment that reads the secret from environment
// variables is rolled when its AuthClient's secret rotates, and its new pods
// authenticate with the new secret.
func TestRestartWorkloadsOnRotation(t *testing.T) {
	needsCluster(t)
	install(t)
	args := append([]string{"upgrade", "nauthera", "charts/nauthera", "--namespace", "nauthera-system",
		"--set", "operator.restartWorkloads=true"}, imageSets()...)
	must(t, "", "helm", append(args, "--wait", "--timeout", "10m")...)
	createNamespaces(t, "security", "env-team")
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: env-server, namespace: security}
spec:
  issuerUrl: %q
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: env-app, namespace: env-team}
spec:
  authServerRef: {name: env-server, namespace: security}
  redirectUris: ["http://env-app.example/callback"]
  grantTypes: [authorization_code, client_credentials]
`, keycloakURL))
	must(t, "", "kubectl", "-n", "env-team", "wait", "authclient/env-app", "--for=condition=Ready", "--timeout=300s")
	env := ""
	for _, k := range []string{"token_url", "client_id", "client_secret"} {
		env += fmt.Sprintf("            - {name: %s, valueFrom: {secretKeyRef: {name: env-app-client-secret, key: %s}}}\n", strings.ToUpper(k), k)
	}
	apply(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: env-app
  namespace: env-team
  annotations: {auth.nauthera.io/restart-on-rotation: env-app}
spec:
  replicas: 1
  selector: {matchLabels: {app: env-app}}
  template:
    metadata: {labels: {app: env-app}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      containers:
        - name: app
          image: %s/probe:test
          args: [--env, --every=1s, --for=2h]
          env:
%s`, registry, env))
	must(t, "", "kubectl", "-n", "env-team", "rollout", "status", "deployment/env-app", "--timeout=300s")
	oldPods := podNames(t, "env-team", "app=env-app")
	secretBefore := secretData(t, "env-team", "env-app-client-secret")["client_secret"]

	must(t, "", "kubectl", "-n", "env-team", "annotate", "authclient", "env-app",
		"auth.nauthera.io/rotate-secret="+fmt.Sprint(time.Now().Unix()), "--overwrite")
	var newPod string
	eventually(t, 5*time.Minute, "the Deployment rolls to a pod that authenticates", func() error {
		pods := podNames(t, "env-team", "app=env-app")
		newPod = ""
		for p := range pods {
			if !oldPods[p] {
				newPod = p
			}
		}
		if len(pods) != 1 || newPod == "" {
			return fmt.Errorf("pods %v (before the rotation: %v)", pods, oldPods)
		}
		logs, err := run(t, "", "kubectl", "-n", "env-team", "logs", newPod)
		if err != nil || strings.TrimSpace(logs) == "" {
			return fmt.Errorf("no output from %s yet: %v", newPod, err)
		}
		lines := parseProbe(t, logs)
		if !lines[0].OK {
			return fmt.Errorf("new pod %s: first request failed: HTTP %d %s", newPod, lines[0].Status, lines[0].Error)
		}
		return nil
	})
	if secretData(t, "env-team", "env-app-client-secret")["client_secret"] == secretBefore {
		t.Error("the rotation did not change the secret, so the roll proves nothing")
	}
	t.Logf("rotation rolled env-app to %s, which authenticated with the new secret", newPod)
}

// podNames returns the names of the running, not terminating pods matching
// a label selector.
func podNames(t *testing.T, ns, selector string) map[string]bool {
	t.Helper()
	out := must(t, "", "kubectl", "-n", ns, "get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}`)
	m := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 1 {
			m[f[0]] = true
		}
	}
	return m
}
