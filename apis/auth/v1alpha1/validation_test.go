package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/nauthera/nauthera/internal/testbed"
)

// k8s talks to a real kube-apiserver with the generated CRDs installed.
var k8s client.Client

func TestMain(m *testing.M) { testbed.Main(m, run) }

func run(m *testing.M) int {
	env, err := testbed.ControlPlane(true)
	if err != nil {
		return testbed.Fail(err)
	}
	cfg, err := testbed.StartControlPlane(env)
	if err != nil {
		return testbed.Fail(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop control plane:", err)
		}
	}()
	if k8s, err = client.New(cfg, client.Options{}); err != nil {
		return testbed.Fail(err)
	}
	return m.Run()
}

func envtestOnly(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("envtest: needs kube-apiserver and etcd (run without -short)")
	}
}

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, doc)
	}
	return u
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// The four examples of the product specification, as committed under
// config/samples, are accepted verbatim.
func TestSpecExamplesAreAccepted(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	files, err := filepath.Glob(filepath.Join(testbed.RepoRoot(), "config", "samples", "auth_v1alpha1_*.yaml"))
	if err != nil || len(files) != 4 {
		t.Fatalf("want the 4 spec examples in config/samples, found %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := parse(t, string(data))
			if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
				t.Fatalf("the API server refused the spec's example: %v", err)
			}
		})
	}
}

// The samples in the folders of config/samples (audiences, secret
// templates) are accepted as committed.
func TestSamplesAreAccepted(t *testing.T) {
	envtestOnly(t)
	files, err := filepath.Glob(filepath.Join(testbed.RepoRoot(), "config", "samples", "*", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("want the samples of config/samples/*/, found %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range strings.Split(string(data), "\n---\n") {
				obj := parse(t, doc)
				ensureNamespace(t, obj.GetNamespace())
				if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
					t.Errorf("the API server refused %s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
			}
		})
	}
}

const client0 = `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
  redirectUris: ["https://app.example.com/callback"]
`

// Obvious nonsense is refused at admission, with a message naming the field.
func TestNonsenseIsRejected(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	cases := []struct {
		name string
		doc  string
		// want are substrings of the API server's message: the field path and the reason.
		want []string
	}{{
		name: "empty authServerRef.name",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: ""}
  redirectUris: ["https://app.example.com/callback"]`,
		want: []string{"spec.authServerRef.name", "at least 1 chars long"},
	}, {
		name: "missing authServerRef",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  redirectUris: ["https://app.example.com/callback"]`,
		want: []string{"spec.authServerRef", "Required value"},
	}, {
		name: "relative redirect URI",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["/callback"]`,
		want: []string{"spec.redirectUris[0]", "must be an absolute URL"},
	}, {
		name: "redirect URI that is not a URL",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["https://ok.example.com/cb", "not a url"]`,
		want: []string{"spec.redirectUris[1]", "must be an absolute URL"},
	}, {
		name: "authorization code without redirect URIs",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}`,
		want: []string{"spec.redirectUris", "needs at least one redirect URI"},
	}, {
		name: "public client with client_credentials",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  clientType: Public
  grantTypes: [client_credentials]`,
		want: []string{"spec.grantTypes", "Public client has no secret"},
	}, {
		name: "unknown grant type",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["https://app.example.com/callback"]
  grantTypes: [implicit]`,
		want: []string{"spec.grantTypes[0]", `Unsupported value: "implicit"`},
	}, {
		name: "scope with a space",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["https://app.example.com/callback"]
  scopes: ["api read"]`,
		want: []string{"spec.scopes[0]", "should match"},
	}, {
		name: "web origin with a path",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["https://app.example.com/callback"]
  webOrigins: ["https://app.example.com/path"]`,
		want: []string{"spec.webOrigins[0]", "must be `+`, `*` or an origin"},
	}, {
		name: "unknown deletion policy",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  redirectUris: ["https://app.example.com/callback"]
  deletionPolicy: Keep`,
		want: []string{"spec.deletionPolicy", `Unsupported value: "Keep"`},
	}, {
		name: "unknown UserStore type",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: u, namespace: security}
spec:
  type: activedirectory`,
		want: []string{"spec.type", `Unsupported value: "activedirectory"`, `"ldap"`},
	}, {
		name: "ldap UserStore without ldap block",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: u, namespace: security}
spec:
  type: ldap`,
		want: []string{"spec.ldap", "ldap is required when type is ldap"},
	}, {
		name: "LDAP server that is not an LDAP URL",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: u, namespace: security}
spec:
  type: ldap
  ldap:
    server: "https://ldap.example.com"
    userSearch: {baseDN: "ou=users,dc=example,dc=com"}`,
		want: []string{"spec.ldap.server", "should match"},
	}, {
		name: "malformed access token TTL",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  token:
    accessTokenTTL: "15 minutes"`,
		want: []string{"spec.token.accessTokenTTL", "should match"},
	}, {
		name: "duration with a unit Go does not know",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  token:
    refreshTokenTTL: "1d"`,
		want: []string{"spec.token.refreshTokenTTL", "should match"},
	}, {
		name: "rotation enabled without schedule",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication:
    secretRotation: {enabled: true}`,
		want: []string{"spec.clientAuthentication.secretRotation.schedule", "schedule is required"},
	}, {
		name: "malformed cron schedule",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "every night"}`,
		want: []string{"spec.clientAuthentication.secretRotation.schedule", "five cron fields"},
	}, {
		name: "secret template copying the credentials elsewhere",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: s, namespace: security}
  redirectUris: ["https://app.example.com/cb"]
  secretTemplate:
    annotations: {"reflector.v1.k8s.emberstack.com/reflection-allowed": "true"}`,
		want: []string{"spec.secretTemplate.annotations", "would copy the credentials to other namespaces"},
	}, {
		name: "secret template key that is not a Secret key",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: s, namespace: security}
  redirectUris: ["https://app.example.com/cb"]
  secretTemplate:
    data: {"..data": "x"}`,
		want: []string{"spec.secretTemplate.data", "must be valid Secret keys"},
	}, {
		name: "audience access for a namespace that is not a name",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: s, namespace: security}
  redirectUris: ["https://app.example.com/cb"]
  audienceAccess: {namespaces: ["*"]}`,
		want: []string{"spec.audienceAccess.namespaces[0]", "should match"},
	}, {
		name: "audience access for a client without namespace",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: s, namespace: security}
  redirectUris: ["https://app.example.com/cb"]
  audienceAccess: {clients: [{name: web}]}`,
		want: []string{"spec.audienceAccess.clients[0].namespace", "Required value"},
	}, {
		name: "grace period longer than an @every interval",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@every 20s", gracePeriod: 21s}`,
		want: []string{"spec.clientAuthentication.secretRotation.gracePeriod", "must not be longer than the shortest time between two rotations"},
	}, {
		name: "grace period longer than @hourly",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@hourly", gracePeriod: 2h}`,
		want: []string{"spec.clientAuthentication.secretRotation.gracePeriod", "@hourly 1h"},
	}, {
		name: "grace period of zero",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@daily", gracePeriod: 0s}`,
		want: []string{"spec.clientAuthentication.secretRotation.gracePeriod", "between 10s and 8760h"},
	}, {
		name: "unknown client authentication method",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
  clientAuthentication: {method: basic}`,
		want: []string{"spec.clientAuthentication.method", `Unsupported value: "basic"`},
	}, {
		name: "issuerUrl that is not a URL",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: s, namespace: security}
spec:
  issuerUrl: "auth.example.com"`,
		want: []string{"spec.issuerUrl", "must be an absolute http or https URL"},
	}, {
		name: "AuthServer without issuerUrl",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: s, namespace: security}
spec:
  realmName: s`,
		want: []string{"spec.issuerUrl", "Required value"},
	}, {
		name: "secretless public client",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  clientType: Public
  redirectUris: ["https://spa.example.com/cb"]
  serviceAccount: {name: app}`,
		want: []string{"spec.serviceAccount", "a Public client does not authenticate at all"},
	}, {
		name: "ServiceAccount name that is no name",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: c, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server}
  grantTypes: [client_credentials]
  serviceAccount: {name: "team-b:app"}`,
		want: []string{"spec.serviceAccount.name", "should match"},
	}, {
		name: "service-account issuer over http",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: s, namespace: security}
spec:
  issuerUrl: "https://auth.example.com"
  serviceAccountAuthentication: {issuer: "http://kubernetes.default.svc"}`,
		want: []string{"spec.serviceAccountAuthentication.issuer", "must be an absolute https URL"},
	}, {
		name: "service-account issuer with a trailing slash",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: s, namespace: security}
spec:
  issuerUrl: "https://auth.example.com"
  serviceAccountAuthentication: {issuer: "https://kubernetes.default.svc.cluster.local/"}`,
		want: []string{"spec.serviceAccountAuthentication.issuer", "must not end with /"},
	}, {
		name: "maxTokenAge too long",
		doc: `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: s, namespace: security}
spec:
  issuerUrl: "https://auth.example.com"
  serviceAccountAuthentication: {maxTokenAge: 48h}`,
		want: []string{"spec.serviceAccountAuthentication.maxTokenAge", "between 10m and 24h"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, c.doc, c.want...) })
	}
}

// assertRefused creates doc server-side (dry run) and wants an Invalid
// error whose message holds every want (the field path and the reason).
func assertRefused(t *testing.T, doc string, want ...string) {
	t.Helper()
	err := k8s.Create(context.Background(), parse(t, doc), client.DryRunAll)
	if err == nil {
		t.Fatal("the API server accepted nonsense")
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v", err)
	}
	t.Logf("refused: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q:\n%v", w, err)
		}
	}
}

// Fields that identify the object in Keycloak cannot change after creation.
func TestIdentifyingFieldsAreImmutable(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	ctx := context.Background()

	ac := parse(t, client0)
	ac.SetName("immutable-client")
	if err := unstructured.SetNestedField(ac.Object, "team-a.app", "spec", "clientId"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, ac) })
	_ = unstructured.SetNestedField(ac.Object, "team-b.app", "spec", "clientId")
	err := k8s.Update(ctx, ac)
	if err == nil || !strings.Contains(err.Error(), "spec.clientId") || !strings.Contains(err.Error(), "cannot be added, changed or removed") {
		t.Fatalf("changing clientId: want a refusal naming spec.clientId, got %v", err)
	}

	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(ac.Object, "other-server", "spec", "authServerRef", "name")
	err = k8s.Update(ctx, ac)
	if err == nil || !strings.Contains(err.Error(), "spec.authServerRef") || !strings.Contains(err.Error(), "cannot be changed") {
		t.Fatalf("moving a client to another AuthServer: want a refusal naming spec.authServerRef, got %v", err)
	}

	as := parse(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: immutable-server, namespace: security}
spec:
  issuerUrl: "https://auth.example.com"`)
	if err := k8s.Create(ctx, as); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, as) })
	_ = unstructured.SetNestedField(as.Object, "other-realm", "spec", "realmName")
	err = k8s.Update(ctx, as)
	if err == nil || !strings.Contains(err.Error(), "spec.realmName") {
		t.Fatalf("adding realmName after creation: want a refusal naming spec.realmName, got %v", err)
	}
	// Other fields stay editable.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(as.Object, "https://auth2.example.com", "spec", "issuerUrl")
	if err := k8s.Update(ctx, as); err != nil {
		t.Fatalf("changing issuerUrl must be allowed: %v", err)
	}
}

// Defaults land at admission, so `kubectl get -o yaml` shows what the operator will do.
func TestDefaults(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "my-app-dev")
	ac := parse(t, client0)
	if err := k8s.Create(context.Background(), ac, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"clientType": "Confidential"} {
		if got, _, _ := unstructured.NestedString(ac.Object, "spec", field); got != want {
			t.Errorf("spec.%s defaulted to %q, want %q", field, got, want)
		}
	}
	// Unset, so that it can mean Delete for a created client and Orphan for
	// an adopted one (AuthClient.EffectiveDeletionPolicy).
	if got, found, _ := unstructured.NestedString(ac.Object, "spec", "deletionPolicy"); found {
		t.Errorf("AuthClient spec.deletionPolicy defaulted to %q, want it left unset", got)
	}
	as := parse(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: defaults, namespace: my-app-dev}
spec:
  issuerUrl: "https://auth.example.com"`)
	if err := k8s.Create(context.Background(), as, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(as.Object, "spec", "deletionPolicy"); got != "Orphan" {
		t.Errorf("AuthServer spec.deletionPolicy defaulted to %q, want Orphan (never delete a realm by default)", got)
	}
}
