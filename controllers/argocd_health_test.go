package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// The Argo CD health checks shipped in config/argocd/argocd-cm-health.yaml,
// run with gopher-lua (the interpreter Argo CD embeds, the way Argo CD runs
// them: a global obj, the script returns {status, message}) against real
// objects the operator brought into each state.

func healthScripts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "argocd", "argocd-cm-health.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kind := range []string{"AuthServer", "AuthClient", "AuthPolicy", "UserStore"} {
		script, ok := cm.Data["resource.customizations.health.auth.nauthera.io_"+kind]
		if !ok {
			t.Fatalf("no health check for %s", kind)
		}
		out[kind] = script
	}
	return out
}

// toLua converts decoded JSON into Lua values, as Argo CD does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case nil:
		return lua.LNil
	default:
		return lua.LString(fmt.Sprint(x))
	}
}

// argoHealth runs the kind's health check on obj as the API server has it.
func argoHealth(t *testing.T, scripts map[string]string, kind string, obj client.Object) (string, string) {
	t.Helper()
	if obj.GetResourceVersion() != "" {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u))
	if err := L.DoString(scripts[kind]); err != nil {
		t.Fatalf("%s health check: %v", kind, err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("%s health check returned %v", kind, L.Get(-1))
	}
	return ret.RawGetString("status").String(), ret.RawGetString("message").String()
}

func waitHealth(t *testing.T, scripts map[string]string, kind string, obj client.Object, want string) string {
	t.Helper()
	var status, msg string
	eventually(t, 60*time.Second, fmt.Sprintf("Argo CD health %s of %s %s", want, kind, obj.GetName()), func() error {
		if status, msg = argoHealth(t, scripts, kind, obj); status != want {
			return fmt.Errorf("%s: %s", status, msg)
		}
		return nil
	})
	if obj.GetResourceVersion() != "" { // read from the API server by argoHealth
		assertConditions(t, obj)
	}
	return msg
}

func TestArgoCDHealthChecks(t *testing.T) {
	integration(t)
	theOperator(t)
	scripts := healthScripts(t)

	// An object the operator has not seen yet: Progressing.
	fresh := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "x", Generation: 1}}
	if s, _ := argoHealth(t, scripts, "AuthClient", fresh); s != "Progressing" {
		t.Errorf("an object without status is %s", s)
	}

	// Healthy: each kind Ready.
	as := realmServer(t, "argo-server")
	ensureNamespace(t, "team-argo", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-argo", "app", "argo-server", ""), ac)
	p := applyPolicy(t, "security", "argo-policy", "argo-nobody", "  enforcePKCE: true")
	us := userStore(t, "argo-directory", "argo-bind", "")
	for kind, obj := range map[string]client.Object{"AuthServer": as, "AuthClient": ac, "AuthPolicy": p, "UserStore": us} {
		waitHealth(t, scripts, kind, obj, "Healthy")
	}

	// Degraded: failures that retrying cannot fix.
	bad := &authv1.AuthClient{}
	apply(t, authClient("team-argo", "orphan", "no-such-server", ""), bad)
	if msg := waitHealth(t, scripts, "AuthClient", bad, "Degraded"); !strings.Contains(msg, "AuthServerNotFound") {
		t.Errorf("message %q", msg)
	}
	never := applyPolicy(t, "security", "argo-never", "argo-nobody", `  clientAuthentication:
    secretRotation: {enabled: true, schedule: "0 0 30 2 *"}`)
	waitHealth(t, scripts, "AuthPolicy", never, "Degraded")
	gc, tok := console(t)
	if _, err := gc.CreateRealm(context.Background(), tok, gocloak.RealmRepresentation{Realm: gocloak.StringP("argo-foreign"), Enabled: gocloak.BoolP(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gc.DeleteRealm(context.Background(), tok, "argo-foreign") })
	conflict := serverWithoutWait(t, "argo-conflict", `  realmName: argo-foreign`)
	if msg := waitHealth(t, scripts, "AuthServer", conflict, "Degraded"); !strings.Contains(msg, "RealmConflict") {
		t.Errorf("message %q", msg)
	}
	bindSecret(t, "argo-wrong-bind", map[string]string{"password": "wrong"})
	wrongStore := userStore(t, "argo-wrong", "argo-wrong-bind", "")
	serverWith(t, "argo-wrong-server", "  userStoreRef: {name: argo-wrong}")
	if msg := waitHealth(t, scripts, "UserStore", wrongStore, "Degraded"); !strings.Contains(msg, "LDAPBindFailed") {
		t.Errorf("message %q", msg)
	}

	// Progressing: retrying, and waiting for what retries.
	down := serverWithoutWait(t, "argo-down", `  keycloak:
    url: "http://127.0.0.1:1"
    adminCredentialsSecretRef: {name: nope}`)
	waitHealth(t, scripts, "AuthServer", down, "Progressing")
	waiting := &authv1.AuthClient{}
	apply(t, authClient("team-argo", "waiting", "argo-down", ""), waiting)
	waitReady(t, waiting, metav1.ConditionFalse, authv1.ReasonAuthServerNotReady, 30*time.Second)
	if s, msg := argoHealth(t, scripts, "AuthClient", waiting); s != "Progressing" {
		t.Errorf("a client waiting for a retrying AuthServer is %s: %s", s, msg)
	}
	deleteAndWait(t, waiting)
	deleteAndWait(t, bad)
	deleteAndWait(t, ac)
}

// serverWithoutWait applies an AuthServer without waiting for it to be Ready.
func serverWithoutWait(t *testing.T, name, extra string) *authv1.AuthServer {
	t.Helper()
	ensureNamespace(t, "security", nil)
	as := &authv1.AuthServer{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: %s, namespace: security}
spec:
  issuerUrl: "https://%s.example.com"
%s`, name, name, extra), as)
	t.Cleanup(func() { deleteAndWait(t, as) })
	return as
}
