// Package v1alpha1 contains the API types of the auth.nauthera.io group:
// AuthServer, AuthClient, AuthPolicy and UserStore.
//
// +kubebuilder:object:generate=true
// +groupName=auth.nauthera.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "auth.nauthera.io", Version: "v1alpha1"}

	// schemeBuilder registers the types of this package with a
	// runtime.Scheme. apimachinery's builder, not controller-runtime's
	// (deprecated: an API package should depend on apimachinery only).
	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = schemeBuilder.AddToScheme

	// objectTypes are the kinds of this package; each types file adds its own.
	objectTypes = []runtime.Object{}
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, objectTypes...)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
