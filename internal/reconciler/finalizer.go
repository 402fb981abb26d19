package reconciler

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Finalizer guards the Keycloak objects of Nauthera's kinds.
const Finalizer = "auth.nauthera.io/finalizer"

// AddFinalizer adds the finalizer with a merge patch of metadata.finalizers
// alone. A full Update of the typed object would send back every field as
// this version of the operator knows it: empty lists marked omitempty
// (grantTypes: []) and fields it does not know would be dropped, and the
// changed object could fail the CRD's own validation. The patch carries the
// resourceVersion, so a concurrent change to the finalizers is not lost:
// the conflict is retried.
func AddFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, Finalizer)
	return c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// RemoveFinalizer removes the finalizer with a patch, like AddFinalizer.
// An object already gone is not an error.
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, Finalizer)
	err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
