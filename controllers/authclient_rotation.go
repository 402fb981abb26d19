package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/rotation"
)

// Secret rotation of one AuthClient. Keycloak does the rotating (the
// client policy the AuthServer set up in the realm keeps the previous
// secret valid for the grace period); the operator decides when.
//
// The decision (what is due, what to do, and why) is pkg/rotation's: a
// pure function of the status, Keycloak's attributes, the realm's rotation
// settings, the annotations and the time, unit-tested without a test bed.
// This file carries it out: the Keycloak calls, the order of the status
// writes around them, and what the reconcile does with the Secret after.
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

// rotationScope is what the rotation step of one reconcile works on.
type rotationScope struct {
	ac  *authv1.AuthClient
	as  *authv1.AuthServer
	kc  keycloak.Admin
	gov governance
	// client is the Keycloak client as read at the start of the step.
	client *gocloak.Client
	// persist writes the AuthClient's status now, locked on the version
	// read (a stale copy fails it).
	persist func() error
	rep     reconciler.Reporter
}

func (s rotationScope) realm() string { return s.as.Status.RealmName }

func (s rotationScope) clientUUID() string { return gocloak.PString(s.client.ID) }

// input is what the rotation decision (pkg/rotation) reads, but the Secret.
func (s rotationScope) input(now time.Time) rotation.Input {
	return rotation.Input{
		Now: now, UID: string(s.ac.UID), Annotations: s.ac.Annotations, Status: s.ac.Status.SecretRotation,
		Attributes: s.client.Attributes, Realm: s.as.Status.SecretRotation, Governed: s.gov.eff.Rotation != nil,
		AuthServer: authServerKey(s.ac).String(), RealmName: s.realm(),
	}
}

// reconcileRotation ends the previous secret's grace period if asked,
// rotates the secret if a slot or a request is due (rotation.Decide says
// what and why), and keeps status current. secret is the client's current
// secret.
func (r *AuthClientReconciler) reconcileRotation(ctx context.Context, s rotationScope, secret string) (rotationResult, error) {
	now := time.Now().UTC().Truncate(time.Second)
	res := rotationResult{secret: secret, client: s.client}
	in, err := r.observeRotation(ctx, s, secret, now)
	if err != nil {
		return res, err
	}
	d := rotation.Decide(in)
	ctrl.LoggerFrom(ctx).V(1).Info("Decided the secret rotation", "clientId", s.ac.EffectiveClientID(), "action", d.Action.String(), "why", d.Why, "message", d.Message)
	res.note = d.Note
	if d.Scheduled {
		res.wake = time.Until(d.Next) + 500*time.Millisecond
	}
	st, out := d.Status, (*rotationOutcome)(nil)
	switch d.Action {
	case rotation.Wait:
		s.ac.Status.SecretRotation = nilIfEmpty(st)
		return res, nil
	case rotation.Resume:
		if st, out, err = resumeRotation(s, d); err != nil {
			return res, err
		}
		// Pending stays until the Secret holds the secret (finishRotation).
		// Triggers still due after it (a request or a slot that came
		// meanwhile) are taken up right after this reconcile.
		if d.Again {
			res.wake = time.Second
		}
	case rotation.Rotate:
		if st, out, err = r.rotate(ctx, s, d, now, &res); err != nil {
			return res, err
		}
	}
	res.revokeAfter, res.revoke = d.RevokeAfter, d.Revoke
	if until := rotation.Settle(st, res.client.Attributes, now); !until.IsZero() && out != nil {
		out.graceUntil = until
	}
	if s.gov.keepMarker && st.PreviousSecretValidUntil != nil {
		// Rotation ended while a grace period runs: the marker (and so
		// the previous secret) stays until it is over.
		if w := time.Until(st.PreviousSecretValidUntil.Time) + time.Second; res.wake == 0 || w < res.wake {
			res.wake = w
		}
	}
	if out != nil {
		// What the rotation served, when and why (pkg/rotation: the same
		// record its tests replay).
		d.Rotated(st, out.at)
	}
	s.ac.Status.SecretRotation = nilIfEmpty(st)
	res.out = out
	return res, nil
}

// observeRotation ends the previous secret's grace period now if that is
// asked (rotation.RevokeNow: an emergency goes first), and returns what
// the rotation decision reads, with what the Secret shows of a pending
// rotation.
func (r *AuthClientReconciler) observeRotation(ctx context.Context, s rotationScope, secret string, now time.Time) (rotation.Input, error) {
	in := s.input(now)
	if revoke, ok := rotation.RevokeNow(in); ok {
		if err := r.revokePrevious(ctx, s, s.client.Attributes); err != nil {
			return in, err
		}
		// Recorded at once: a later failure in this reconcile must not
		// revoke again (by then the previous secret may be the one the
		// Secret still holds).
		if s.ac.Status.SecretRotation == nil {
			s.ac.Status.SecretRotation = &authv1.SecretRotationStatus{}
		}
		s.ac.Status.SecretRotation.LastRevokeRequest = revoke
		in.Status = s.ac.Status.SecretRotation
	}
	if in.Status == nil || in.Status.Pending == nil {
		return in, nil
	}
	// With Keycloak's record, the Secret tells whether the pending
	// rotation happened.
	cur, err := r.currentSecret(ctx, s.ac)
	if err != nil || cur == nil {
		return in, err
	}
	in.Secret = &rotation.SecretFacts{RotationID: cur.Annotations[desired.AnnotationRotation], HoldsCurrent: secretHolds(cur, s.ac, secret)}
	return in, nil
}

// persistRotation writes st as the AuthClient's status before the
// rotation is acted upon, and returns the status written. Refused (a
// conflict: the copy was stale), the status is left as it was, so that the
// deferred status write does not write it anyway.
func persistRotation(s rotationScope, st *authv1.SecretRotationStatus) (*authv1.SecretRotationStatus, error) {
	original := s.ac.Status.SecretRotation.DeepCopy()
	s.ac.Status.SecretRotation = st
	if err := s.persist(); err != nil {
		s.ac.Status.SecretRotation = original
		return nil, err
	}
	return s.ac.Status.SecretRotation.DeepCopy(), nil
}

// resumeRotation completes a rotation Keycloak made and the operator did
// not finish, from Keycloak's current secret. The write is fenced like a
// new attempt: a stale copy of the AuthClient (whose rotation an earlier
// reconcile finished) fails it, rather than reporting the rotation twice.
func resumeRotation(s rotationScope, d rotation.Decision) (*authv1.SecretRotationStatus, *rotationOutcome, error) {
	p := d.Status.Pending
	out := &rotationOutcome{id: p.ID, reason: p.Reason, resumed: true, at: rotation.Epoch(d.Created)}
	if out.at.IsZero() {
		out.at = p.Since.Time
	}
	st, err := persistRotation(s, d.Status)
	if err != nil {
		return nil, nil, err
	}
	return st, out, nil
}

// rotate asks Keycloak for a new secret, for the rotation d decided: only
// if the Secret can take it, and once the rotation is recorded as pending
// (see the top of this file). It sets res.secret, and res.client to the
// client read back.
func (r *AuthClientReconciler) rotate(ctx context.Context, s rotationScope, d rotation.Decision, now time.Time, res *rotationResult) (*authv1.SecretRotationStatus, *rotationOutcome, error) {
	// The template rendered before (gov.plan), the write is tried now as a
	// dry run. Otherwise the rotation waits, and the Secret keeps a secret
	// that works.
	if err := r.checkSecretWritable(ctx, s.ac, s.gov, rotationID()); err != nil {
		return nil, nil, err
	}
	if d.NewPending {
		cur, err := r.currentSecret(ctx, s.ac)
		if err != nil {
			return nil, nil, err
		}
		d.Status.Pending.ID = rotationID()
		d.Status.Pending.SecretSynced = cur != nil && secretHolds(cur, s.ac, res.secret)
	}
	st, err := persistRotation(s, d.Status)
	if err != nil {
		return nil, nil, err
	}
	p, attrs := st.Pending, s.client.Attributes
	runningGrace := rotation.GraceRunning(attrs, now)
	ctrl.LoggerFrom(ctx).Info("Rotating client secret", "clientId", s.ac.EffectiveClientID(), "reason", p.Reason)
	newSecret, err := s.kc.RegenerateClientSecret(ctx, s.realm(), s.clientUUID())
	if err != nil {
		// Pending stays: the next reconcile tells from Keycloak's record
		// whether this regenerate happened.
		return nil, nil, err
	}
	res.secret = newSecret
	out := &rotationOutcome{id: p.ID, reason: p.Reason, at: now, cutShort: runningGrace}
	if p.Reason == rotation.ReasonExpiring {
		out.expiredAt = rotation.Epoch(attrs[rotation.AttrSecretExpires])
	}
	// Read back Keycloak's record: when the previous secret stops working.
	if after, err := s.kc.GetClient(ctx, s.realm(), s.clientUUID()); err == nil {
		res.client = after
		if t := rotation.Epoch(after.Attributes[rotation.AttrSecretCreated]); !t.IsZero() {
			out.at = t
		}
	} else {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot read the client back after rotating its secret", "clientId", s.ac.EffectiveClientID())
		if d.Scheduled {
			out.graceUntil = now.Add(d.Grace) // what the realm's policy gives
		}
	}
	return st, out, nil
}

// revokePrevious ends the previous secret's grace period now; attrs (the
// client's as last read) then no longer name a previous secret.
func (r *AuthClientReconciler) revokePrevious(ctx context.Context, s rotationScope, attrs map[string]string) error {
	ctrl.LoggerFrom(ctx).Info("Ending the grace period of the previous client secret", "clientId", s.ac.EffectiveClientID())
	if err := s.kc.DeleteRotatedSecret(ctx, s.realm(), s.clientUUID()); err != nil {
		return err
	}
	delete(attrs, rotation.AttrRotatedSecret)
	s.rep.Event(ctx, s.ac, corev1.EventTypeNormal, authv1.ReasonPreviousSecretRevoked, fmt.Sprintf(
		"Ended the grace period of the previous client secret of %q at once (annotation %s): only the current secret works now", s.ac.EffectiveClientID(), authv1.AnnotationRevokePreviousSecret))
	return nil
}

func nilIfEmpty(st *authv1.SecretRotationStatus) *authv1.SecretRotationStatus {
	if st == nil || *st == (authv1.SecretRotationStatus{}) {
		return nil
	}
	return st
}

// rotationID names a rotation (random: two can start in one second).
func rotationID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// requestKey is what status keeps of an annotation value (also the
// sync-users request of a UserStore): the value, or its SHA-256 when long.
func requestKey(v string) string { return rotation.RequestKey(v) }

// rotationEvent is the Event of a rotation, once the Secret holds the new secret.
func rotationEvent(ac *authv1.AuthClient, out *rotationOutcome) string {
	var what string
	switch out.reason {
	case rotation.ReasonRequested:
		what = fmt.Sprintf("Rotated the client secret as requested (annotation %s)", authv1.AnnotationRotateSecret)
	case reasonSecretRef:
		what = byoRotationEvent(ac)
	case rotation.ReasonExpiring:
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
func (r *AuthClientReconciler) finishRotation(ctx context.Context, s rotationScope, res rotationResult) error {
	st := s.ac.Status.SecretRotation
	if st == nil {
		return nil
	}
	if res.out != nil {
		rotation.Delivered(st)
	}
	if res.revokeAfter {
		if err := r.revokePrevious(ctx, s, map[string]string{}); err != nil {
			return err
		}
		st.LastRevokeRequest, st.PreviousSecretValidUntil = res.revoke, nil
	}
	s.ac.Status.SecretRotation = nilIfEmpty(st)
	return nil
}
