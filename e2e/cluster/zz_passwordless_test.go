//go:build e2ecluster

package cluster

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// (i) An operator without a Keycloak password (issue 23; the file name
// makes it run last, after (f)'s install, which it replaces). The chart is
// installed with operator.keycloakAuth=federated-jwt: Keycloak starts with a
// bootstrap admin from a Secret, the post-install hook Job sets up the
// operator's federated-JWT admin client with it and then deletes the
// bootstrap admin and the Secret. Afterwards no Secret in the cluster holds
// the bootstrap password, the bootstrap admin cannot log in, and the
// operator (logging in with its projected service-account token) provisions
// the spec's example, also after its pod is deleted.
func TestPasswordlessInstall(t *testing.T) {
	needsCluster(t)
	start := time.Now()
	if _, err := run(t, "", "helm", "status", "nauthera", "-n", "nauthera-system"); err == nil {
		must(t, "", "helm", "uninstall", "nauthera", "--namespace", "nauthera-system", "--wait", "--timeout", "5m")
	}
	// The default install's admin Secret is kept on uninstall
	// (helm.sh/resource-policy: keep): remove it, as a platform team
	// moving to federated-jwt would.
	_, _ = run(t, "", "kubectl", "-n", "nauthera-system", "delete", "secret", "nauthera-keycloak-admin", "--ignore-not-found")

	// A bootstrap admin the test knows, to look for it afterwards.
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	user, password := "temp-bootstrap", "bootstrap-"+hex.EncodeToString(b)
	// Through stdin, so that no command line (or failure message) shows the password.
	createNamespaces(t, "nauthera-system")
	apply(t, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: keycloak-bootstrap, namespace: nauthera-system}
stringData: {username: %q, password: %q}
`, user, password))
	args := append([]string{"install", "nauthera", "charts/nauthera", "--namespace", "nauthera-system",
		"--set", "operator.keycloakAuth=federated-jwt",
		"--set", "keycloak.admin.existingSecret=keycloak-bootstrap",
		"--set", "keycloak.serviceAccountToken=true"}, imageSets()...)
	if _, err := run(t, "", "helm", append(args, "--wait", "--timeout", "15m")...); err != nil {
		logs, _ := run(t, "", "kubectl", "-n", "nauthera-system", "logs", "job/nauthera-keycloak-bootstrap")
		t.Fatalf("%v\nbootstrap Job's log:\n%s", err, lastLines(logs, 30))
	}
	t.Logf("federated-jwt install with its bootstrap hook: %s", time.Since(start).Round(time.Second))

	t.Run("no admin password in the cluster", func(t *testing.T) {
		out := must(t, "", "kubectl", "get", "secrets", "--all-namespaces", "-o", "json")
		var list struct {
			Items []struct {
				Metadata struct{ Namespace, Name string }
				Data     map[string][]byte
			}
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 0 {
			t.Fatal("no Secrets listed at all: the search below would prove nothing")
		}
		for _, s := range list.Items {
			for k, v := range s.Data {
				// A manifest in a Helm release record holds a Secret's value in base64.
				rel := helmRelease(t, v)
				if strings.Contains(string(v), password) || strings.Contains(rel, password) || strings.Contains(rel, base64.StdEncoding.EncodeToString([]byte(password))) {
					t.Errorf("Secret %s/%s key %s holds the bootstrap password", s.Metadata.Namespace, s.Metadata.Name, k)
				}
			}
			if s.Metadata.Namespace == "nauthera-system" && (s.Metadata.Name == "keycloak-bootstrap" || s.Metadata.Name == "nauthera-keycloak-admin") {
				t.Errorf("Secret %s/%s is still there", s.Metadata.Namespace, s.Metadata.Name)
			}
		}
		if out, _ := run(t, "", "kubectl", "-n", "nauthera-system", "get", "jobs", "-o", "name"); strings.Contains(out, "bootstrap") {
			t.Errorf("the bootstrap Job was not deleted after it succeeded: %s", out)
		}
	})

	t.Run("the bootstrap admin is gone from Keycloak", func(t *testing.T) {
		hc := &http.Client{Transport: clusterHTTP(t), Timeout: 30 * time.Second}
		resp, err := hc.PostForm(keycloakURL+"/realms/master/protocol/openid-connect/token", url.Values{
			"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {user}, "password": {password},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		// Keycloak answers a password grant for a user it does not know
		// with 400 invalid_grant (401 in some versions); a 200 would mean
		// the bootstrap credentials still open Keycloak.
		if (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) || ans.Error != "invalid_grant" {
			t.Errorf("the bootstrap admin's login: HTTP %d %q, want 400 or 401 invalid_grant (user deleted)", resp.StatusCode, ans.Error)
		}
	})

	createNamespaces(t, "security", "my-app-dev")
	must(t, "", "kubectl", "apply", "-f", repoFile("config", "samples", "auth_v1alpha1_authserver.yaml"),
		"-f", repoFile("config", "samples", "auth_v1alpha1_authclient.yaml"))
	must(t, "", "kubectl", "-n", "my-app-dev", "wait", "authclient/my-webapp", "--for=condition=Ready", "--timeout=300s")
	if s := secretData(t, "my-app-dev", "my-webapp-client-secret"); s["client_secret"] == "" {
		t.Error("the seed example's Secret has no client_secret")
	}

	t.Run("the operator restarted keeps working", func(t *testing.T) {
		must(t, "", "kubectl", "-n", "nauthera-system", "delete", "pod", "-l", "app.kubernetes.io/name=nauthera-operator", "--wait=true")
		must(t, "", "kubectl", "-n", "nauthera-system", "rollout", "status", "deployment/nauthera", "--timeout=300s")
		apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: after-restart, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
  redirectUris: ["https://after-restart.example.com/callback"]
`)
		must(t, "", "kubectl", "-n", "my-app-dev", "wait", "authclient/after-restart", "--for=condition=Ready", "--timeout=300s")
		if s := secretData(t, "my-app-dev", "after-restart-client-secret"); s["client_secret"] == "" {
			t.Errorf("after the restart: Secret keys %v", keysOf(s))
		}
	})
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// helmRelease is the text of a Helm release record (a Secret's "release"
// value: base64 of gzipped JSON, manifests and hooks included), or "" for
// any other value: a password rendered into a manifest would hide there.
func helmRelease(t *testing.T, v []byte) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil || !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		return ""
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("a gzip value that does not open: %v", err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("a gzip value that does not read: %v", err)
	}
	return string(text)
}
