package reconciler

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Versions remembers, per object, the resourceVersion a reconcile last
// left it at (its own status write, or the copy it read). A reconcile that
// starts before the cache has the controller's own last write reads a copy
// whose status is the one before that write: a status patch computed from
// that copy can come out empty and leave the earlier status in place (a
// Ready=False that the new reconcile found fixed). It happens when a
// reconcile is asked for again within milliseconds of the last one (a
// kick from another object's reconcile). Stale tells such a reconcile to
// read the object from the API server instead; in steady state the cache
// holds the remembered version and nothing more is read.
//
// The zero value is ready to use.
type Versions struct {
	m sync.Map // types.NamespacedName -> string
}

// Stale reports whether obj, as read from the cache, is not at the
// version this controller last left it at (its own write not seen yet, or
// someone else's since). Unknown objects are not stale.
func (v *Versions) Stale(obj client.Object) bool {
	last, ok := v.m.Load(client.ObjectKeyFromObject(obj))
	return ok && last.(string) != obj.GetResourceVersion()
}

// Seen records obj's resourceVersion as the one this controller left it at.
func (v *Versions) Seen(obj client.Object) {
	v.m.Store(client.ObjectKeyFromObject(obj), obj.GetResourceVersion())
}

// Invalidate makes the next reconcile of key read the object from the API
// server: a write failed (it may still have been applied) or conflicted,
// so nothing is known of the version the object is at.
func (v *Versions) Invalidate(key types.NamespacedName) {
	v.m.Store(key, "")
}

// Forget drops what was recorded of a deleted object.
func (v *Versions) Forget(key types.NamespacedName) {
	v.m.Delete(key)
}

// Current reads the object key from cache, and again from api when that
// copy is Stale. The zero T (nil) with a nil error: the object is gone,
// and forgotten. The fresh read goes into a new object: decoding into the
// cached copy would keep what the fresh one omits (a status field set to
// nil since). A nil api reads the cache only.
func Current[T client.Object](ctx context.Context, v *Versions, cache, api client.Reader, key types.NamespacedName, newObj func() T) (T, error) {
	var none T
	obj := newObj()
	err := cache.Get(ctx, key, obj)
	if err == nil && v.Stale(obj) && api != nil {
		obj = newObj()
		err = api.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		v.Forget(key)
		return none, nil
	}
	if err != nil {
		return none, err
	}
	return obj, nil
}

// Record notes how a reconcile left obj: its status write failed
// (writeErr; perhaps applied all the same) or the reconcile lost a race
// (a conflict in reconcileErr): nothing is known, the next reconcile reads
// afresh; else the version obj is at now.
func (v *Versions) Record(obj client.Object, writeErr, reconcileErr error) {
	if writeErr != nil || apierrors.IsConflict(reconcileErr) {
		v.Invalidate(client.ObjectKeyFromObject(obj))
		return
	}
	v.Seen(obj)
}
