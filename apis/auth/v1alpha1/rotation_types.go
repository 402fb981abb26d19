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
	// operator.restartWorkloads).
	AnnotationRestartOnRotation = "auth.nauthera.io/restart-on-rotation"
	// AnnotationSecretHash on a pod template identifies the credentials it
	// was last restarted for (an HMAC of the secret keyed with the
	// AuthClient's UID, 64 bits; for a secret from spec.clientSecretRef
	// keyed with the referenced Secret's UID as well, so that readers of
	// the AuthClient cannot test guesses of it). Changing it rolls the pods.
	AnnotationSecretHash = "auth.nauthera.io/secret-hash"
)

// Reasons and conditions of secret rotation.
const (
	// ReasonSecretRotated (Event): the client secret was rotated.
	ReasonSecretRotated = "SecretRotated"
	// ReasonPreviousSecretRevoked (Event): the previous secret's grace period was ended early.
	ReasonPreviousSecretRevoked = "PreviousSecretRevoked"
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
// will do. lastScheduledSlot, lastRequest, lastRevokeRequest and pending
// are the operator's record of what it has acted upon, so that a rotation
// happens once per slot or request, also across operator restarts.
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

	// lastRotationReason is why: Scheduled, Requested, or Expiring (the
	// secret would have expired before the next slot, e.g. after the
	// schedule changed to a longer one).
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

	// pending is a rotation the operator started: written before it asks
	// Keycloak, so that after an interruption it can tell, from Keycloak's
	// record of the secret's creation, whether the rotation happened
	// (completed, not repeated) or not (made then).
	// +optional
	Pending *PendingRotation `json:"pending,omitempty"`

	// lastRevokeRequest is the value of the revoke-previous-secret
	// annotation last acted upon.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastRevokeRequest string `json:"lastRevokeRequest,omitempty"`

	// restartedWorkloadsFor identifies the credentials the opted-in
	// workloads were last restarted for (with --restart-workloads): the
	// value of the auth.nauthera.io/secret-hash pod-template annotation.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RestartedWorkloadsFor string `json:"restartedWorkloadsFor,omitempty"`
}

// PendingRotation is a rotation in flight.
type PendingRotation struct {
	// id names this rotation; the Secret records it when it gets the new
	// secret (annotation auth.nauthera.io/rotation).
	// +required
	// +kubebuilder:validation:MaxLength=32
	ID string `json:"id"`

	// reason is Scheduled, Requested or Expiring.
	// +required
	Reason string `json:"reason"`

	// slot is the schedule slot it serves (Scheduled).
	// +optional
	Slot *metav1.Time `json:"slot,omitempty"`

	// request is the rotate-secret value it serves (Requested).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Request string `json:"request,omitempty"`

	// since is when it started.
	// +required
	Since metav1.Time `json:"since"`

	// secretCreatedBefore is Keycloak's client.secret.creation.time (epoch
	// seconds) before the rotation: a different value afterwards means
	// Keycloak rotated.
	// +optional
	// +kubebuilder:validation:MaxLength=20
	SecretCreatedBefore string `json:"secretCreatedBefore,omitempty"`

	// attempts counts the times the operator asked Keycloak for it.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// secretSynced says the Secret held Keycloak's secret when the rotation
	// started: a different secret in Keycloak afterwards means it rotated.
	// +optional
	SecretSynced bool `json:"secretSynced,omitempty"`
}

// RealmRotationStatus is the secret rotation an AuthServer has set up in
// its realm (a Keycloak client policy with the secret-rotation executor).
type RealmRotationStatus struct {
	// policy is the AuthPolicy (namespace/name) it comes from.
	// +required
	Policy string `json:"policy"`

	// schedule is the policy's schedule.
	// +required
	Schedule string `json:"schedule"`

	// gracePeriodSeconds is how long a previous secret stays valid.
	// +required
	GracePeriodSeconds int64 `json:"gracePeriodSeconds"`

	// expirationSeconds is how long a secret lives unless rotated: the
	// longest gap of the schedule plus slack for an operator outage (the
	// longest gap again, at least 24h). Keycloak never rotates on its own:
	// if the operator misses rotations for longer, secrets stop working.
	// +required
	ExpirationSeconds int64 `json:"expirationSeconds"`
}
