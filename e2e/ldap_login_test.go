package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nauthera/nauthera/internal/testbed"
)

// The spec's corporate-ldap shape, pointed at a real slapd, federates into
// a realm, and a directory user signs in through an AuthClient of that realm
// with the authorization code flow through Keycloak's login form: the ID
// token's preferred_username is the LDAP uid. Everything runs as it would
// in a cluster: the operator binary, kubectl apply, the Secret alone.
func TestLDAPUserSignsIn(t *testing.T) {
	needsControlPlane(t)
	ldap := testbed.LDAPFor(t, "e2e")
	root := testbed.RepoRoot()
	mustTool(t, nil, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "config", "crd", "bases"))
	for _, ns := range []string{"nauthera-system", "security", "team-ldap"} {
		if _, err := tool(t, nil, "kubectl", "create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
	}
	if _, err := tool(t, nil, "kubectl", "-n", "nauthera-system", "create", "secret", "generic", "keycloak-admin-ldap",
		"--from-literal=username="+kc.AdminUser, "--from-literal=password="+kc.AdminPassword); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	probes := freePort(t)
	op, err := testbed.StartOperator(cluster, filepath.Join(workDir, "operator-ldap.log"),
		"--keycloak-url="+kc.URL, "--keycloak-admin-secret=nauthera-system/keycloak-admin-ldap",
		"--resync-interval=3s", "--max-backoff=3s", "--log-format=json",
		"--health-probe-bind-address=127.0.0.1:"+probes, "--metrics-bind-address=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log tail:\n%s", testbed.Tail(op.LogFile, 40))
		}
	})
	waitHTTP(t, "http://127.0.0.1:"+probes+"/readyz")

	mustTool(t, nil, "kubectl", "-n", "security", "create", "secret", "generic", "ldap-bind-password", "--from-literal=password="+ldap.ServicePassword)
	kubectlApply(t, ldap.UserStore("corporate-ldap", "security", "ldap-bind-password").YAML()+fmt.Sprintf(`---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: corp, namespace: security}
spec:
  issuerUrl: %q
  userStoreRef: {name: corporate-ldap}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: intranet, namespace: team-ldap}
spec:
  authServerRef: {name: corp, namespace: security}
  redirectUris: ["http://127.0.0.1:18556/callback"]
  scopes: [openid, profile, email]
`, kc.URL))
	mustTool(t, nil, "kubectl", "-n", "security", "wait", "authserver/corp", "--for=condition=UserStoreReady", "--timeout=120s")
	mustTool(t, nil, "kubectl", "-n", "security", "wait", "userstore/corporate-ldap", "--for=condition=Ready", "--timeout=60s")
	mustTool(t, nil, "kubectl", "-n", "team-ldap", "wait", "authclient/intranet", "--for=condition=Ready", "--timeout=120s")
	t.Logf("kubectl get userstores:\n%s", mustTool(t, nil, "kubectl", "get", "userstores", "-A"))

	s := secretData(t, "team-ldap", "intranet-client-secret")
	_, _, claims := authCodeLogin(t, s, "http://127.0.0.1:18556/", "alice", "alice-password")
	if claims.Username != "alice" || claims.Email != "alice@example.com" {
		t.Errorf("ID token of the LDAP user: preferred_username %q, email %q; want the LDAP uid and mail", claims.Username, claims.Email)
	}

	// Deleting the UserStore removes the federation: the directory user
	// no longer exists in the realm.
	mustTool(t, nil, "kubectl", "-n", "security", "delete", "userstore", "corporate-ldap")
	mustTool(t, nil, "kubectl", "-n", "security", "wait", "authserver/corp", "--for=jsonpath={.status.conditions[?(@.type==\"UserStoreReady\")].reason}=UserStoreNotFound", "--timeout=60s")
	out := mustTool(t, nil, "kubectl", "-n", "security", "get", "authserver", "corp", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
	if out != "True" {
		t.Errorf("the AuthServer's Ready is %q after its UserStore went", out)
	}
	_, _ = tool(t, nil, "kubectl", "delete", "authclient", "-n", "team-ldap", "--all", "--wait=false")
}
