package reconciler

import (
	"sync"

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
