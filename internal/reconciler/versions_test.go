package reconciler

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestVersionsTellsAStaleCopy(t *testing.T) {
	var v Versions
	at := func(rv string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", ResourceVersion: rv}}
	}
	if v.Stale(at("1")) {
		t.Error("an object never reconciled is stale")
	}
	v.Seen(at("7")) // the reconcile's own status write answered 7
	if !v.Stale(at("6")) {
		t.Error("the cache's copy from before the write (6) is not stale")
	}
	if v.Stale(at("7")) {
		t.Error("the cache holding the write (7) is stale")
	}
	if !v.Stale(at("8")) {
		t.Error("a copy changed by someone else since (8) is not read again")
	}
	v.Invalidate(client.ObjectKeyFromObject(at("")))
	if !v.Stale(at("7")) {
		t.Error("after a failed write the copy is not read again")
	}
	v.Forget(client.ObjectKeyFromObject(at("")))
	if v.Stale(at("6")) {
		t.Error("a forgotten object is stale")
	}
}

// Current reads a stale copy again from the API server into a new object
// (a field the fresh copy omits is not kept from the cached one), and
// forgets an object that is gone.
func TestCurrentReadsAStaleCopyAfresh(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	cached := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", Labels: map[string]string{"gone": "since"}}}
	// Decodes into the object it is given, as the REST client does (the
	// fake client alone would hand over a new copy either way).
	apiServer := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}).Build(), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			stored := &corev1.Secret{}
			if err := c.Get(ctx, key, stored, opts...); err != nil {
				return err
			}
			raw, err := json.Marshal(stored)
			if err != nil {
				return err
			}
			return json.Unmarshal(raw, obj)
		},
	})
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(cached).Build()
	newSecret := func() *corev1.Secret { return &corev1.Secret{} }
	var v Versions

	got, err := Current(context.Background(), &v, cache, apiServer, key, newSecret)
	if err != nil || got == nil || got.Labels["gone"] != "since" {
		t.Fatalf("nothing remembered: got %+v (%v), want the cache's copy", got, err)
	}
	v.Invalidate(key)
	got, err = Current(context.Background(), &v, cache, apiServer, key, newSecret)
	if err != nil || got == nil {
		t.Fatalf("stale: got %+v (%v)", got, err)
	}
	if _, kept := got.Labels["gone"]; kept {
		t.Errorf("the fresh copy kept the cached copy's label: %v", got.Labels)
	}

	if err := apiServer.Delete(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	got, err = Current(context.Background(), &v, cache, apiServer, key, newSecret)
	if err != nil || got != nil {
		t.Fatalf("gone: got %+v (%v), want nil, nil", got, err)
	}
	if v.Stale(cached) {
		t.Error("a gone object is still remembered")
	}
}
