package rotation

import (
	"fmt"
	"time"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// The policies of Chain, in its order. Each reads the State and fires with
// a verdict, or passes. Their names are the verdicts' Why.
const (
	WhyResumeInterrupted    = "ResumeInterrupted"
	WhyRealmNotReady        = "RealmNotReady"
	WhyRetryPending         = "RetryPending"
	WhyRequested            = "Requested"
	WhyScheduledSlot        = "ScheduledSlot"
	WhyExpiringSecret       = "ExpiringSecret"
	WhyRequestStandsForSlot = "RequestStandsForSlot"
	WhyExpiryNotMoved       = "ExpiryNotMoved"
	WhyNotRotating          = "NotRotating"
	WhyNotDue               = "NotDue"
)

// ResumeInterrupted: Keycloak rotated for the pending rotation, and the
// operator was interrupted before it finished (killed, the answer lost).
// The rotation is completed from Keycloak's current secret, not repeated.
func ResumeInterrupted(s *State) (Verdict, bool) {
	p := s.St.Pending
	if p == nil || !s.Rotated {
		return Verdict{}, false
	}
	return Verdict{Resume, WhyResumeInterrupted, fmt.Sprintf("Keycloak made the secret of the %s rotation %s; it is completed, not repeated", p.Reason, p.ID)}, true
}

// RealmNotReady: something is due, the client is governed, but the realm
// does not rotate it with a grace period yet (the AuthServer has not set
// rotation up, or the client does not carry the marker yet): a regenerate
// now would end the previous secret at once.
func RealmNotReady(s *State) (Verdict, bool) {
	if !s.In.Governed || s.Schedule != nil || !s.due() {
		return Verdict{}, false
	}
	return Verdict{Wait, WhyRealmNotReady, fmt.Sprintf("a secret rotation is due and waits for AuthServer %s to set up rotation in realm %q (see its %s condition)",
		s.In.AuthServer, s.In.RealmName, authv1.SecretRotationCondition)}, true
}

// RetryPending: a rotation was recorded as pending, Keycloak shows it did
// not happen, and it is still wanted: it is asked for again.
func RetryPending(s *State) (Verdict, bool) {
	p := s.St.Pending
	if p == nil {
		return Verdict{}, false
	}
	return Verdict{Rotate, WhyRetryPending, fmt.Sprintf("the %s rotation %s did not happen in Keycloak; asking again", p.Reason, p.ID)}, true
}

// Requested: the rotate-secret annotation has a value not acted upon yet.
func Requested(s *State) (Verdict, bool) {
	if !s.RequestDue {
		return Verdict{}, false
	}
	return Verdict{Rotate, WhyRequested, fmt.Sprintf("annotation %s has a new value", authv1.AnnotationRotateSecret)}, true
}

// ScheduledSlot: a slot of the realm's schedule passed that no rotation
// served.
func ScheduledSlot(s *State) (Verdict, bool) {
	if !s.SlotDue {
		return Verdict{}, false
	}
	return Verdict{Rotate, WhyScheduledSlot, fmt.Sprintf("the slot of %s at %s is due", s.St.Schedule, s.Slot.Format(time.RFC3339))}, true
}

// ExpiringSecret: Keycloak expires the secret before the next slot (the
// schedule changed to a longer one after its last rotation): it rotates
// now, under the current expiry period.
func ExpiringSecret(s *State) (Verdict, bool) {
	if !s.Expiring {
		return Verdict{}, false
	}
	return Verdict{Rotate, WhyExpiringSecret, fmt.Sprintf("the secret expires at %s, before the next rotation at %s",
		s.ExpiresAt.Format(time.RFC3339), s.Next.Format(time.RFC3339))}, true
}

// RequestStandsForSlot: a slot passed, but a requested rotation inside the
// grace period before it stands for it (rotating again would cut its grace
// short).
func RequestStandsForSlot(s *State) (Verdict, bool) {
	if !s.SlotAbsorbed {
		return Verdict{}, false
	}
	return Verdict{Nothing, WhyRequestStandsForSlot, fmt.Sprintf("the requested rotation at %s stands for the slot at %s",
		s.St.LastRotationTime.Format(time.RFC3339), s.Slot.Format(time.RFC3339))}, true
}

// ExpiryNotMoved: the secret expires before the next slot, and an early
// rotation did not move the expiry: rotating again would not either.
func ExpiryNotMoved(s *State) (Verdict, bool) {
	if !s.ExpiryStuck {
		return Verdict{}, false
	}
	return Verdict{Nothing, WhyExpiryNotMoved, s.Note}, true
}

// NotRotating: no schedule applies to this client (no policy rotates it,
// or the realm does not yet).
func NotRotating(s *State) (Verdict, bool) {
	if s.Schedule != nil {
		return Verdict{}, false
	}
	return Verdict{Nothing, WhyNotRotating, "no rotation schedule applies to this client"}, true
}

// NotDue: the next slot is ahead.
func NotDue(s *State) (Verdict, bool) {
	return Verdict{Nothing, WhyNotDue, fmt.Sprintf("the next rotation is due at %s", s.Next.Format(time.RFC3339))}, true
}

// due: a rotation is pending or some trigger is due.
func (s *State) due() bool {
	return s.St.Pending != nil || s.SlotDue || s.Expiring || s.RequestDue
}
