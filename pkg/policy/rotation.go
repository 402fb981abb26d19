package policy

import (
	"fmt"
	"time"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/schedule"
)

// Rotation is the secret rotation a policy enables.
type Rotation struct {
	// Policy is the key of the policy it comes from.
	Policy string
	// Schedule is the policy's schedule expression (UTC).
	Schedule string
	// GracePeriod is the policy's gracePeriod; zero when omitted (see Plan).
	GracePeriod time.Duration
}

// DefaultGracePeriod applies when a policy sets none, unless the schedule's
// slots are closer together.
const DefaultGracePeriod = 24 * time.Hour

// MaxGap is the longest time a schedule may leave between two rotations.
// Keycloak keeps a secret's expiry in a 32-bit field of epoch seconds:
// twice this (the expiry of MaxGap with its slack) stays far below 2038.
const MaxGap = 366 * 24 * time.Hour

// MinExpirySlack is the least time a secret outlives the longest gap of its
// schedule, for an operator outage.
const MinExpirySlack = 24 * time.Hour

func rotationOf(p *authv1.AuthPolicy) *Rotation {
	ca := p.Spec.ClientAuthentication
	if ca == nil || ca.SecretRotation == nil || !ca.SecretRotation.Enabled {
		return nil
	}
	r := &Rotation{Policy: Key(p), Schedule: ca.SecretRotation.Schedule}
	if g := ca.SecretRotation.GracePeriod; g != nil {
		r.GracePeriod = g.Duration
	}
	return r
}

// RotationPlan is a rotation worked out: its schedule, the grace period
// and the lifetime Keycloak gives every secret.
type RotationPlan struct {
	Schedule *schedule.Schedule
	// Grace is how long the previous secret stays valid after a rotation.
	Grace time.Duration
	// Expiration is how long a secret lives unless rotated: the schedule's
	// longest gap plus the larger of that gap and MinExpirySlack. Keycloak
	// does not rotate on its own; this is the time the operator may be away
	// (after a missed slot) before secrets stop working.
	Expiration time.Duration
}

// Plan works out a rotation, or says why it cannot be applied: a schedule
// that never fires, or a gracePeriod longer than the shortest gap between
// two slots (Keycloak keeps one previous secret, so the next rotation would
// end the grace period early). The API server refuses most of these at
// admission; this is the check for what CEL cannot compute (cron gaps).
func (r Rotation) Plan() (RotationPlan, error) {
	s, err := schedule.Parse(r.Schedule)
	if err != nil {
		return RotationPlan{}, fmt.Errorf("spec.clientAuthentication.secretRotation.schedule: %w", err)
	}
	if s.MaxGap > MaxGap {
		return RotationPlan{}, fmt.Errorf("spec.clientAuthentication.secretRotation.schedule: schedule %q has %s between two rotations; it must rotate at least once every 366 days", r.Schedule, s.MaxGap)
	}
	grace := r.GracePeriod
	switch {
	case grace == 0:
		grace = min(DefaultGracePeriod, s.MinGap)
	case grace > s.MinGap:
		return RotationPlan{}, fmt.Errorf("spec.clientAuthentication.secretRotation.gracePeriod %s is longer than the shortest time between two rotations of schedule %q (%s): Keycloak keeps one previous secret, so the next rotation would end the grace period early",
			grace, r.Schedule, s.MinGap)
	}
	return RotationPlan{Schedule: s, Grace: grace, Expiration: s.MaxGap + max(s.MaxGap, MinExpirySlack)}, nil
}

// CheckRotation returns why p's rotation cannot be applied, or nil.
func CheckRotation(p *authv1.AuthPolicy) error {
	r := rotationOf(p)
	if r == nil {
		return nil
	}
	_, err := r.Plan()
	return err
}

// MinMountedSecretGrace is the shortest grace period that lets pods which
// read the Secret as a mounted file follow a rotation without a failed
// request. The kubelet rewrites a mounted Secret on its periodic pod sync
// (syncFrequency, 1m by default, plus jitter), not when the Secret changes:
// make e2e-cluster measured 79 s between Keycloak's rotation and the new
// file in a pod (docs/guides/rotation.md).
const MinMountedSecretGrace = 2 * time.Minute

// GraceWarning says, for an admission warning, when p's rotation is valid
// but its grace period (set, or the default capped by the schedule) is
// shorter than MinMountedSecretGrace; "" otherwise. It is a warning, not a
// refusal: apps that read the Secret through the API, or restart on
// rotation, do not wait for the kubelet.
func GraceWarning(p *authv1.AuthPolicy) string {
	r := rotationOf(p)
	if r == nil {
		return ""
	}
	plan, err := r.Plan()
	if err != nil || plan.Grace >= MinMountedSecretGrace {
		return ""
	}
	return fmt.Sprintf("spec.clientAuthentication.secretRotation.gracePeriod: the previous secret stops working %s after a rotation, "+
		"sooner than a kubelet refreshes a Secret mounted as a volume (about a minute, up to %s): pods that read the mounted file "+
		"may send the previous secret after it stopped working; use a gracePeriod of at least %s (and a schedule that allows it)",
		plan.Grace, MinMountedSecretGrace, MinMountedSecretGrace)
}
