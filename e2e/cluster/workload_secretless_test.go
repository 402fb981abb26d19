//go:build e2ecluster

package cluster

import (
	"fmt"
	"testing"
	"time"
)

// (f) Secretless: a pod running as a ServiceAccount, with a token the
// kubelet projects for the audience read from the AuthClient's Secret, gets
// a Keycloak token with no secret mounted. It runs after the uninstall
// proof, on a fresh install whose Keycloak mounts its own service-account
// token (keycloak.serviceAccountToken=true: it then trusts the cluster CA
// and reaches the issuer through the kubernetes Service).
func TestSecretlessWithAProjectedToken(t *testing.T) {
	needsCluster(t)
	install(t)
	if _, err := run(t, "", "helm", "status", "nauthera", "-n", "nauthera-system"); err == nil {
		must(t, "", "helm", "uninstall", "nauthera", "--namespace", "nauthera-system", "--wait", "--timeout", "5m")
	}
	args := append([]string{"install", "nauthera", "charts/nauthera", "--namespace", "nauthera-system", "--create-namespace",
		"--set", "keycloak.serviceAccountToken=true"}, imageSets()...)
	must(t, "", "helm", append(args, "--wait", "--timeout", "15m")...)
	// The operator checks the issuer from Keycloak anonymously
	// (docs/guides/secretless.md): let unauthenticated callers read the
	// discovery documents, as that guide tells a platform team to.
	if _, err := run(t, "", "kubectl", "create", "clusterrolebinding", "service-account-issuer-discovery-anonymous",
		"--clusterrole=system:service-account-issuer-discovery", "--group=system:unauthenticated"); err != nil {
		t.Log(err)
	}
	createNamespaces(t, "security", "shop")
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: workloads, namespace: security}
spec:
  issuerUrl: %q
  serviceAccountAuthentication: {maxTokenAge: 1h}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: orders-worker, namespace: shop}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: orders-worker, namespace: shop}
spec:
  authServerRef: {name: workloads, namespace: security}
  serviceAccount: {name: orders-worker}
  grantTypes: [client_credentials]
`, keycloakURL))
	must(t, "", "kubectl", "-n", "shop", "wait", "authclient/orders-worker", "--for=condition=Ready", "--timeout=300s")
	s := secretData(t, "shop", "orders-worker-client-secret")
	if s["token_audience"] == "" || s["client_secret"] != "" {
		t.Fatalf("Secret keys: token_audience %q, client_secret present %v", s["token_audience"], s["client_secret"] != "")
	}
	pod := func(name, sa, audience string) string {
		return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: shop}
spec:
  restartPolicy: Never
  serviceAccountName: %s
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532}
  containers:
    - name: worker
      image: %s/probe:test
      args: [--env, --assertion=/var/run/secrets/keycloak/token]
      env:
        - {name: TOKEN_URL, valueFrom: {secretKeyRef: {name: orders-worker-client-secret, key: token_url}}}
        - {name: CLIENT_ID, valueFrom: {secretKeyRef: {name: orders-worker-client-secret, key: client_id}}}
      volumeMounts: [{name: keycloak-token, mountPath: /var/run/secrets/keycloak, readOnly: true}]
  volumes:
    - name: keycloak-token
      projected:
        sources: [{serviceAccountToken: {path: token, audience: %q, expirationSeconds: 600}}]
`, name, sa, registry, audience)
	}
	apply(t, pod("orders-worker", "orders-worker", s["token_audience"]))
	phase, logs := waitPodDone(t, "shop", "orders-worker", 5*time.Minute)
	if lines := parseProbe(t, logs); phase != "Succeeded" || !lines[0].OK {
		t.Fatalf("secretless pod: %s %s", phase, logs)
	}
	// The control: the same pod as another ServiceAccount is refused.
	apply(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: intruder, namespace: shop}\n")
	apply(t, pod("intruder", "intruder", s["token_audience"]))
	phase, logs = waitPodDone(t, "shop", "intruder", 5*time.Minute)
	if lines := parseProbe(t, logs); phase != "Failed" || lines[0].OK {
		t.Errorf("a token of another ServiceAccount: %s %s; want refused", phase, logs)
	}
}
