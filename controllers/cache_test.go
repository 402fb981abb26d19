package controllers_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// The manager's cache (CacheOptions) keeps objects without their
// managedFields, which nothing in the operator reads: an AuthClient and a
// Secret of the operator's label carry them on the API server, not in the
// cache.
func TestCacheHoldsNoManagedFields(t *testing.T) {
	integration(t)
	ensureNamespace(t, "team-mf", nil)
	ctx := context.Background()
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-mf", "app", "no-such-server", ""), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-mf", Name: "labelled",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "nauthera"}},
		StringData: map[string]string{"k": "v"},
	}
	if err := k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, secret) })
	for _, obj := range []client.Object{ac, secret} {
		if len(obj.GetManagedFields()) == 0 {
			t.Fatalf("%T %s has no managedFields on the API server: the check below could not fail", obj, obj.GetName())
		}
		cached := obj.DeepCopyObject().(client.Object)
		eventually(t, 30*time.Second, "the operator's cache holds "+obj.GetName(), func() error {
			return theOperator(t).cache.Get(ctx, client.ObjectKeyFromObject(obj), cached)
		})
		if mf := cached.GetManagedFields(); len(mf) != 0 {
			t.Errorf("the cached %T %s holds %d managedFields entries", obj, obj.GetName(), len(mf))
		}
	}
}
