package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nauthera/nauthera/pkg/desired"
)

// CacheOptions restricts the manager's Secret informer to the Secrets the
// operator writes, so it never holds every Secret of the cluster in memory.
// Admin credential Secrets are read through the API reader instead. Cached
// objects are kept without their managedFields (one entry per writer and
// subresource: the applier's, the operator's status and finalizer
// patches): the operator never reads them and applies nothing server-side.
func CacheOptions() cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{desired.LabelManagedBy: desired.ManagedByValue})},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}
