package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/reconciler/check"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The suite runs the real reconcilers in-process against a real
// kube-apiserver (envtest) and a real Keycloak.
var (
	restCfg *rest.Config
	k8s     client.Client
	scheme  = runtime.NewScheme()
	kc      *testbed.Keycloak
	ldapSrv *testbed.LDAP
	// saIssuer is the test API server's service-account issuer, which
	// Keycloak trusts (secretless clients).
	saIssuer *testbed.ServiceAccountIssuer
	// faults sits between every operator the suite starts and the real
	// Keycloak; tests inject failures into chosen operations with it.
	faults = &testbed.Faults{}
	// resync is short so that drift tests do not wait long.
	resync = 2 * time.Second
	// driftInterval > 0 runs drift detection from admin events (driftwatch_test.go).
	driftInterval time.Duration
)

const (
	operatorNS  = "nauthera-system"
	adminSecret = "keycloak-admin"
)

func TestMain(m *testing.M) { testbed.Main(m, runSuite) }

func runSuite(m *testing.M) int {
	// Every log line also goes to capturedLogs while a test records (byosecret_test.go).
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel()), zap.RawZapOpts(uzap.WrapCore(capturedLogs.tee))))
	_ = clientgoscheme.AddToScheme(scheme)
	_ = authv1.AddToScheme(scheme)

	env, issuer, cfg, err := testbed.StartWithServiceAccountIssuer(true)
	if err != nil {
		return testbed.Fail(err)
	}
	saIssuer, restCfg = issuer, cfg
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		return testbed.Fail(err)
	}
	caDir, err := os.MkdirTemp("", "nauthera-apiserver-ca-")
	if err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = os.RemoveAll(caDir) }()
	if err := saIssuer.Publish(env, restCfg, caDir); err != nil {
		return testbed.Fail(fmt.Errorf("publish the service-account issuer: %w", err))
	}
	// Keycloak trusts the API server's CA, as a real one must trust the
	// cluster's to check service-account tokens (a runtime option).
	if kc, err = testbed.StartKeycloakWithEnv("controllers", "KC_TRUSTSTORE_PATHS="+saIssuer.CAFile); err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = kc.Cleanup() }()
	if ldapSrv, err = testbed.StartLDAP("controllers"); err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = ldapSrv.Cleanup() }()

	ctx := context.Background()
	_ = k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}})
	if err := k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: adminSecret, Namespace: operatorNS},
		StringData: map[string]string{"username": kc.AdminUser, "password": kc.AdminPassword},
	}); err != nil {
		return testbed.Fail(err)
	}
	code := m.Run()
	opMu.Lock()
	if current != nil {
		current.stop()
		current = nil
	}
	opMu.Unlock()
	return code
}

// zapLevel keeps the operator's logs quiet unless NAUTHERA_TEST_LOGS is set.
func zapLevel() zapcore.Level {
	if os.Getenv("NAUTHERA_TEST_LOGS") != "" {
		return -1
	}
	return 2
}

func integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs envtest and Keycloak (run without -short)")
	}
}

// operator is a running manager with both reconcilers and its own metrics.
type operator struct {
	metrics *keycloak.Metrics
	// cache is the manager's informer cache, which the reconcilers' watches
	// read: once it shows a change, the watches have been told of it.
	cache client.Reader
	stop  func()
}

func startOperator(t testing.TB) *operator {
	t.Helper()
	return startOperatorWith(t, connection.Defaults{URL: kc.URL, CredentialsSecret: types.NamespacedName{Namespace: operatorNS, Name: adminSecret}})
}

// startOperatorWith starts an operator whose default Keycloak login is
// defaults (TestPasswordless* log in without a password).
func startOperatorWith(t testing.TB, defaults connection.Defaults) *operator {
	t.Helper()
	// The operator's Kubernetes requests pass the fault injector too.
	cfg := rest.CopyConfig(restCfg)
	cfg.WrapTransport = faults.WrapKubernetes
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// Tests start several managers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := keycloak.NewMetrics()
	conns := &connection.Resolver{
		Reader:   mgr.GetAPIReader(),
		Pool:     &keycloak.Pool{Metrics: m, WrapTransport: faults.Wrap, ServerInfoTTL: serverInfoTTL},
		Defaults: defaults,
		Tokens:   connection.ServiceAccountTokens{Client: kubernetes.NewForConfigOrDie(cfg)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.SetupIndexes(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	var drift *controllers.DriftWatch
	if driftInterval > 0 {
		drift = controllers.NewDriftWatch(mgr.GetClient(), conns, driftInterval)
		if err := drift.SetupWithManager(mgr); err != nil {
			t.Fatal(err)
		}
	}
	if err := (&controllers.AuthServerReconciler{
		Client: mgr.GetClient(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"), Drift: drift,
		Resync: resync, MaxConcurrentReconciles: 2, MaxBackoff: 2 * time.Second,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.AuthClientReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"), Drift: drift,
		Resync: resync, MaxConcurrentReconciles: 4, MaxBackoff: 2 * time.Second,
		RestartWorkloads: true,
	}).SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.UserStoreReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("nauthera"), MaxConcurrentReconciles: 2,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.AuthPolicyReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("nauthera"), MaxConcurrentReconciles: 2,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	op := &operator{metrics: m, cache: mgr.GetCache()}
	op.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	return op
}

// cacheShows waits until the manager's cache holds obj (by key) in a state
// that satisfies ok: the positive sign that the operator's watches have
// seen a change, before a check that the change cost nothing.
func cacheShows[T client.Object](t *testing.T, obj T, what string, ok func(T) bool) {
	t.Helper()
	op := theOperator(t)
	cached := obj.DeepCopyObject().(T)
	eventually(t, 30*time.Second, "the operator's cache shows "+what, func() error {
		if err := op.cache.Get(context.Background(), client.ObjectKeyFromObject(obj), cached); err != nil {
			return err
		}
		if !ok(cached) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

// writes counts the write requests (POST, PUT, DELETE) the operator sent to
// Keycloak's admin API, leaving out token requests.
func (o *operator) writes() int {
	return o.count(func(op, method string) bool { return method != "GET" && !strings.HasPrefix(op, "token.") })
}

// calls counts requests for one operation.
func (o *operator) calls(operation string) int {
	return o.count(func(op, _ string) bool { return op == operation })
}

func (o *operator) count(match func(op, method string) bool) int {
	return testbed.KeycloakRequests(o.metrics, func(l map[string]string) bool { return match(l["operation"], l["method"]) })
}

// console plays a person in the Keycloak admin console.
func console(t testing.TB) (*gocloak.GoCloak, string) { return kc.Console(t) }

func ensureNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// apply creates an object from YAML and deletes it when the test ends.
func apply(t testing.TB, doc string, obj client.Object) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("bad YAML: %v", err)
	}
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	testbed.Eventually(t, timeout, what, f)
}

// waitReady waits for obj's Ready condition to have the given status and reason.
func waitReady(t testing.TB, obj client.Object, status metav1.ConditionStatus, reason string, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	eventually(t, timeout, fmt.Sprintf("%T %s Ready=%s/%s", obj, obj.GetName(), status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *authv1.AuthClient:
			conds = o.Status.Conditions
		case *authv1.AuthServer:
			conds = o.Status.Conditions
		}
		cond = meta.FindStatusCondition(conds, authv1.ReadyCondition)
		if cond == nil || cond.Status != status || cond.Reason != reason {
			return fmt.Errorf("Ready is %+v", cond)
		}
		return nil
	})
	assertConditions(t, obj)
	return cond
}

// assertConditions fails the test if obj's conditions break an invariant
// (Ready, Reconciling, Stalled and observedGeneration disagree). Every wait
// for an object calls it on what it read.
func assertConditions(t testing.TB, obj client.Object) {
	t.Helper()
	o, ok := obj.(check.Object)
	if !ok {
		return
	}
	if err := check.Conditions(o); err != nil {
		t.Errorf("%T %s/%s breaks the condition invariants: %v\nconditions: %+v", obj, obj.GetNamespace(), obj.GetName(), err, o.GetConditions())
	}
}

// warningEvent waits for a Warning Event with this reason about obj and returns its note.
func warningEvent(t testing.TB, obj client.Object, reason string) string {
	t.Helper()
	var note string
	eventually(t, 10*time.Second, "Warning Event "+reason+" on "+obj.GetName(), func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Reason == reason && e.Type == corev1.EventTypeWarning {
				note = e.Note
				return nil
			}
		}
		return fmt.Errorf("none among %d events", len(list.Items))
	})
	return note
}

func secretOf(t testing.TB, namespace, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// printerColumn is the additional printer column called name of the CRD
// crdName (its first version that has one), as the API server serves it;
// nil if there is none.
func printerColumn(t testing.TB, crdName, name string) map[string]any {
	t.Helper()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: crdName}, crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		cols, _, _ := unstructured.NestedSlice(v.(map[string]any), "additionalPrinterColumns")
		for _, c := range cols {
			if col := c.(map[string]any); col["name"] == name {
				return col
			}
		}
	}
	return nil
}
