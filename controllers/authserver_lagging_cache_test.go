package controllers_test

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// A reconcile that reads the AuthServer from a cache that has not caught
// up with the last reconcile's status write still ends with the status it
// found: here the first reconcile fails (Keycloak answers 503) and writes
// Ready=False; the second, whose cache still holds the copy from before
// (Ready=True), succeeds. A status patch computed from that copy is empty,
// and Ready=False would stay although the realm is fine; the reconciler
// reads such a copy again from the API server (reconciler.Versions).
func TestAuthServerStatusFromALaggingCache(t *testing.T) {
	integration(t)
	ctx := ctrl.LoggerInto(context.Background(), ctrl.Log.WithName("lagging-cache"))
	as := serverWith(t, "as-lagging-cache", "")
	stopOperator()
	t.Cleanup(func() { theOperator(t) })
	key := client.ObjectKeyFromObject(as)
	old := &authv1.AuthServer{}
	if err := k8s.Get(ctx, key, old); err != nil {
		t.Fatal(err)
	}
	var lag atomic.Bool
	var fresh atomic.Int32 // AuthServer reads from the API server
	r := standaloneReconciler(t, nil)
	r.APIReader = interceptor.NewClient(k8sWithWatch(t), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*authv1.AuthServer); ok && k == key {
				fresh.Add(1)
			}
			return c.Get(ctx, k, obj, opts...)
		},
	})
	r.Client = interceptor.NewClient(k8sWithWatch(t), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if cp, ok := obj.(*authv1.AuthServer); ok && k == key && lag.Load() {
				old.DeepCopyInto(cp)
				return nil
			}
			return c.Get(ctx, k, obj, opts...)
		},
	})
	req := ctrl.Request{NamespacedName: key}

	faults.Set("realm.get", testbed.Fault{Status: 503, PathContains: "/realms/as-lagging-cache"})
	_, err := r.Reconcile(ctx, req)
	faults.Set("realm.get", testbed.Fault{})
	if err == nil {
		t.Fatal("the reconcile with Keycloak answering 503 succeeded")
	}
	if c := readyOf(t, key); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("after the failed reconcile: Ready %+v", c)
	}

	if n := fresh.Load(); n != 0 {
		t.Errorf("%d reads from the API server in a reconcile with nothing remembered", n)
	}

	lag.Store(true)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if c := readyOf(t, key); c == nil || c.Status != metav1.ConditionTrue || c.Reason != authv1.ReasonRealmProvisioned {
		t.Fatalf("after a successful reconcile from the lagging copy: Ready %+v", c)
	}
	if n := fresh.Load(); n != 1 {
		t.Errorf("%d reads from the API server for one lagging copy, want 1", n)
	}

	// Steady state: the cache as the last reconcile left it costs no read.
	lag.Store(false)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := fresh.Load(); n != 1 {
		t.Errorf("%d reads from the API server after a reconcile from an up-to-date cache, want still 1", n)
	}
}

// readyOf is the Ready condition of the AuthServer key, read from the API server.
func readyOf(t *testing.T, key client.ObjectKey) *metav1.Condition {
	t.Helper()
	as := &authv1.AuthServer{}
	if err := k8s.Get(context.Background(), key, as); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(as.Status.Conditions, authv1.ReadyCondition)
}

// k8sWithWatch is a client of the suite's API server, for interceptor.
func k8sWithWatch(t *testing.T) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
