package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations people put on objects to ask Nauthera for something once.
// A new value asks again; the value last acted upon is kept in status.
const (
	// AnnotationRotateSecret on an AuthClient rotates its client secret once
	// per new value, e.g. `kubectl annotate authclient my-webapp
	// auth.nauthera.io/rotate-secret=$(date +%s) --overwrite`. Under a
	// rotation policy the previous secret stays valid for the policy's
	// gracePeriod; without one it stops working at once.
	AnnotationRotateSecret = "auth.nauthera.io/rotate-secret"
	// AnnotationRevokePreviousSecret on an AuthClient ends the grace period
	// of its previous secret now (a leaked secret must stop working), once
	// per new value.
	AnnotationRevokePreviousSecret = "auth.nauthera.io/revoke-previous-secret"
	// AnnotationRestartOnRotation on a Deployment or StatefulSet names the
	// AuthClients (comma-separated, same namespace) whose new credentials
	// restart it: the operator sets AnnotationSecretHash on its pod template.
	// Needs the operator's --restart-workloads flag (chart value
	// rotation.restartWorkloads).
	AnnotationRestartOnRotation = "auth.nauthera.io/restart-on-rotation"
	// AnnotationSecretHash on a pod template is a short hash of the
	// credentials it was last restarted for. Changing it rolls the pods.
	AnnotationSecretHash = "auth.nauthera.io/secret-hash"
)

// Reasons and conditions of secret rotation.
const (
	// ReasonSecretRotated (Event): the client secret was rotated.
	ReasonSecretRotated = "SecretRotated"
	// ReasonPreviousSecretRevoked (Event): the previous secret's grace period was ended early.
	ReasonPreviousSecretRevoked = "PreviousSecretRevoked"
	// ReasonRotationPending: the AuthServer has not yet set up rotation in its realm.
	ReasonRotationPending = "RotationPending"
	// SecretRotationCondition on an AuthServer says whether its realm is set
	// up to rotate the secrets of the clients its policies rotate.
	SecretRotationCondition = "SecretRotationReady"
	// ReasonRotationConfigured: the realm's client policy for rotation is in place.
	ReasonRotationConfigured = "RotationConfigured"
	// ReasonRotationUnsupported: this Keycloak cannot rotate secrets with a
	// grace period (the client-secret-rotation feature is off or missing).
	ReasonRotationUnsupported = "RotationUnsupported"
	// ReasonRotationDisabled: no selected policy enables rotation.
	ReasonRotationDisabled = "RotationDisabled"
)

// SecretRotationStatus is what an AuthClient's secret rotation has done and
// will do. The fields that end in Request, and lastScheduledSlot, are the
// operator's record of what it has acted upon, so that a rotation happens
// once per slot or request, also across operator restarts.
type SecretRotationStatus struct {
	// policy is the AuthPolicy (namespace/name) whose schedule rotates the
	// secret; empty when no policy rotates it.
	// +optional
	Policy string `json:"policy,omitempty"`

	// schedule is that policy's schedule, in UTC.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// lastRotationTime is when the secret was last rotated by Nauthera.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// lastRotationReason is why: Scheduled or Requested.
	// +optional
	LastRotationReason string `json:"lastRotationReason,omitempty"`

	// previousSecretValidUntil is when the previous secret stops working
	// (Keycloak's record); absent when there is no previous secret.
	// +optional
	PreviousSecretValidUntil *metav1.Time `json:"previousSecretValidUntil,omitempty"`

	// nextRotationTime is when the next scheduled rotation is due.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// lastScheduledSlot is the latest schedule slot already served.
	// +optional
	LastScheduledSlot *metav1.Time `json:"lastScheduledSlot,omitempty"`

	// lastRequest is the value of the rotate-secret annotation last acted
	// upon (a long value is kept as its SHA-256).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastRequest string `json:"lastRequest,omitempty"`

	// pendingRequest is a rotate-secret value being acted upon since
	// pendingSince: if the operator stops half-way, Keycloak's record of the
	// secret's creation tells whether the rotation happened.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	PendingRequest string `json:"pendingRequest,omitempty"`

	// pendingSince is when pendingRequest was taken up.
	// +optional
	PendingSince *metav1.Time `json:"pendingSince,omitempty"`

	// lastRevokeRequest is the value of the revoke-previous-secret
	// annotation last acted upon.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastRevokeRequest string `json:"lastRevokeRequest,omitempty"`

	// restartedWorkloadsFor is a short hash of the credentials the opted-in
	// workloads were last restarted for (with --restart-workloads).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RestartedWorkloadsFor string `json:"restartedWorkloadsFor,omitempty"`
}

// RealmRotationStatus is the secret rotation an AuthServer has set up in
// its realm (a Keycloak client policy with the secret-rotation executor).
type RealmRotationStatus struct {
	// policy is the AuthPolicy (namespace/name) it comes from.
	Policy string `json:"policy"`

	// schedule is the policy's schedule.
	Schedule string `json:"schedule"`

	// gracePeriodSeconds is how long a previous secret stays valid.
	GracePeriodSeconds int64 `json:"gracePeriodSeconds"`

	// expirationSeconds is how long a secret lives unless rotated: the
	// longest gap of the schedule plus slack for an operator outage (the
	// longest gap again, at least 24h). Keycloak never rotates on its own:
	// if the operator misses rotations for longer, secrets stop working.
	ExpirationSeconds int64 `json:"expirationSeconds"`
}
