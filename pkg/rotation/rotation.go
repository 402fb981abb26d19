// Package rotation decides what an AuthClient's secret rotation does next:
// nothing, rotate, complete an interrupted rotation, or wait for the realm.
// It is pure: the inputs are the AuthClient's rotation status and
// annotations, the Keycloak client's attributes, the realm's rotation
// settings, what the credentials Secret shows, and the time; the output is
// what to do and why. The controller (controllers/authclient_rotation.go)
// carries it out: it talks to Keycloak, writes the Secret and the status.
//
// The decision is a chain of small policies (Chain): the first that fires
// decides, and says why. The state the policies read (which slot is due,
// which request is new, whether a pending rotation happened) is worked out
// once, before the chain, by newState.
package rotation

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/schedule"
)

// Reasons of a rotation (status lastRotationReason, pending.reason).
const (
	ReasonScheduled = "Scheduled"
	ReasonRequested = "Requested"
	ReasonExpiring  = "Expiring"
)

// Keycloak's client attributes of the secret's bookkeeping.
const (
	AttrSecretCreated        = "client.secret.creation.time"
	AttrSecretExpires        = "client.secret.expiration.time"
	AttrRotatedSecret        = "client.secret.rotated"
	AttrRotatedSecretExpires = "client.secret.rotated.expiration.time"
)

// SecretFacts is what the credentials Secret shows of a pending rotation.
type SecretFacts struct {
	// RotationID is the rotation whose secret the Secret records
	// (annotation auth.nauthera.io/rotation).
	RotationID string
	// HoldsCurrent: the Secret holds the secret Keycloak has now.
	HoldsCurrent bool
}

// Input is everything the decision depends on.
type Input struct {
	// Now is the time of the decision, in whole seconds (status times are
	// kept in seconds).
	Now time.Time
	// UID is the AuthClient's: it fixes the client's offset within a slot.
	UID string
	// Annotations are the AuthClient's (rotate-secret, revoke-previous-secret).
	Annotations map[string]string
	// Status is the AuthClient's status.secretRotation (nil: none). Decide
	// does not change it.
	Status *authv1.SecretRotationStatus
	// Attributes are the Keycloak client's.
	Attributes map[string]string
	// Realm is the rotation the AuthServer set up in the realm (its
	// status.secretRotation); nil when none.
	Realm *authv1.RealmRotationStatus
	// Governed: a policy of the client enables rotation.
	Governed bool
	// AuthServer (namespace/name) and RealmName name them in messages.
	AuthServer, RealmName string
	// Secret is what the credentials Secret shows; nil when it does not
	// exist. Read only while a rotation is pending (Status.Pending).
	Secret *SecretFacts
}

// Action is what the controller does.
type Action int

const (
	// Nothing is due.
	Nothing Action = iota
	// Rotate: ask Keycloak for a new secret (Decision.Status records the
	// pending rotation first).
	Rotate
	// Resume: Keycloak rotated for the pending rotation and the operator
	// was interrupted; finish it from Keycloak's current secret.
	Resume
	// Wait: a rotation is due but the realm cannot rotate with a grace
	// period yet; a regenerate now would end the previous secret at once.
	Wait
)

func (a Action) String() string {
	return [...]string{"Nothing", "Rotate", "Resume", "Wait"}[a]
}

// Verdict is the outcome of the policy that fired.
type Verdict struct {
	Action Action
	// Why names the policy that fired (PascalCase), Message says it for
	// people. Neither carries a secret.
	Why, Message string
}

// Decision is what to do, and the status that goes with it.
type Decision struct {
	Verdict
	// Status is the new status.secretRotation (never nil; the caller drops
	// it when empty). With Rotate it records the pending rotation, to be
	// written before Keycloak is asked: a new one (NewPending) needs its ID
	// and SecretSynced set by the caller. With Resume it records the
	// trigger served, to be written before the rotation is reported.
	Status *authv1.SecretRotationStatus
	// NewPending: Status.Pending is a new rotation, not a retry.
	NewPending bool
	// Reason of the rotation (Rotate, Resume): Scheduled, Requested or Expiring.
	Reason string
	// Created is Keycloak's record of the current secret's creation
	// (epoch seconds), "" when absent or implausible.
	Created string
	// Scheduled: the realm's schedule applies to this client; Grace is
	// the realm's grace period then.
	Scheduled bool
	Grace     time.Duration
	// Next is when the next scheduled rotation is due (zero: none).
	Next time.Time
	// SlotDue and RequestDue: what one regenerate serves besides its own
	// reason (Rotated).
	SlotDue    bool
	Slot       time.Time
	RequestDue bool
	Request    string
	// RevokeAfter: end the previous secret's grace once the Secret holds
	// the new secret (rotate and revoke asked together); Revoke is the
	// annotation value to record then.
	RevokeAfter bool
	Revoke      string
	// Again (Resume): another trigger came meanwhile; reconcile right after.
	Again bool
	// ExpiresAt is Keycloak's expiry of the current secret (zero: none).
	ExpiresAt time.Time
	// Note is for the Ready message: what waits, though the client is ready.
	Note string
}

// State is what the policies read: the input, worked out once.
type State struct {
	In Input
	// St is the working copy of the status.
	St *authv1.SecretRotationStatus
	// Created is Keycloak's creation record, "" when implausible.
	Created string
	// Schedule is the realm's, nil when it does not apply to this client.
	Schedule *schedule.Schedule
	Grace    time.Duration
	Slot     time.Time
	Next     time.Time
	// SlotDue: a slot passed that was not served. SlotAbsorbed: one did,
	// but a requested rotation inside the grace before it stands for it.
	SlotDue, SlotAbsorbed bool
	// Expiring: Keycloak expires the secret before the next slot.
	// ExpiryStuck: it did so after an early rotation too.
	Expiring, ExpiryStuck bool
	ExpiresAt             time.Time
	Request, Revoke       string
	RequestDue, RevokeDue bool
	// Rotated: Keycloak rotated for the pending rotation.
	Rotated bool
	// Note is for the Ready message.
	Note string
}

// Policy fires (true) with a verdict, or passes (false) to the next.
type Policy func(*State) (Verdict, bool)

// Chain is the order in which the policies are asked; the first that fires
// decides. Those that act come first; the last ones only say why nothing
// happens.
var Chain = []Policy{
	ResumeInterrupted,
	RealmNotReady,
	RetryPending,
	Requested,
	ScheduledSlot,
	ExpiringSecret,
	RequestStandsForSlot,
	ExpiryNotMoved,
	NotRotating,
	NotDue,
}

// Evaluate returns the verdict of the first policy of chain that fires.
func Evaluate(chain []Policy, s *State) Verdict {
	for _, p := range chain {
		if v, ok := p(s); ok {
			return v
		}
	}
	return Verdict{Action: Nothing, Why: "NothingDue", Message: "no rotation is due"}
}

// Decide decides what the rotation of one client does now.
func Decide(in Input) Decision {
	s := newState(in)
	v := Evaluate(Chain, s)
	d := Decision{
		Verdict: v, Status: s.St, Created: s.Created, Scheduled: s.Schedule != nil, Grace: s.Grace, Next: s.Next,
		SlotDue: s.SlotDue, Slot: s.Slot, RequestDue: s.RequestDue, Request: s.Request, ExpiresAt: s.ExpiresAt, Note: s.Note,
	}
	switch v.Action {
	case Resume:
		p := s.St.Pending
		d.Reason = p.Reason
		Served(s.St, p)
		d.Again = s.RequestDue && p.Request != s.Request || s.SlotDue && (p.Slot == nil || s.Slot.After(p.Slot.Time))
	case Wait:
		d.Note = v.Message
		return d
	case Rotate:
		d.Reason, d.NewPending = s.startOrRetry(v)
	}
	// Revoking together with a requested rotation waits until the Secret
	// holds the new secret (the caller's finish step).
	d.RevokeAfter = s.RevokeDue && s.RequestDue
	if d.RevokeAfter {
		d.Revoke = s.Revoke
	}
	return d
}

// RevokeNow says whether the previous secret's grace ends now, before
// anything else in this reconcile (which could make the secret workloads
// use the previous one), and the annotation value to record. A revoke
// asked together with a rotation goes after it: "rotate, and kill the old
// secret" (Decision.RevokeAfter).
func RevokeNow(in Input) (string, bool) {
	st := in.Status
	if st == nil {
		st = &authv1.SecretRotationStatus{}
	}
	request := RequestKey(in.Annotations[authv1.AnnotationRotateSecret])
	revoke := RequestKey(in.Annotations[authv1.AnnotationRevokePreviousSecret])
	requestDue := request != "" && request != st.LastRequest
	return revoke, revoke != "" && revoke != st.LastRevokeRequest && !requestDue
}

// startOrRetry records the rotation the verdict starts (or counts another
// attempt of the pending one); it returns its reason and whether it is new.
func (s *State) startOrRetry(v Verdict) (string, bool) {
	if p := s.St.Pending; p != nil {
		// A pending rotation read from the cache is acted upon only once
		// the status write, locked on the version read, succeeds: a stale
		// copy (whose rotation another attempt finished) fails it.
		p.Attempts++
		return p.Reason, false
	}
	p := &authv1.PendingRotation{Reason: ReasonScheduled, Since: metav1.Time{Time: s.In.Now}, SecretCreatedBefore: s.Created}
	switch v.Why {
	case WhyRequested:
		p.Reason, p.Request = ReasonRequested, s.Request
	case WhyScheduledSlot:
		p.Slot = &metav1.Time{Time: s.Slot}
	default:
		p.Reason = ReasonExpiring
	}
	s.St.Pending = p
	return p.Reason, true
}

// Served records a rotation's trigger as acted upon.
func Served(st *authv1.SecretRotationStatus, p *authv1.PendingRotation) {
	switch p.Reason {
	case ReasonScheduled:
		if p.Slot != nil && (st.LastScheduledSlot == nil || p.Slot.After(st.LastScheduledSlot.Time)) {
			st.LastScheduledSlot = p.Slot.DeepCopy()
		}
	case ReasonRequested:
		st.LastRequest = p.Request
	}
}

// Rotated records in st (the status the decision's action wrote, with the
// rotation still pending) a rotation done for d: Keycloak made its secret
// at at. It records what the rotation served, so that no slot or request
// rotates twice, and when and why it rotated. The pending rotation stays
// until the Secret holds the new secret (Delivered).
//
// It is the one record of a finished rotation: the executor
// (controllers/authclient_rotation.go) and the tests that replay many
// reconciles (TestOneRotationPerSlot) both call it, so that the executor's
// bookkeeping cannot drift from what the tests prove.
func (d Decision) Rotated(st *authv1.SecretRotationStatus, at time.Time) {
	switch d.Action {
	case Rotate:
		d.servedByRotation(st)
	case Resume:
		// Decide recorded the pending rotation's own trigger (Served);
		// triggers that came meanwhile are not served by it (Again).
	default:
		return
	}
	st.LastRotationTime, st.LastRotationReason = &metav1.Time{Time: at}, d.Reason
}

// Delivered records that the Secret holds the secret of the pending
// rotation: it is done.
func Delivered(st *authv1.SecretRotationStatus) {
	st.Pending = nil
}

// servedByRotation records what a regenerate made for st.Pending served:
// its own trigger, and whatever else was due at the same time (one
// regenerate serves them all).
func (d Decision) servedByRotation(st *authv1.SecretRotationStatus) {
	Served(st, st.Pending)
	if d.SlotDue {
		st.LastScheduledSlot = &metav1.Time{Time: d.Slot}
	}
	if d.RequestDue {
		st.LastRequest = d.Request
	}
}

// Settle sets status previousSecretValidUntil from Keycloak's attributes
// and returns it (zero when no previous secret works after now).
func Settle(st *authv1.SecretRotationStatus, attrs map[string]string, now time.Time) time.Time {
	st.PreviousSecretValidUntil = nil
	if _, ok := attrs[AttrRotatedSecret]; !ok {
		return time.Time{}
	}
	t := Epoch(attrs[AttrRotatedSecretExpires])
	if !t.After(now) {
		return time.Time{}
	}
	st.PreviousSecretValidUntil = &metav1.Time{Time: t}
	return t
}

// GraceRunning reports whether a previous secret is still in its grace
// period: a rotation now ends it (Keycloak keeps one previous secret).
func GraceRunning(attrs map[string]string, now time.Time) bool {
	return Epoch(attrs[AttrRotatedSecretExpires]).After(now) && attrs[AttrRotatedSecret] != ""
}

// Spread is a client's fixed offset within a slot, so that the clients of a
// schedule do not all hit Keycloak (and restart their workloads) in the
// same second: up to a tenth of the schedule's shortest gap and of the
// grace period, at most five minutes.
func Spread(uid string, minGap, grace time.Duration) time.Duration {
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

// RequestKey is what status keeps of an annotation value: the value, or
// its SHA-256 when it is long.
func RequestKey(v string) string {
	if len(v) <= 64 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Epoch parses Keycloak's time attributes (seconds since the epoch); zero
// when absent, malformed, or not after the epoch.
func Epoch(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// newState works out what the policies read.
func newState(in Input) *State {
	s := &State{In: in, St: in.Status.DeepCopy()}
	if s.St == nil {
		s.St = &authv1.SecretRotationStatus{}
	}
	attrs := in.Attributes
	s.Created = attrs[AttrSecretCreated]
	if Epoch(s.Created).IsZero() || len(s.Created) > 20 {
		s.Created = "" // an attribute anyone with console access can edit
	}
	// The realm's rotation, if this client is under it. Its schedule and
	// grace are what Keycloak enforces, not the policies' wish.
	if in.Realm != nil && in.Governed && attrs[desired.AttrSecretRotation] == desired.RotationMarker {
		if sch, err := schedule.Parse(in.Realm.Schedule); err == nil {
			s.Schedule, s.Grace = sch, time.Duration(in.Realm.GracePeriodSeconds)*time.Second
		}
	}
	if in.Governed && in.Realm == nil {
		s.Note = fmt.Sprintf("secret rotation waits for AuthServer %s to set it up in realm %q (see its %s condition)", in.AuthServer, in.RealmName, authv1.SecretRotationCondition)
	}
	s.slots()
	s.Request = RequestKey(in.Annotations[authv1.AnnotationRotateSecret])
	s.RequestDue = s.Request != "" && s.Request != s.St.LastRequest
	s.Revoke = RequestKey(in.Annotations[authv1.AnnotationRevokePreviousSecret])
	s.RevokeDue = s.Revoke != "" && s.Revoke != s.St.LastRevokeRequest
	if s.RevokeDue && !s.RequestDue {
		s.St.LastRevokeRequest = s.Revoke // RevokeNow: done by the caller first
	}
	s.pending()
	return s
}

// slots works out the schedule: the slot due, the next one, and whether
// the secret expires before it.
func (s *State) slots() {
	st := s.St
	if s.Schedule == nil {
		st.Policy, st.Schedule, st.NextRotationTime, st.LastScheduledSlot = "", "", nil, nil
		return
	}
	realm, now := s.In.Realm, s.In.Now
	offset := Spread(s.In.UID, s.Schedule.MinGap, s.Grace)
	s.Slot = s.Schedule.Prev(now.Add(-offset))
	if st.Schedule != realm.Schedule || st.LastScheduledSlot == nil {
		// Rotation starts, or its schedule changed: count from now rather
		// than rotating at once for a slot that passed before.
		st.LastScheduledSlot = &metav1.Time{Time: s.Slot}
	}
	st.Policy, st.Schedule = realm.Policy, realm.Schedule
	s.SlotDue = s.Slot.After(st.LastScheduledSlot.Time)
	if s.SlotDue && st.LastRotationReason == ReasonRequested && st.LastRotationTime != nil && st.LastRotationTime.After(s.Slot.Add(-s.Grace)) {
		// A requested rotation inside the grace period before this slot
		// stands for it: rotating again would cut its grace short.
		st.LastScheduledSlot, s.SlotDue, s.SlotAbsorbed = &metav1.Time{Time: s.Slot}, false, true
	}
	s.Next = s.Schedule.Next(now.Add(-offset)).Add(offset)
	st.NextRotationTime = &metav1.Time{Time: s.Next}
	// A secret that would expire before the next slot (the schedule changed
	// to a longer one, after its last rotation) rotates now. Once only: if
	// the expiry comes from something else (another client policy of the
	// realm), rotating again would not move it.
	exp := Epoch(s.In.Attributes[AttrSecretExpires])
	s.ExpiresAt = exp
	if s.SlotDue || exp.IsZero() || !exp.Before(s.Next.Add(time.Minute)) {
		return
	}
	if st.LastRotationReason == ReasonExpiring && st.LastRotationTime != nil && !Epoch(s.Created).Before(st.LastRotationTime.Add(-time.Minute)) {
		s.ExpiryStuck = true
		s.Note = fmt.Sprintf("Keycloak expires this client's secret at %s, before its next rotation at %s, and an early rotation did not change that: does another client policy of realm %q apply to it?",
			exp.Format(time.RFC3339), s.Next.Format(time.RFC3339), s.In.RealmName)
		return
	}
	s.Expiring = true
}

// pending works out whether Keycloak rotated for the pending rotation, and
// drops one that did not happen and is no longer wanted.
func (s *State) pending() {
	p := s.St.Pending
	if p == nil {
		return
	}
	// Did Keycloak rotate for it? Any of: Keycloak's creation record moved
	// (seconds: not enough alone, a rotation can fall in the second the
	// secret was made), Keycloak's secret is not the one the Secret held
	// (known when they agreed at the start), or the Secret already records
	// this rotation (the operator stopped after writing it).
	sec := s.In.Secret
	s.Rotated = p.SecretCreatedBefore != s.Created ||
		sec != nil && (sec.RotationID == p.ID || p.SecretSynced && !sec.HoldsCurrent)
	wanted := p.Request != "" && p.Request == s.Request && s.RequestDue || p.Slot != nil && s.SlotDue || p.Reason == ReasonExpiring && s.Expiring
	if !s.Rotated && !wanted {
		// Not made, and no longer wanted (the annotation changed or went).
		s.St.Pending = nil
	}
}
