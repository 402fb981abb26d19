package admission_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/admission"
	"github.com/nauthera/nauthera/internal/testbed"
)

// The webhook runs in a real manager behind a real kube-apiserver (envtest
// installs the generated ValidatingWebhookConfiguration and its CA), with
// failurePolicy Fail here so that a webhook that does not answer fails the
// tests instead of letting everything through.
var (
	k8s client.Client
	// warned is k8s with the admission warnings it gets kept in warnings.
	warned   client.Client
	warnings = &warningLog{}
	// apiClient reads and writes the API server directly (no cache).
	apiClient client.WithWatch
	// restConfig is the test API server's admin config (to impersonate users).
	restConfig *rest.Config
)

func TestMain(m *testing.M) { testbed.Main(m, run) }

func run(m *testing.M) int {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = authv1.AddToScheme(scheme)
	env, err := testbed.ControlPlane(true)
	if err != nil {
		return testbed.Fail(err)
	}
	mwc, vwc, err := testbed.WebhookConfigurations()
	if err != nil {
		return testbed.Fail(err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
	}
	// The finalizer webhook only where a test asks for it (finalizer_test.go):
	// the other tests delete and create again AuthClients that no
	// reconciler here would free of a finalizer.
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
		mwc.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{finalizerLabel: "true"}}
	}
	env.WebhookInstallOptions.ValidatingWebhooks = []*admissionv1.ValidatingWebhookConfiguration{vwc}
	env.WebhookInstallOptions.MutatingWebhooks = []*admissionv1.MutatingWebhookConfiguration{mwc}
	cfg, err := testbed.StartControlPlane(env)
	if err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = env.Stop() }()
	wo := env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir}),
	})
	if err != nil {
		return testbed.Fail(err)
	}
	if err := admission.Register(mgr, false); err != nil {
		return testbed.Fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	// Wait until the webhook answers TLS.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", fmt.Sprintf("%s:%d", wo.LocalServingHost, wo.LocalServingPort), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return testbed.Fail(fmt.Errorf("webhook server did not start: %w", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return testbed.Fail(errors.New("cache did not sync"))
	}
	k8s = mgr.GetClient()
	restConfig = cfg
	if apiClient, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme}); err != nil {
		return testbed.Fail(err)
	}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = warnings
	if warned, err = client.New(wcfg, client.Options{Scheme: scheme}); err != nil {
		return testbed.Fail(err)
	}
	return m.Run()
}

func create(t *testing.T, doc string, obj client.Object) error {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("bad YAML: %v", err)
	}
	return k8s.Create(context.Background(), obj)
}

func mustCreate(t *testing.T, doc string, obj client.Object) {
	t.Helper()
	if err := create(t, doc, obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

func ns(t *testing.T, name string) {
	t.Helper()
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func sample(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventuallyRefused retries while the cache has not seen the policy yet.
func eventuallyRefused(t *testing.T, doc string, want ...string) {
	t.Helper()
	var err error
	for i := 0; i < 50; i++ {
		err = create(t, doc, &authv1.AuthClient{})
		if err != nil {
			break
		}
		// Accepted: the cache was behind; remove it and try again.
		obj := &authv1.AuthClient{}
		_ = yaml.Unmarshal([]byte(doc), obj)
		_ = k8s.Delete(context.Background(), obj)
		time.Sleep(100 * time.Millisecond)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want refused as Invalid, got %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal lacks %q:\n%v", w, err)
		}
	}
}

// The spec's policy, AuthServer and AuthClient verbatim: the client is
// admitted; one asking for api:admin is refused with the reconciler's
// message, naming field and policy.
func TestSpecPolicyAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	ns(t, "my-app-dev")
	mustCreate(t, sample(t, "auth_v1alpha1_authpolicy.yaml"), &authv1.AuthPolicy{})
	mustCreate(t, sample(t, "auth_v1alpha1_authserver.yaml"), &authv1.AuthServer{})
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: admin-app, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
  redirectUris: ["https://admin.example.com/cb"]
  scopes: [openid, profile, email, "api:admin"]`,
		`spec.scopes[3]`, `spec.scopes[3] "api:admin" is not allowed by AuthPolicy security/web-apps-policy (allowed: openid, profile, email, api:read, api:write)`)
	mustCreate(t, sample(t, "auth_v1alpha1_authclient.yaml"), &authv1.AuthClient{})

	// A grant the policy forbids, and a public client where a method is required.
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: worker, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
  grantTypes: [client_credentials]`,
		`spec.grantTypes[0] "client_credentials" is not allowed by AuthPolicy security/web-apps-policy`)
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: spa, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
  clientType: Public
  redirectUris: ["https://spa.example.com/cb"]`,
		`spec.clientType`, `requires the client_secret_basic authentication method`)
}

// The clientId rule is decided at admission too, whatever namespaces exist.
func TestClientIDRuleAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "team-a")
	ns(t, "security")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: id-rules, namespace: security}
spec:
  issuerUrl: "https://id-rules.example.com"
  allowedClientIdPrefixes: ["com.example."]`, &authv1.AuthServer{})
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: squat, namespace: team-a}
spec:
  authServerRef: {name: id-rules, namespace: security}
  clientId: team-not-created-yet.web
  redirectUris: ["https://a.example.com/cb"]`, `spec.clientId`, `namespace "team-not-created-yet"`)
	// A prefix the AuthServer allows is fine.
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: reverse-dns, namespace: team-a}
spec:
  authServerRef: {name: id-rules, namespace: security}
  clientId: com.example.app
  redirectUris: ["https://a.example.com/cb"]`, &authv1.AuthClient{})
	// Its own namespace as prefix is fine; a missing AuthServer is a warning,
	// not a refusal (the reconciler decides once it exists).
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: own, namespace: team-a}
spec:
  authServerRef: {name: anything, namespace: security}
  clientId: team-a.portal
  redirectUris: ["https://a.example.com/cb"]`, &authv1.AuthClient{})
}

// A client created before a policy tightened can still be labelled and
// finalized (the operator's own metadata writes), and deleted; a spec edit
// that still breaks the policy is refused. A policy in another namespace
// with the right labels governs nothing.
func TestUpdatesAndForeignPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	ns(t, "team-b")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: tight, namespace: security}
spec:
  issuerUrl: "https://tight.example.com"
  policySelector: {matchLabels: {tier: tight}}`, &authv1.AuthServer{})
	ac := &authv1.AuthClient{}
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: early, namespace: team-b}
spec:
  authServerRef: {name: tight, namespace: security}
  redirectUris: ["https://early.example.com/cb"]
  scopes: [openid, "api:admin"]`, ac)
	// Labelled into force from an app team's namespace: ignored.
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: sneaky, namespace: team-b, labels: {tier: tight}}
spec:
  allowedScopes: [openid]`, &authv1.AuthPolicy{})

	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: tight, namespace: security, labels: {tier: tight}}
spec:
  allowedScopes: [openid, profile]`, &authv1.AuthPolicy{})
	// Wait until the webhook sees the policy: a probe object that breaks it is refused.
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: probe, namespace: team-b}
spec:
  authServerRef: {name: tight, namespace: security}
  redirectUris: ["https://probe.example.com/cb"]
  scopes: [openid, email]`, `AuthPolicy security/tight`)
	// The cache has seen both policies now (sneaky came first): profile is
	// allowed by tight and forbidden by sneaky, which must not count.
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: not-governed-by-sneaky, namespace: team-b}
spec:
  authServerRef: {name: tight, namespace: security}
  redirectUris: ["https://x.example.com/cb"]
  scopes: [openid, profile]`, &authv1.AuthClient{})
	// Metadata writes pass.
	before := ac.DeepCopy()
	ac.Labels = map[string]string{"team": "b"}
	ac.Finalizers = []string{"auth.nauthera.io/finalizer"}
	if err := k8s.Patch(context.Background(), ac, client.MergeFrom(before)); err != nil {
		t.Fatalf("metadata patch of a client that breaks a newer policy: %v", err)
	}
	// A spec edit that keeps the violation the client already had (and
	// one that moves it in the list) passes: only new violations are
	// refused, so a team can still edit, and fix, such a client.
	before = ac.DeepCopy()
	ac.Spec.RedirectURIs = []string{"https://early.example.com/cb2"}
	ac.Spec.Scopes = []string{"api:admin", "openid"}
	if err := k8s.Patch(context.Background(), ac, client.MergeFrom(before)); err != nil {
		t.Fatalf("spec edit that adds no violation: %v", err)
	}
	// One that adds a violation does not, naming only the new one.
	before = ac.DeepCopy()
	ac.Spec.Scopes = []string{"api:admin", "openid", "api:write"}
	err := k8s.Patch(context.Background(), ac, client.MergeFrom(before))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.scopes[2] "api:write" is not allowed by AuthPolicy security/tight`) || strings.Contains(err.Error(), `"api:admin"`) {
		t.Fatalf("spec edit adding a violation: want refused for it alone, got %v", err)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	// Deletion always passes.
	before = ac.DeepCopy()
	ac.Finalizers = nil
	if err := k8s.Patch(context.Background(), ac, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), ac); err != nil {
		t.Fatal(err)
	}
}

// A rotation the schema cannot judge (the gaps of a cron schedule) is
// refused by the webhook, naming the field: a grace period longer than the
// shortest gap, a schedule that never fires. A valid one is admitted.
func TestRotationScheduleAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	policy := func(name, rotation string) string {
		return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: %s, namespace: security}
spec:
  clientAuthentication:
    secretRotation: %s`, name, rotation)
	}
	for _, c := range []struct{ doc, field, msg string }{
		{policy("twice-a-day", `{enabled: true, schedule: "0 9,17 * * *", gracePeriod: 10h}`),
			"spec.clientAuthentication.secretRotation.gracePeriod", `longer than the shortest time between two rotations of schedule "0 9,17 * * *" (8h0m0s)`},
		{policy("feb-30", `{enabled: true, schedule: "0 0 30 2 *"}`),
			"spec.clientAuthentication.secretRotation.schedule", "never fires"},
	} {
		err := create(t, c.doc, &authv1.AuthPolicy{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("want refused as Invalid, got %v", err)
		}
		for _, w := range []string{c.field, c.msg} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refusal lacks %q:\n%v", w, err)
			}
		}
	}
	mustCreate(t, policy("weekdays", `{enabled: true, schedule: "0 2 * * 1-5", gracePeriod: 12h}`), &authv1.AuthPolicy{})
	// A disabled rotation is not judged.
	mustCreate(t, policy("off", `{enabled: false, schedule: "0 0 30 2 *"}`), &authv1.AuthPolicy{})
}

// A secretTemplate that cannot render is refused at admission, naming the key.
func TestSecretTemplateAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "team-tpl")
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: broken, namespace: team-tpl}
spec:
  authServerRef: {name: nowhere, namespace: security}
  redirectUris: ["https://broken.example.com/cb"]
  secretTemplate:
    data:
      SECRET: "{{ .clientSecret }}"`, "spec.secretTemplate", `spec.secretTemplate.data[SECRET]`, `map has no entry for key "clientSecret"`)
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: spa, namespace: team-tpl}
spec:
  authServerRef: {name: nowhere, namespace: security}
  clientType: Public
  redirectUris: ["https://spa.example.com/cb"]
  secretTemplate:
    data:
      SECRET: "{{ .client_secret }}"`, `no entry for key "client_secret"`)
	ns(t, "my-app-dev")
	mustCreate(t, sample(t, "secret-templates/oauth2-proxy.yaml"), &authv1.AuthClient{})

	// Issue 21: 50 keys of nested calls, each copying 64 KiB, cost the
	// webhook 15 s (past the API server's 5 s). Refused at once now, the
	// field named.
	key := `replace "/" "` + strings.Repeat("a", 1000) + `" (replace "/" "////////////////" .issuer_url)`
	for n := 0; len(key)+40 < 4090; n++ {
		key = fmt.Sprintf(`replace "%c" "%c" (%s)`, 'a'+n%2, 'b'-n%2, key)
	}
	var data strings.Builder
	for i := range 50 {
		fmt.Fprintf(&data, "      K%02d: '{{ %s }}'\n", i, key)
	}
	start := time.Now()
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: costly, namespace: team-tpl}
spec:
  authServerRef: {name: nowhere, namespace: security}
  redirectUris: ["https://costly.example.com/cb"]
  secretTemplate:
    data:
`+data.String(), "spec.secretTemplate", "function calls are nested more than 8 deep")
	t.Logf("refused in %s", time.Since(start))
}

// Issue 21 review, item 1: admission renders a template with the scopes
// the policies allow (what the Secret will list), as the reconciler does.
// Here no scopes are asked for, so the policy's allowed defaults
// ("openid") are listed: "pppenid" with each "p" made 40000 bytes is over
// the 64 KiB a value may hold, which the spec's (empty) scopes would hide.
func TestSecretTemplateRenderedWithGovernedScopes(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	ns(t, "team-gsc")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: openid-only, namespace: security, labels: {tier: openid-only}}
spec:
  allowedScopes: [openid]`, &authv1.AuthPolicy{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: openid-only, namespace: security}
spec:
  issuerUrl: "https://openid-only.example.com"
  policySelector: {matchLabels: {tier: openid-only}}`, &authv1.AuthServer{})
	tpl := `{{ replace "p" (replace "x" "` + strings.Repeat("x", 4000) + `" "xxxxxxxxxx") (replace "o" "pp" .scopes) }}`
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: wide, namespace: team-gsc}
spec:
  authServerRef: {name: openid-only, namespace: security}
  grantTypes: [client_credentials]
  secretTemplate:
    data:
      SCOPES: '`+tpl+`'`, "spec.secretTemplate.data[SCOPES]", "replace: the result is over 65536 bytes")
}

// The webhook's render stops with its request: a request whose context
// has ended gets no render.
func TestSecretTemplateRenderStopsWithRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ac := &authv1.AuthClient{}
	ac.Name, ac.Namespace = "stopped", "team-tpl"
	ac.Spec.AuthServerRef.Name = "nowhere"
	ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"K": "{{ upper .client_id }}"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&admission.AuthClientValidator{Reader: k8s}).ValidateCreate(ctx, ac)
	if err == nil || !strings.Contains(err.Error(), "spec.secretTemplate") || !strings.Contains(err.Error(), "render stopped: context canceled") {
		t.Errorf("a render for a request that ended: %v", err)
	}
}

// warningLog keeps the admission warnings the API server relays.
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warningLog) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := strings.Join(w.msgs, "\n")
	w.msgs = nil
	return out
}

// Secretless clients at admission: a policy's service_account_token method
// refuses a client with a secret, and a secret method a secretless client,
// with the reconciler's message. What the AuthServer does not allow (yet)
// is a warning: the AuthServer edit may come in the same sync.
func TestServiceAccountAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	ns(t, "team-sa")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: secretless-only, namespace: security, labels: {tier: secretless}}
spec:
  clientAuthentication: {method: service_account_token}`, &authv1.AuthPolicy{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: secrets-only, namespace: security, labels: {tier: secrets}}
spec:
  clientAuthentication: {method: client_secret_basic}`, &authv1.AuthPolicy{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: workloads, namespace: security}
spec:
  issuerUrl: "https://workloads.example.com"
  policySelector: {matchLabels: {tier: secretless}}
  serviceAccountAuthentication: {}`, &authv1.AuthServer{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: classic, namespace: security}
spec:
  issuerUrl: "https://classic.example.com"
  policySelector: {matchLabels: {tier: secrets}}
  serviceAccountAuthentication: {}`, &authv1.AuthServer{})

	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: with-secret, namespace: team-sa}
spec:
  authServerRef: {name: workloads, namespace: security}
  grantTypes: [client_credentials]`,
		`spec.serviceAccount`, `AuthPolicy security/secretless-only requires service_account_token`)
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: secretless, namespace: team-sa}
spec:
  authServerRef: {name: workloads, namespace: security}
  serviceAccount: {name: app}
  grantTypes: [client_credentials]`, &authv1.AuthClient{})
	eventuallyRefused(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: secretless-classic, namespace: team-sa}
spec:
  authServerRef: {name: classic, namespace: security}
  serviceAccount: {name: app}
  grantTypes: [client_credentials]`,
		`spec.serviceAccount`, `not allowed by AuthPolicy security/secrets-only, which requires the client_secret_basic authentication method`)

	// The default ServiceAccount: admitted with a warning naming the rule.
	warnings.take()
	var ac authv1.AuthClient
	if err := yaml.UnmarshalStrict([]byte(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: as-default, namespace: team-sa}
spec:
  authServerRef: {name: workloads, namespace: security}
  serviceAccount: {name: default}
  grantTypes: [client_credentials]`), &ac); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 10*time.Second, "a warning about the default ServiceAccount", func() error {
		_ = k8s.Delete(context.Background(), ac.DeepCopy())
		if err := warned.Create(context.Background(), ac.DeepCopy()); err != nil {
			return err
		}
		if w := warnings.take(); !strings.Contains(w, `spec.serviceAccount.name "default" is not allowed by AuthServer security/workloads`) || !strings.Contains(w, "ServiceAccountNotAllowed") {
			return fmt.Errorf("warnings %q", w)
		}
		return nil
	})
}

// An AuthServer applied a moment before its clients (one GitOps sync) is
// not in the webhook's cache yet. The webhook then reads it, and its
// policies, from the API server and judges the client as the reconciler
// will, instead of admitting it with a warning. The cache lag is played by
// the real API client with Get of AuthServers answering NotFound.
func TestWebhookJudgesAnAuthServerItsCacheHasNotSeen(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	ns(t, "team-lag")
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: lag-secrets, namespace: security, labels: {tier: lag}}
spec:
  clientAuthentication: {method: client_secret_basic}`, &authv1.AuthPolicy{})
	mustCreate(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: lag, namespace: security}
spec:
  issuerUrl: "https://lag.example.com"
  policySelector: {matchLabels: {tier: lag}}`, &authv1.AuthServer{})
	lagging := interceptor.NewClient(apiClient, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*authv1.AuthServer); ok {
				return apierrors.NewNotFound(schema.GroupResource{Group: authv1.GroupVersion.Group, Resource: "authservers"}, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	spa := &authv1.AuthClient{}
	if err := yaml.UnmarshalStrict([]byte(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: spa, namespace: team-lag}
spec:
  authServerRef: {name: lag, namespace: security}
  clientType: Public
  redirectUris: ["https://spa.example.com/cb"]`), spa); err != nil {
		t.Fatal(err)
	}
	// Reading the cache only, the webhook could not judge: a warning.
	w, err := (&admission.AuthClientValidator{Reader: lagging}).ValidateCreate(context.Background(), spa)
	if err != nil || !strings.Contains(strings.Join(w, "\n"), "does not exist (yet)") {
		t.Fatalf("cache only: want admitted with a warning, got %v, %v", w, err)
	}
	// With the API server behind the cache, it judges as the reconciler does.
	_, err = (&admission.AuthClientValidator{Reader: lagging, APIReader: apiClient}).ValidateCreate(context.Background(), spa)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.clientType: Forbidden: spec.clientType "Public" (no client authentication) is not allowed by AuthPolicy security/lag-secrets`) {
		t.Fatalf("want refused naming spec.clientType and the policy, got %v", err)
	}
}

// A grace period shorter than a kubelet needs to refresh a mounted Secret
// is admitted with a warning naming the field (policy.GraceWarning); a safe
// one without.
func TestShortGracePeriodWarnsAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ns(t, "security")
	for _, c := range []struct{ name, rotation, want string }{
		{"grace-30s", `{enabled: true, schedule: "@every 5m", gracePeriod: 30s}`, "spec.clientAuthentication.secretRotation.gracePeriod: the previous secret stops working 30s after a rotation"},
		{"grace-3m", `{enabled: true, schedule: "@every 5m", gracePeriod: 3m}`, ""},
	} {
		var p authv1.AuthPolicy
		if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: %s, namespace: security}
spec:
  clientAuthentication:
    secretRotation: %s`, c.name, c.rotation)), &p); err != nil {
			t.Fatal(err)
		}
		warnings.take()
		testbed.Eventually(t, 10*time.Second, "admission of "+c.name, func() error {
			_ = k8s.Delete(context.Background(), p.DeepCopy())
			if err := warned.Create(context.Background(), p.DeepCopy()); err != nil {
				return err
			}
			if w := warnings.take(); (c.want == "") != (w == "") || !strings.Contains(w, c.want) {
				return fmt.Errorf("warnings %q, want %q", w, c.want)
			}
			return nil
		})
	}
}

// A webhook that cannot read the AuthServer (here a read error) admits the
// client with a warning by default, and refuses it, saying why, when it
// fails closed (--webhook-fail-closed, set by the chart with
// failurePolicy Fail).
func TestWebhookFailsClosedWhenItCannotRead(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	broken := interceptor.NewClient(apiClient, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*authv1.AuthServer); ok {
				return apierrors.NewServiceUnavailable("etcd is away")
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "team-b"}}
	ac.Spec.AuthServerRef.Name, ac.Spec.AuthServerRef.Namespace = "tight", "security"
	open := &admission.AuthClientValidator{Reader: broken, APIReader: broken}
	w, err := open.ValidateCreate(context.Background(), ac)
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "could not be checked at admission") {
		t.Errorf("fail open: warnings %v, err %v", w, err)
	}
	closed := &admission.AuthClientValidator{Reader: broken, APIReader: broken, FailClosed: true}
	if _, err := closed.ValidateCreate(context.Background(), ac); err == nil || !strings.Contains(err.Error(), "fails closed") || !strings.Contains(err.Error(), "security/tight") {
		t.Errorf("fail closed: err %v", err)
	}
}
