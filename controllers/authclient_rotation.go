package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// Secret rotation of one AuthClient. Keycloak does the rotating (its
// client policy, set up by the AuthServer, keeps the previous secret valid
// for the grace period); the operator decides when, and keeps what it has
// acted upon in status, never in memory, so that a slot or a request
// rotates once also across restarts:
//
//   - a schedule slot is served when it is later than lastScheduledSlot;
//     if Keycloak's record of the secret's creation is already at or after
//     the slot, an earlier attempt rotated and was interrupted before
//     writing the Secret: that rotation is completed, not repeated.
//   - a rotate-secret request is recorded as pending (written to the API
//     server) before the regenerate, and judged the same way after a restart.
//
// Rotations Keycloak makes on its own (an update of a client whose secret
// expired) are not ours: the read-back of every reconcile catches them.

// pendingRotation is a rotation that cannot happen yet: not a failure of
// the client, which stays Ready with this said in its message.
type pendingRotation struct{ msg string }

func (p *pendingRotation) Error() string { return p.msg }

// rotationOutcome says what the rotation step did, for the Secret step.
type rotationOutcome struct {
	// reason is Scheduled or Requested.
	reason string
	// resumed: an interrupted rotation was completed, not a new one made.
	resumed bool
	// at is when Keycloak made the new secret.
	at time.Time
	// graceUntil is when the previous secret stops working; zero when it
	// stopped at once (no rotation policy).
	graceUntil time.Time
}

// skew is how far Keycloak's clock may be behind the operator's when
// telling whether a rotation already happened.
const skew = 5 * time.Second

// reconcileRotation rotates the secret if a slot or a request is due, ends
// the previous secret's grace period if asked, and keeps status current.
// It returns the current secret, what it did (nil if no rotation), and
// when the next reconcile is needed for it (0: no need).
func (r *AuthClientReconciler) reconcileRotation(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, gov governance, kcClient *gocloak.Client, secret string, persist func() error, rep reconciler.Reporter) (string, *rotationOutcome, time.Duration, error) {
	now := time.Now().UTC()
	realm, id := as.Status.RealmName, gocloak.PString(kcClient.ID)
	st := ac.Status.SecretRotation.DeepCopy()
	if st == nil {
		st = &authv1.SecretRotationStatus{}
	}
	var wake time.Duration
	created := epoch(kcClient.Attributes["client.secret.creation.time"])

	// Scheduled.
	var plan *policy.RotationPlan
	if rot := gov.eff.Rotation; rot != nil {
		if p, err := rot.Plan(); err == nil {
			plan = &p
		}
		// An invalid plan is reported by the AuthServer and the AuthPolicy;
		// this client just does not rotate on a schedule meanwhile.
	}
	slotDue, slotDone := false, false
	if plan != nil {
		rot := gov.eff.Rotation
		if st.Policy != rot.Policy || st.Schedule != rot.Schedule || st.LastScheduledSlot == nil {
			// Rotation starts (or its schedule changed): count from now,
			// rather than rotating at once for a slot that passed before.
			st.Policy, st.Schedule = rot.Policy, rot.Schedule
			st.LastScheduledSlot = &metav1.Time{Time: plan.Schedule.Prev(now)}
		}
		due := plan.Schedule.Prev(now)
		slotDue = due.After(st.LastScheduledSlot.Time)
		// Rotated for this slot already (interrupted before the Secret was
		// written), or on request just before it: not rotated again.
		slotDone = slotDue && !created.IsZero() && !created.Before(due.Add(-min(skew, plan.Schedule.MinGap/4)))
		next := plan.Schedule.Next(now)
		st.NextRotationTime = &metav1.Time{Time: next}
		wake = time.Until(next) + 500*time.Millisecond
	} else {
		st.Policy, st.Schedule, st.NextRotationTime, st.LastScheduledSlot = "", "", nil, nil
	}

	// Requested.
	request := requestKey(ac.Annotations[authv1.AnnotationRotateSecret])
	requestDue := request != "" && request != st.LastRequest
	requestDone := requestDue && st.PendingRequest == request && st.PendingSince != nil &&
		!created.IsZero() && !created.Before(st.PendingSince.Add(-skew))

	var out *rotationOutcome
	if slotDone || requestDone {
		out = &rotationOutcome{reason: "Scheduled", resumed: true, at: created}
		if requestDone {
			out.reason = "Requested"
		}
	}
	if slotDone {
		st.LastScheduledSlot = &metav1.Time{Time: plan.Schedule.Prev(now)}
	}
	if requestDone {
		st.LastRequest, st.PendingRequest, st.PendingSince = request, "", nil
	}
	if (slotDue && !slotDone) || (requestDue && !requestDone) {
		reason := "Scheduled"
		if requestDue {
			reason = "Requested"
		}
		if plan != nil && !realmRotates(as, gov.eff.Rotation, plan, kcClient) {
			// The realm's rotation policy is not (yet) what this client's
			// policies ask for: a regenerate now would have no grace
			// period. Nothing is marked as served; the AuthServer's status
			// change brings this client back (no polling meanwhile).
			return secret, nil, wake, &pendingRotation{msg: fmt.Sprintf(
				"a secret rotation is due and waits for AuthServer %s to set up rotation in realm %q (see its %s condition)", authServerKey(ac), realm, authv1.SecretRotationCondition)}
		}
		if requestDue {
			// Recorded before the regenerate: after a restart, Keycloak's
			// creation time tells whether it happened.
			pending := ac.Status.SecretRotation.DeepCopy()
			if pending == nil {
				pending = &authv1.SecretRotationStatus{}
			}
			pending.PendingRequest, pending.PendingSince = request, &metav1.Time{Time: now}
			ac.Status.SecretRotation = pending
			if err := persist(); err != nil {
				return secret, nil, 0, err
			}
			st.PendingRequest, st.PendingSince = request, pending.PendingSince
		}
		ctrl.LoggerFrom(ctx).Info("Rotating client secret", "clientId", ac.EffectiveClientID(), "reason", reason)
		newSecret, err := kc.RegenerateClientSecret(ctx, realm, id)
		if err != nil {
			// The slot and the request stay due: status keeps what it had
			// before this step (with the request pending).
			return secret, nil, 0, err
		}
		secret = newSecret
		out = &rotationOutcome{reason: reason, at: now}
		if slotDue {
			st.LastScheduledSlot = &metav1.Time{Time: plan.Schedule.Prev(now)}
		}
		if requestDue {
			st.LastRequest, st.PendingRequest, st.PendingSince = request, "", nil
		}
		// Read back Keycloak's record: when the previous secret stops working.
		if after, err := kc.GetClient(ctx, realm, id); err == nil {
			kcClient = after
			if t := epoch(after.Attributes["client.secret.creation.time"]); !t.IsZero() {
				out.at = t
			}
		} else {
			ctrl.LoggerFrom(ctx).Error(err, "Cannot read the client back after rotating its secret", "clientId", ac.EffectiveClientID())
		}
	}

	// Emergency: end the previous secret's grace period now.
	if revoke := requestKey(ac.Annotations[authv1.AnnotationRevokePreviousSecret]); revoke != "" && revoke != st.LastRevokeRequest {
		if err := kc.DeleteRotatedSecret(ctx, realm, id); err != nil {
			ac.Status.SecretRotation = st
			return secret, out, 0, err
		}
		st.LastRevokeRequest = revoke
		delete(kcClient.Attributes, "client.secret.rotated")
		rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonPreviousSecretRevoked, fmt.Sprintf(
			"Ended the grace period of the previous client secret of %q at once (annotation %s): only the secret in Secret %s works now", ac.EffectiveClientID(), authv1.AnnotationRevokePreviousSecret, ac.SecretName()))
	}

	st.PreviousSecretValidUntil = nil
	if _, ok := kcClient.Attributes["client.secret.rotated"]; ok {
		if t := epoch(kcClient.Attributes["client.secret.rotated.expiration.time"]); t.After(now) {
			st.PreviousSecretValidUntil = &metav1.Time{Time: t}
			if out != nil {
				out.graceUntil = t
			}
		}
	}
	if out != nil {
		st.LastRotationTime, st.LastRotationReason = &metav1.Time{Time: out.at}, out.reason
	}
	if *st == (authv1.SecretRotationStatus{}) {
		st = nil
	}
	ac.Status.SecretRotation = st
	return secret, out, wake, nil
}

// realmRotates reports whether the realm's rotation policy is the one rot
// asks for and the client carries its marker: only then does a regenerate
// keep the previous secret for the grace period.
func realmRotates(as *authv1.AuthServer, rot *policy.Rotation, plan *policy.RotationPlan, c *gocloak.Client) bool {
	s := as.Status.SecretRotation
	return s != nil && s.Policy == rot.Policy && s.Schedule == rot.Schedule &&
		s.GracePeriodSeconds == int64(plan.Grace/time.Second) &&
		c.Attributes[desired.AttrSecretRotation] == desired.RotationMarker
}

// requestKey is what status keeps of an annotation value: the value, or
// its SHA-256 when it is long.
func requestKey(v string) string {
	if len(v) <= 64 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// epoch parses Keycloak's time attributes (seconds since the epoch).
func epoch(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// rotationEvent is the Event of a rotation, once the Secret holds the new secret.
func rotationEvent(ac *authv1.AuthClient, out *rotationOutcome) string {
	what := "Rotated the client secret on schedule"
	if p := ac.Status.SecretRotation; p != nil && p.Policy != "" && out.reason == "Scheduled" {
		what += fmt.Sprintf(" (AuthPolicy %s, %q)", p.Policy, p.Schedule)
	}
	if out.reason == "Requested" {
		what = fmt.Sprintf("Rotated the client secret as requested (annotation %s)", authv1.AnnotationRotateSecret)
	}
	if out.resumed {
		what = "Completed an interrupted rotation: " + what
	}
	msg := fmt.Sprintf("%s; Secret %s holds the new secret", what, ac.SecretName())
	if out.graceUntil.IsZero() {
		return msg + ". No rotation policy governs this client, so the previous secret stopped working at once: workloads that read the Secret only at start-up must be restarted"
	}
	return msg + fmt.Sprintf(". The previous secret stays valid until %s", out.graceUntil.Format(time.RFC3339))
}
