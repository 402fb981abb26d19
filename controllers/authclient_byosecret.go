package controllers

// The admission webhook (internal/admission) runs in the operator's
// process: its SubjectAccessReviews (may the user applying an AuthClient
// get the Secret spec.clientSecretRef names?) need this permission. The
// marker is here because config/rbac is generated from this package.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
