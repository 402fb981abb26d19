package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// offlineManager is a manager that is never started: a RESTMapper of fixed
// kinds and an API server address where nothing listens, so that setting up
// indexes and controllers needs no test bed.
func offlineManager(t *testing.T) ctrl.Manager {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := authv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range scheme.AllKnownTypes() {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	mgr, err := ctrl.NewManager(&rest.Config{Host: "http://127.0.0.1:1"}, ctrl.Options{
		Scheme:                 scheme,
		MapperProvider:         func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return mapper, nil },
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// setups are the four reconcilers' SetupWithManager, as cmd/ calls them.
func setups(ctx context.Context) map[string]func(ctrl.Manager) error {
	return map[string]func(ctrl.Manager) error{
		"AuthServer": (&AuthServerReconciler{}).SetupWithManager,
		"AuthClient": func(mgr ctrl.Manager) error { return (&AuthClientReconciler{}).SetupWithManager(ctx, mgr) },
		"UserStore":  (&UserStoreReconciler{}).SetupWithManager,
		"AuthPolicy": (&AuthPolicyReconciler{}).SetupWithManager,
	}
}

// A reconciler started without the shared field indexes refuses to start,
// naming SetupIndexes, instead of watches that would silently map every
// event to nothing. With them, all four start, and SetupIndexes runs once.
func TestSetupWithManagerNeedsTheIndexes(t *testing.T) {
	ctx := context.Background()
	bare := offlineManager(t)
	for kind, setup := range setups(ctx) {
		err := setup(bare)
		if err == nil || !strings.Contains(err.Error(), "SetupIndexes") {
			t.Errorf("%s reconciler without the indexes: want an error naming SetupIndexes, got %v", kind, err)
		}
	}

	mgr := offlineManager(t)
	if err := SetupIndexes(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	for kind, setup := range setups(ctx) {
		if err := setup(mgr); err != nil {
			t.Errorf("%s reconciler after SetupIndexes: %v", kind, err)
		}
	}
	if err := SetupIndexes(ctx, mgr); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a second SetupIndexes on one manager: want an error, got %v", err)
	}
}

// The index extractors: what each index files an object under.
func TestIndexExtractors(t *testing.T) {
	ac := &authv1.AuthClient{}
	ac.Namespace = "team-a"
	ac.Spec.AuthServerRef = authv1.ObjectReference{Name: "corp", Namespace: "security"}
	ac.Spec.Audiences = []authv1.ObjectReference{{Name: "api"}, {Name: "billing", Namespace: "team-b"}}
	if got := authServerRefIndex(ac); len(got) != 1 || got[0] != "security/corp" {
		t.Errorf("authServerRefIndex = %v", got)
	}
	if got := audienceIndex(ac); strings.Join(got, ",") != "team-a/api,team-b/billing" {
		t.Errorf("audienceIndex = %v", got)
	}
	if got := serviceAccountIndex(ac); got != nil {
		t.Errorf("serviceAccountIndex of a client without spec.serviceAccount = %v, want none", got)
	}

	as := &authv1.AuthServer{}
	as.Namespace = "security"
	if got := userStoreRefIndex(as); got != nil {
		t.Errorf("userStoreRefIndex without a userStoreRef = %v, want none", got)
	}
	as.Spec.UserStoreRef = &authv1.ObjectReference{Name: "corporate-ldap"}
	if got := userStoreRefIndex(as); len(got) != 1 || got[0] != "security/corporate-ldap" {
		t.Errorf("userStoreRefIndex = %v", got)
	}
}
