package controllers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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
	"github.com/nauthera/nauthera/pkg/schedule"
)

// Secret rotation of one AuthClient. Keycloak does the rotating (the
// client policy the AuthServer set up in the realm keeps the previous
// secret valid for the grace period); the operator decides when.
//
// The schedule, grace and expiry a client follows are the realm's
// (AuthServer status.secretRotation), not its policies' wish: they are what
// Keycloak enforces, so a policy Keycloak refused, or one the AuthServer has
// not applied yet, never makes a client miss rotations its secret's expiry
// counts on.
//
// What the operator acted upon is kept in status, never in memory, so that
// a slot or a request rotates once also across restarts: before it asks
// Keycloak it records the rotation as pending with Keycloak's record of the
// current secret's creation. After an interruption (the operator killed,
// the answer lost) a changed creation record means Keycloak rotated: the
// rotation is completed from Keycloak's current secret, not repeated. No
// clock is compared with Keycloak's.
//
// Keycloak is asked for a new secret only when the Secret can take it: the
// template rendered (the reconcile's plan) and a dry-run write of the
// Secret passed (checkSecretWritable). A secret that could not be
// delivered is never made; without a rotation policy it would end the one
// the Secret holds at once.
//
// Rotations Keycloak makes on its own (an update of a client whose secret
// expired) are not the operator's: every reconcile reads the secret back
// and the Secret follows.

// Reasons of a rotation (status lastRotationReason, pending.reason).
const (
	rotationScheduled = "Scheduled"
	rotationRequested = "Requested"
	rotationExpiring  = "Expiring"
)

// Keycloak's client attributes of the secret's bookkeeping.
const (
	attrSecretCreated        = "client.secret.creation.time"
	attrSecretExpires        = "client.secret.expiration.time"
	attrRotatedSecret        = "client.secret.rotated"
	attrRotatedSecretExpires = "client.secret.rotated.expiration.time"
)

// rotationOutcome says what the rotation step did, for the Event.
type rotationOutcome struct {
	// id is the rotation's, recorded on the Secret with its new secret.
	id     string
	reason string
	// resumed: an interrupted rotation was completed, not a new one made.
	resumed bool
	// at is when Keycloak made the new secret.
	at time.Time
	// graceUntil is when the previous secret stops working; zero when it
	// stopped at once (no rotation policy).
	graceUntil time.Time
	// cutShort: the rotation ended a grace period that was still running
	// (Keycloak keeps one previous secret).
	cutShort bool
	// expiredAt is the expiry that an Expiring rotation avoided.
	expiredAt time.Time
}

// rotationResult is what the rotation step hands back to the reconcile.
type rotationResult struct {
	// secret is the client's current secret (new after a rotation).
	secret string
	// client is the Keycloak client as last read.
	client *gocloak.Client
	// out is what was rotated, nil when nothing was.
	out *rotationOutcome
	// wake is when the next reconcile is needed for rotation (0: none).
	wake time.Duration
	// note is for the Ready message: what waits, though the client is ready.
	note string
	// revokeAfter: end the previous secret's grace once the Secret holds
	// the new secret (rotate and revoke asked together); revoke is the
	// annotation value to record then.
	revokeAfter bool
	revoke      string
}

// reconcileRotation ends the previous secret's grace period if asked,
// rotates the secret if a slot or a request is due, and keeps status
// current.
func (r *AuthClientReconciler) reconcileRotation(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, gov governance, kcClient *gocloak.Client, secret string, persist func() error, rep reconciler.Reporter) (rotationResult, error) {
	now := time.Now().UTC().Truncate(time.Second)
	res := rotationResult{secret: secret, client: kcClient}
	realmName, id := as.Status.RealmName, gocloak.PString(kcClient.ID)
	st := ac.Status.SecretRotation.DeepCopy()
	if st == nil {
		st = &authv1.SecretRotationStatus{}
	}
	attrs := kcClient.Attributes
	created := attrs[attrSecretCreated]
	if epoch(created).IsZero() || len(created) > 20 {
		created = "" // an attribute anyone with console access can edit
	}

	// The realm's rotation, if this client is under it.
	realm := as.Status.SecretRotation
	var sched *schedule.Schedule
	var grace time.Duration
	if realm != nil && gov.eff.Rotation != nil && attrs[desired.AttrSecretRotation] == desired.RotationMarker {
		if s, err := schedule.Parse(realm.Schedule); err == nil {
			sched, grace = s, time.Duration(realm.GracePeriodSeconds)*time.Second
		}
	}
	if gov.eff.Rotation != nil && realm == nil {
		res.note = fmt.Sprintf("secret rotation waits for AuthServer %s to set it up in realm %q (see its %s condition)", authServerKey(ac), realmName, authv1.SecretRotationCondition)
	}

	// What is due.
	var slot time.Time
	slotDue, expiring := false, false
	if sched == nil {
		st.Policy, st.Schedule, st.NextRotationTime, st.LastScheduledSlot = "", "", nil, nil
	} else {
		// Each client has its own offset within the slot, so that the
		// clients of a schedule do not all hit Keycloak (and restart their
		// workloads) in the same second.
		offset := spread(string(ac.UID), sched.MinGap, grace)
		slot = sched.Prev(now.Add(-offset))
		if st.Schedule != realm.Schedule || st.LastScheduledSlot == nil {
			// Rotation starts, or its schedule changed: count from now
			// rather than rotating at once for a slot that passed before.
			st.LastScheduledSlot = &metav1.Time{Time: slot}
		}
		st.Policy, st.Schedule = realm.Policy, realm.Schedule
		slotDue = slot.After(st.LastScheduledSlot.Time)
		if slotDue && st.LastRotationReason == rotationRequested && st.LastRotationTime != nil && st.LastRotationTime.After(slot.Add(-grace)) {
			// A requested rotation inside the grace period before this
			// slot stands for it: rotating again would cut its grace short.
			st.LastScheduledSlot, slotDue = &metav1.Time{Time: slot}, false
		}
		next := sched.Next(now.Add(-offset)).Add(offset)
		st.NextRotationTime = &metav1.Time{Time: next}
		res.wake = time.Until(next) + 500*time.Millisecond
		// A secret that would expire before the next slot (the schedule
		// changed to a longer one, after its last rotation) rotates now.
		// Once only: if the expiry comes from something else (another
		// client policy of the realm), rotating again would not move it.
		if exp := epoch(attrs[attrSecretExpires]); !slotDue && !exp.IsZero() && exp.Before(next.Add(time.Minute)) {
			if st.LastRotationReason == rotationExpiring && st.LastRotationTime != nil && !epoch(created).Before(st.LastRotationTime.Add(-time.Minute)) {
				res.note = fmt.Sprintf("Keycloak expires this client's secret at %s, before its next rotation at %s, and an early rotation did not change that: does another client policy of realm %q apply to it?",
					exp.Format(time.RFC3339), next.Format(time.RFC3339), realmName)
			} else {
				expiring = true
			}
		}
	}
	request := requestKey(ac.Annotations[authv1.AnnotationRotateSecret])
	requestDue := request != "" && request != st.LastRequest
	revoke := requestKey(ac.Annotations[authv1.AnnotationRevokePreviousSecret])
	revokeDue := revoke != "" && revoke != st.LastRevokeRequest

	// Emergency first: the previous secret stops working now, before any
	// scheduled rotation in this reconcile (which would make the secret
	// workloads use the previous one). Only a rotation asked for together
	// with it goes first: "rotate, and kill the old secret".
	if revokeDue && !requestDue {
		if err := r.revokePrevious(ctx, ac, kc, realmName, id, attrs, rep); err != nil {
			return res, err
		}
		st.LastRevokeRequest = revoke
		// Recorded at once: a later failure in this reconcile must not
		// revoke again (by then the previous secret may be the one the
		// Secret still holds).
		if ac.Status.SecretRotation == nil {
			ac.Status.SecretRotation = &authv1.SecretRotationStatus{}
		}
		ac.Status.SecretRotation.LastRevokeRequest = revoke
	}

	var out *rotationOutcome
	rotatedBefore := false
	if p := st.Pending; p != nil {
		// Did Keycloak rotate for it? Any of: Keycloak's creation record
		// moved (seconds: not enough alone, a rotation can fall in the
		// second the secret was made), Keycloak's secret is not the one the
		// Secret held (known when they agreed at the start), or the Secret
		// already records this rotation (the operator stopped after writing
		// it).
		cur, err := r.currentSecret(ctx, ac)
		if err != nil {
			return res, err
		}
		rotatedBefore = p.SecretCreatedBefore != created ||
			cur != nil && (cur.Annotations[desired.AnnotationRotation] == p.ID ||
				p.SecretSynced && !secretHolds(cur, ac, secret))
	}
	switch p := st.Pending; {
	case p != nil && rotatedBefore:
		// Keycloak rotated, the operator was interrupted before it
		// finished: finish, from Keycloak's current secret.
		out = &rotationOutcome{id: p.ID, reason: p.Reason, resumed: true, at: epoch(created)}
		if out.at.IsZero() {
			out.at = p.Since.Time
		}
		served(st, p.Reason, p.Slot, p.Request)
		// Fenced like a new attempt: a stale copy of the AuthClient (whose
		// rotation an earlier reconcile finished) fails this locked write,
		// rather than reporting the rotation twice.
		original := ac.Status.SecretRotation.DeepCopy()
		ac.Status.SecretRotation = st
		if err := persist(); err != nil {
			ac.Status.SecretRotation = original
			return res, err
		}
		st = ac.Status.SecretRotation.DeepCopy()
		// Pending stays until the Secret holds the secret (finishRotation).
		// Triggers still due after it (a request or a slot that came
		// meanwhile) are taken up right after this reconcile.
		if requestDue && p.Request != request || slotDue && (p.Slot == nil || slot.After(p.Slot.Time)) {
			res.wake = time.Second
		}
	case p != nil && !(p.Request != "" && p.Request == request && requestDue || p.Slot != nil && slotDue || p.Reason == rotationExpiring && expiring):
		// Not made, and no longer wanted (the annotation changed or went).
		st.Pending = nil
	}
	if out == nil && (st.Pending != nil || slotDue || expiring || requestDue) {
		original := ac.Status.SecretRotation.DeepCopy()
		if gov.eff.Rotation != nil && sched == nil {
			// Governed but the realm cannot rotate with grace yet: a
			// regenerate now would kill the previous secret at once.
			res.note = fmt.Sprintf("a secret rotation is due and waits for AuthServer %s to set up rotation in realm %q (see its %s condition)", authServerKey(ac), realmName, authv1.SecretRotationCondition)
			ac.Status.SecretRotation = nilIfEmpty(st)
			return res, nil
		}
		// A new secret is made only if the Secret can take it: the template
		// rendered before (gov.plan), the write is tried now as a dry run.
		// Otherwise the rotation waits, and the Secret keeps a secret that
		// works.
		if err := r.checkSecretWritable(ctx, ac, gov, rotationID()); err != nil {
			return res, err
		}
		if st.Pending == nil {
			cur, err := r.currentSecret(ctx, ac)
			if err != nil {
				return res, err
			}
			p := &authv1.PendingRotation{ID: rotationID(), Reason: rotationScheduled, Since: metav1.Time{Time: now}, SecretCreatedBefore: created,
				SecretSynced: cur != nil && secretHolds(cur, ac, secret)}
			switch {
			case requestDue:
				p.Reason, p.Request = rotationRequested, request
			case slotDue:
				p.Slot = &metav1.Time{Time: slot}
			default:
				p.Reason = rotationExpiring
			}
			st.Pending = p
		} else {
			// A pending rotation read from the cache is acted upon only
			// once this write, locked on the version read, succeeds: a
			// stale copy (whose rotation another attempt finished) fails it.
			st.Pending.Attempts++
		}
		// Recorded before Keycloak is asked (see the top of this file).
		ac.Status.SecretRotation = st
		if err := persist(); err != nil {
			// Refused (a conflict: the copy was stale): the deferred status
			// write must not write it anyway.
			ac.Status.SecretRotation = original
			return res, err
		}
		st = ac.Status.SecretRotation.DeepCopy()
		p := st.Pending
		runningGrace := epoch(attrs[attrRotatedSecretExpires]).After(now) && attrs[attrRotatedSecret] != ""
		ctrl.LoggerFrom(ctx).Info("Rotating client secret", "clientId", ac.EffectiveClientID(), "reason", p.Reason)
		newSecret, err := kc.RegenerateClientSecret(ctx, realmName, id)
		if err != nil {
			// Pending stays: the next reconcile tells from Keycloak's
			// record whether this regenerate happened.
			return res, err
		}
		res.secret = newSecret
		out = &rotationOutcome{id: p.ID, reason: p.Reason, at: now, cutShort: runningGrace}
		if p.Reason == rotationExpiring {
			out.expiredAt = epoch(attrs[attrSecretExpires])
		}
		served(st, p.Reason, p.Slot, p.Request)
		// One regenerate serves whatever else is due at the same time.
		if slotDue {
			st.LastScheduledSlot = &metav1.Time{Time: slot}
		}
		if requestDue {
			st.LastRequest = request
		}
		// Read back Keycloak's record: when the previous secret stops working.
		if after, err := kc.GetClient(ctx, realmName, id); err == nil {
			res.client, attrs = after, after.Attributes
			if t := epoch(attrs[attrSecretCreated]); !t.IsZero() {
				out.at = t
			}
		} else {
			ctrl.LoggerFrom(ctx).Error(err, "Cannot read the client back after rotating its secret", "clientId", ac.EffectiveClientID())
			if sched != nil {
				out.graceUntil = now.Add(grace) // what the realm's policy gives
			}
		}
	}

	// Revoking together with a requested rotation is done by the caller
	// once the Secret holds the new secret (finishRotation).
	res.revokeAfter = revokeDue && requestDue
	if res.revokeAfter {
		res.revoke = revoke
	}

	st.PreviousSecretValidUntil = nil
	if _, ok := attrs[attrRotatedSecret]; ok {
		if t := epoch(attrs[attrRotatedSecretExpires]); t.After(now) {
			st.PreviousSecretValidUntil = &metav1.Time{Time: t}
			if out != nil {
				out.graceUntil = t
			}
		}
	}
	if gov.keepMarker && st.PreviousSecretValidUntil != nil {
		// Rotation ended while a grace period runs: the marker (and so
		// the previous secret) stays until it is over.
		if d := time.Until(st.PreviousSecretValidUntil.Time) + time.Second; res.wake == 0 || d < res.wake {
			res.wake = d
		}
	}
	if out != nil {
		st.LastRotationTime, st.LastRotationReason = &metav1.Time{Time: out.at}, out.reason
	}
	ac.Status.SecretRotation = nilIfEmpty(st)
	res.out = out
	return res, nil
}

// served records a rotation's trigger as acted upon.
func served(st *authv1.SecretRotationStatus, reason string, slot *metav1.Time, request string) {
	switch reason {
	case rotationScheduled:
		if slot != nil && (st.LastScheduledSlot == nil || slot.After(st.LastScheduledSlot.Time)) {
			st.LastScheduledSlot = slot.DeepCopy()
		}
	case rotationRequested:
		st.LastRequest = request
	}
}

// revokePrevious ends the previous secret's grace period now.
func (r *AuthClientReconciler) revokePrevious(ctx context.Context, ac *authv1.AuthClient, kc keycloak.Admin, realm, id string, attrs map[string]string, rep reconciler.Reporter) error {
	ctrl.LoggerFrom(ctx).Info("Ending the grace period of the previous client secret", "clientId", ac.EffectiveClientID())
	if err := kc.DeleteRotatedSecret(ctx, realm, id); err != nil {
		return err
	}
	delete(attrs, attrRotatedSecret)
	rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonPreviousSecretRevoked, fmt.Sprintf(
		"Ended the grace period of the previous client secret of %q at once (annotation %s): only the current secret works now", ac.EffectiveClientID(), authv1.AnnotationRevokePreviousSecret))
	return nil
}

func nilIfEmpty(st *authv1.SecretRotationStatus) *authv1.SecretRotationStatus {
	if st == nil || *st == (authv1.SecretRotationStatus{}) {
		return nil
	}
	return st
}

// spread is a client's fixed offset within a slot: up to a tenth of the
// schedule's shortest gap and of the grace period, at most five minutes.
func spread(uid string, minGap, grace time.Duration) time.Duration {
	window := min(minGap/10, 5*time.Minute)
	if grace > 0 {
		window = min(window, grace/10)
	}
	if window <= 0 {
		return 0
	}
	sum := sha256.Sum256([]byte(uid))
	// Whole seconds: status times are kept in seconds, and a value that
	// does not survive the round trip would be written on every reconcile.
	return time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(window)).Truncate(time.Second)
}

// rotationID names a rotation (random: two can start in one second).
func rotationID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
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
	var what string
	switch out.reason {
	case rotationRequested:
		what = fmt.Sprintf("Rotated the client secret as requested (annotation %s)", authv1.AnnotationRotateSecret)
	case rotationExpiring:
		what = fmt.Sprintf("Rotated the client secret early: it would have expired at %s, before the next scheduled rotation", out.expiredAt.Format(time.RFC3339))
	default:
		what = "Rotated the client secret on schedule"
		if p := ac.Status.SecretRotation; p != nil && p.Policy != "" {
			what += fmt.Sprintf(" (AuthPolicy %s, %q)", p.Policy, p.Schedule)
		}
	}
	if out.resumed {
		what = "Completed an interrupted rotation: " + what
	}
	msg := fmt.Sprintf("%s; Secret %s holds the new secret", what, ac.SecretName())
	if out.graceUntil.IsZero() {
		return msg + ". No rotation policy governs this client, so the previous secret stopped working at once: workloads that read the Secret only at start-up must be restarted"
	}
	msg += fmt.Sprintf(". The previous secret stays valid until %s", out.graceUntil.Format(time.RFC3339))
	if out.cutShort {
		msg += "; the secret before it stopped working now, before the end of its own grace period (Keycloak keeps one previous secret)"
	}
	return msg
}

// finishRotation runs once the Secret holds the current secret: the
// pending rotation is done, and a revoke asked with it ends the previous
// secret's grace period now.
func (r *AuthClientReconciler) finishRotation(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, kcClient *gocloak.Client, res rotationResult, rep reconciler.Reporter) error {
	st := ac.Status.SecretRotation
	if st == nil {
		return nil
	}
	if res.out != nil {
		st.Pending = nil
	}
	if res.revokeAfter {
		if err := r.revokePrevious(ctx, ac, kc, as.Status.RealmName, gocloak.PString(kcClient.ID), map[string]string{}, rep); err != nil {
			return err
		}
		st.LastRevokeRequest, st.PreviousSecretValidUntil = res.revoke, nil
	}
	ac.Status.SecretRotation = nilIfEmpty(st)
	return nil
}
