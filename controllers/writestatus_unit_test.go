package controllers

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// What writeStatus remembers of an AuthServer decides whether the next
// reconcile reads it afresh: a status write that failed, or a reconcile
// that lost a race (a conflict from a step, or persist finding its copy
// stale), leaves nothing known, so the next copy from the cache counts as
// stale whatever its version; a write that went through records the
// version it left. (A fake client: this tests the bookkeeping; the
// behaviour against a real API server is TestAuthServerStatusFromALaggingCache.)
func TestAuthServerWriteStatusRemembersOnlyWhatItKnows(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := authv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	base := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "platform"}}
	conflict := apierrors.NewConflict(schema.GroupResource{Group: authv1.GroupVersion.Group, Resource: "authservers"}, "s", errors.New("changed"))
	cases := []struct {
		name      string
		patchErr  error // of the status write
		stale     bool  // persist found the copy stale
		reconcile error // the reconcile's own error
		wantErr   bool
		wantStale bool // the copy as written counts as stale next time
	}{
		{name: "written", wantStale: false},
		{name: "write failed", patchErr: errors.New("connection reset"), wantErr: true, wantStale: true},
		{name: "write conflicted", patchErr: conflict, wantErr: true, wantStale: true},
		{name: "a step conflicted", reconcile: conflict, wantErr: true, wantStale: true},
		{name: "persist found the copy stale", stale: true, reconcile: conflict, wantErr: true, wantStale: true},
		{name: "a step failed otherwise", reconcile: errors.New("keycloak down"), wantErr: true, wantStale: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(base.DeepCopy()).WithStatusSubresource(&authv1.AuthServer{}).
				WithInterceptorFuncs(interceptor.Funcs{
					SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
						if c.patchErr != nil {
							return c.patchErr
						}
						return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
					},
				}).Build()
			r := &AuthServerReconciler{Client: k8s}
			as := &authv1.AuthServer{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(base), as); err != nil {
				t.Fatal(err)
			}
			read := as.DeepCopy()
			s := &serverScope{as: as, before: as.DeepCopy(), stale: c.stale}
			as.Status.RealmName = "changed" // something to write
			err := r.writeStatus(context.Background(), s, c.reconcile)
			if (err != nil) != c.wantErr {
				t.Errorf("error %v, want one: %v", err, c.wantErr)
			}
			if got := r.versions.Stale(as); got != c.wantStale {
				t.Errorf("the copy as left (resourceVersion %q) counts as stale: %v, want %v", as.ResourceVersion, got, c.wantStale)
			}
			// In every case something is remembered: the copy as read
			// before the write is no longer taken from the cache as is.
			if !r.versions.Stale(read) {
				t.Errorf("the copy as read (resourceVersion %q) does not count as stale", read.ResourceVersion)
			}
		})
	}
}
