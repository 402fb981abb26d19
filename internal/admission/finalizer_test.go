package admission_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// finalizerLabel marks the namespaces where this suite's API server calls
// the finalizer webhook (TestMain): a namespace without it stands for a
// cluster whose webhook is off.
const finalizerLabel = "nauthera-test/finalizer-webhook"

func finalizerNS(t *testing.T, name string, webhook bool) {
	t.Helper()
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if webhook {
		n.Labels = map[string]string{finalizerLabel: "true"}
	}
	if err := apiClient.Create(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func finalizerClient(ns, name string, finalizers ...string) *authv1.AuthClient {
	return &authv1.AuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers},
		Spec: authv1.AuthClientSpec{
			// No such AuthServer: the reconciler below stops at it, after
			// the finalizer, and needs no Keycloak.
			AuthServerRef: authv1.ObjectReference{Name: "absent", Namespace: "security"},
			RedirectURIs:  []string{"https://" + name + ".example.com/cb"},
		},
	}
}

// An AuthClient is stored with the operator's finalizer: the create
// response holds it, before any reconciler has seen the object. Finalizers
// of others are kept, in their order; one already there is not doubled.
func TestFinalizerAtAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	finalizerNS(t, "finalizer-on", true)
	for _, tc := range []struct {
		name       string
		finalizers []string
		want       []string
	}{
		{"none", nil, []string{reconciler.Finalizer}},
		{"others", []string{"example.com/a", "example.com/b"}, []string{"example.com/a", "example.com/b", reconciler.Finalizer}},
		{"ours", []string{reconciler.Finalizer}, []string{reconciler.Finalizer}},
	} {
		ac := finalizerClient("finalizer-on", "fin-"+tc.name, tc.finalizers...)
		// The typed client decodes the create response into ac.
		if err := apiClient.Create(context.Background(), ac); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ac.Finalizers, tc.want) {
			t.Errorf("%s: created with finalizers %v, want %v", tc.name, ac.Finalizers, tc.want)
		}
		// Nothing else of the object changed: the spec is as sent.
		if got := ac.Spec.RedirectURIs; len(got) != 1 || got[0] != "https://fin-"+tc.name+".example.com/cb" {
			t.Errorf("%s: spec changed at admission: %v", tc.name, got)
		}
	}
	// A dry run shows the finalizer too, and stores nothing.
	dry := finalizerClient("finalizer-on", "fin-dry")
	if err := apiClient.Create(context.Background(), dry, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Finalizers, []string{reconciler.Finalizer}) {
		t.Errorf("dry-run create: finalizers %v", dry.Finalizers)
	}
}

// With the webhook, the reconciler finds the finalizer in place and writes
// no patch of the AuthClient for it; without the webhook (a namespace it
// does not cover), the reconciler adds the finalizer itself, with one
// patch, before anything else: deletion stays guarded either way.
func TestFinalizerPatchesWithAndWithoutWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	finalizerNS(t, "finalizer-webhook", true)
	finalizerNS(t, "finalizer-nowebhook", false)
	faults := &testbed.Faults{}
	startReconciler(t, faults)

	patches := func(ac *authv1.AuthClient) int {
		path := fmt.Sprintf("/namespaces/%s/authclients/%s", ac.Namespace, ac.Name)
		return faults.Requests(path, "PATCH", "PUT") - faults.Requests(path+"/status", "PATCH", "PUT")
	}
	for _, tc := range []struct {
		ns      string
		patches int
	}{{"finalizer-webhook", 0}, {"finalizer-nowebhook", 1}} {
		ac := finalizerClient(tc.ns, "app")
		if err := apiClient.Create(context.Background(), ac); err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(ac.Finalizers, reconciler.Finalizer); got != (tc.patches == 0) {
			t.Errorf("%s: finalizer in the create response: %v", tc.ns, got)
		}
		// The reconcile is over once it reported on the client (its
		// AuthServer is missing): the finalizer step came before.
		testbed.Eventually(t, 60*time.Second, tc.ns+": the reconciler reports on the client", func() error {
			if err := apiClient.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(ac.Status.Conditions, authv1.ReadyCondition); c == nil || c.Reason != authv1.ReasonAuthServerNotFound {
				return fmt.Errorf("Ready condition %v", c)
			}
			return nil
		})
		if !slices.Equal(ac.Finalizers, []string{reconciler.Finalizer}) {
			t.Errorf("%s: finalizers %v, want the operator's once", tc.ns, ac.Finalizers)
		}
		if got := patches(ac); got != tc.patches {
			t.Errorf("%s: %d patches of the AuthClient (not its status), want %d", tc.ns, got, tc.patches)
		}
	}
}

// startReconciler runs the real AuthClient reconciler against this suite's
// API server, its Kubernetes requests counted by faults, until the test ends.
func startReconciler(t *testing.T, faults *testbed.Faults) {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.WrapTransport = faults.WrapKubernetes
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 apiClient.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.SetupIndexes(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.AuthClientReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("nauthera"),
		Connections: &connection.Resolver{Reader: mgr.GetAPIReader(), Pool: &keycloak.Pool{}},
		Resync:      time.Hour, MaxConcurrentReconciles: 2, MaxBackoff: time.Second,
	}).SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}
