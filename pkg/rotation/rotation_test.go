package rotation

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
)

// The fixture: a realm rotating @every 1h with a 10 s grace. A 10 s grace
// makes the client's offset within the slot zero (a tenth of it, in whole
// seconds), so the slots are the whole hours.
var (
	t0      = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) // a slot
	created = t0.Add(-time.Hour)                            // the current secret's creation (the slot before)
)

func at(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// base is a governed client under the realm's schedule, whose last slot
// (09:00) was served, five seconds after the 10:00 slot.
func base() Input {
	return Input{
		Now: t0.Add(5 * time.Second),
		UID: "3f1c0a52-0000-4000-8000-000000000001",
		Status: &authv1.SecretRotationStatus{
			Policy: "security/rotate", Schedule: "@every 1h",
			LastScheduledSlot: at(created), NextRotationTime: at(t0),
			LastRotationTime: at(created), LastRotationReason: ReasonScheduled,
		},
		Attributes: map[string]string{
			desired.AttrSecretRotation: desired.RotationMarker,
			AttrSecretCreated:          unix(created),
			AttrSecretExpires:          unix(created.Add(25 * time.Hour)),
		},
		Realm:    &authv1.RealmRotationStatus{Policy: "security/rotate", Schedule: "@every 1h", GracePeriodSeconds: 10, ExpirationSeconds: 25 * 3600},
		Governed: true, AuthServer: "security/main", RealmName: "prod",
	}
}

// notDue moves base to half past ten, the 10:00 slot served.
func notDue(in *Input) {
	in.Now = t0.Add(30 * time.Minute)
	in.Status.LastScheduledSlot = at(t0)
}

func annotated(kv ...string) func(*Input) {
	return func(in *Input) {
		in.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			in.Annotations[kv[i]] = kv[i+1]
		}
	}
}

// pending puts a rotation in flight: requested with value "1", made when
// the secret was the one created at 09:00, the Secret holding it then.
func pending(in *Input) {
	notDue(in)
	in.Annotations = map[string]string{authv1.AnnotationRotateSecret: "1"}
	in.Status.Pending = &authv1.PendingRotation{ID: "0123456789abcdef", Reason: ReasonRequested, Request: "1",
		Since: metav1.Time{Time: in.Now.Add(-time.Minute)}, SecretCreatedBefore: unix(created), SecretSynced: true}
	in.Secret = &SecretFacts{HoldsCurrent: true}
}

func all(fs ...func(*Input)) func(*Input) {
	return func(in *Input) {
		for _, f := range fs {
			f(in)
		}
	}
}

type want struct {
	action Action
	why    string
	// reason of the rotation (Rotate, Resume).
	reason string
}

func TestDecide(t *testing.T) {
	// The fixture client's offset within a slot under a one-hour grace.
	off := Spread(base().UID, time.Hour, time.Hour)
	if off == 0 {
		t.Fatal("the fixture's UID has no offset within the slot")
	}
	cases := []struct {
		name  string
		in    func(*Input)
		want  want
		check func(*testing.T, Decision)
	}{
		// Scheduled.
		{"slot due", nil, want{Rotate, WhyScheduledSlot, ReasonScheduled}, func(t *testing.T, d Decision) {
			p := d.Status.Pending
			if !d.NewPending || p.Slot == nil || !p.Slot.Equal(at(t0)) || !p.Since.Equal(at(t0.Add(5*time.Second))) || p.SecretCreatedBefore != unix(created) || p.Request != "" {
				t.Errorf("pending %+v", p)
			}
			if !d.Status.LastScheduledSlot.Equal(at(created)) {
				t.Error("the slot is recorded as served before the rotation happened")
			}
		}},
		{"slot due exactly at its time", func(in *Input) { in.Now = t0 }, want{Rotate, WhyScheduledSlot, ReasonScheduled}, nil},
		{"a second before the slot", func(in *Input) { in.Now = t0.Add(-time.Second) }, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if !d.Next.Equal(t0) || !d.Status.NextRotationTime.Equal(at(t0)) {
				t.Errorf("next %s, status %s", d.Next, d.Status.NextRotationTime)
			}
		}},
		{"slot served", notDue, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if !d.Scheduled || d.Grace != 10*time.Second || !d.Next.Equal(t0.Add(time.Hour)) || d.Status.Pending != nil {
				t.Errorf("decision %+v", d)
			}
		}},
		{"rotation starts: counts from now", func(in *Input) { in.Status = nil }, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if st := d.Status; !st.LastScheduledSlot.Equal(at(t0)) || st.Policy != "security/rotate" || st.Schedule != "@every 1h" {
				t.Errorf("status %+v", st)
			}
		}},
		{"schedule changed: counts from now", func(in *Input) { in.Status.Schedule = "@every 2h" }, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if !d.Status.LastScheduledSlot.Equal(at(t0)) || d.Status.Schedule != "@every 1h" {
				t.Errorf("status %+v", d.Status)
			}
		}},
		{"slots missed during an outage: one rotation", func(in *Input) { in.Now = t0.Add(5 * time.Hour) }, want{Rotate, WhyScheduledSlot, ReasonScheduled}, func(t *testing.T, d Decision) {
			if !d.Status.Pending.Slot.Equal(at(t0.Add(5 * time.Hour))) {
				t.Errorf("serves slot %s, want the latest", d.Status.Pending.Slot)
			}
		}},

		{"a client's offset within the slot: not due before it", func(in *Input) {
			in.Realm.GracePeriodSeconds = 3600
			in.Now = t0.Add(off - time.Second)
		}, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if !d.Next.Equal(t0.Add(off)) {
				t.Errorf("next %s, want the slot plus the client's offset %s", d.Next, off)
			}
		}},
		{"a client's offset within the slot: due at it", func(in *Input) {
			in.Realm.GracePeriodSeconds = 3600
			in.Now = t0.Add(off)
		}, want{Rotate, WhyScheduledSlot, ReasonScheduled}, func(t *testing.T, d Decision) {
			if !d.Status.Pending.Slot.Equal(at(t0)) || !d.Next.Equal(t0.Add(time.Hour+off)) {
				t.Errorf("slot %s, next %s", d.Status.Pending.Slot, d.Next)
			}
		}},

		// Requested.
		{"requested", all(notDue, annotated(authv1.AnnotationRotateSecret, "1")), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			if p := d.Status.Pending; p.Request != "1" || p.Slot != nil || !d.NewPending || d.RevokeAfter {
				t.Errorf("pending %+v, decision %+v", p, d)
			}
		}},
		{"request already served", all(notDue, annotated(authv1.AnnotationRotateSecret, "1"), func(in *Input) { in.Status.LastRequest = "1" }), want{Nothing, WhyNotDue, ""}, nil},
		{"long request kept as its hash", all(notDue, annotated(authv1.AnnotationRotateSecret, strings.Repeat("x", 65))), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			if r := d.Status.Pending.Request; !strings.HasPrefix(r, "sha256:") || len(r) != 71 {
				t.Errorf("request %q", r)
			}
		}},
		{"requested while a slot is due: one rotation serves both", annotated(authv1.AnnotationRotateSecret, "1"), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			st := d.Status.DeepCopy()
			d.Rotated(st, t0)
			if st.LastRequest != "1" || !st.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("served: %+v", st)
			}
		}},
		{"requested inside the grace before the slot stands for it", func(in *Input) {
			in.Status.LastRotationReason, in.Status.LastRotationTime = ReasonRequested, at(t0.Add(-5*time.Second))
		}, want{Nothing, WhyRequestStandsForSlot, ""}, func(t *testing.T, d Decision) {
			if !d.Status.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("the slot is not recorded as served: %s", d.Status.LastScheduledSlot)
			}
		}},
		{"requested exactly a grace before the slot does not", func(in *Input) {
			in.Status.LastRotationReason, in.Status.LastRotationTime = ReasonRequested, at(t0.Add(-10*time.Second))
		}, want{Rotate, WhyScheduledSlot, ReasonScheduled}, nil},
		{"scheduled inside the grace before the slot does not", func(in *Input) {
			in.Status.LastRotationTime = at(t0.Add(-5 * time.Second))
		}, want{Rotate, WhyScheduledSlot, ReasonScheduled}, nil},

		// Emergency.
		{"revoke alone: done first, nothing rotates", all(notDue, annotated(authv1.AnnotationRevokePreviousSecret, "leak-1")), want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if d.RevokeAfter || d.Status.LastRevokeRequest != "leak-1" {
				t.Errorf("revokeAfter %v, status %+v", d.RevokeAfter, d.Status)
			}
		}},
		{"revoke with a rotation: after it", all(notDue, annotated(authv1.AnnotationRotateSecret, "2", authv1.AnnotationRevokePreviousSecret, "leak-2")), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			if !d.RevokeAfter || d.Revoke != "leak-2" || d.Status.LastRevokeRequest != "" {
				t.Errorf("decision %+v", d)
			}
		}},
		{"revoke with a slot due: first", annotated(authv1.AnnotationRevokePreviousSecret, "leak-3"), want{Rotate, WhyScheduledSlot, ReasonScheduled}, func(t *testing.T, d Decision) {
			if d.RevokeAfter || d.Status.LastRevokeRequest != "leak-3" {
				t.Errorf("decision %+v", d)
			}
		}},

		// Expiring.
		{"expires before the next slot", all(notDue, func(in *Input) { in.Attributes[AttrSecretExpires] = unix(t0.Add(45 * time.Minute)) }), want{Rotate, WhyExpiringSecret, ReasonExpiring}, func(t *testing.T, d Decision) {
			if p := d.Status.Pending; p.Slot != nil || p.Request != "" || !d.ExpiresAt.Equal(t0.Add(45*time.Minute)) {
				t.Errorf("pending %+v, expires %s", p, d.ExpiresAt)
			}
		}},
		{"expires 59 s after the next slot", all(notDue, func(in *Input) { in.Attributes[AttrSecretExpires] = unix(t0.Add(time.Hour + 59*time.Second)) }), want{Rotate, WhyExpiringSecret, ReasonExpiring}, nil},
		{"expires a minute after the next slot", all(notDue, func(in *Input) { in.Attributes[AttrSecretExpires] = unix(t0.Add(time.Hour + time.Minute)) }), want{Nothing, WhyNotDue, ""}, nil},
		{"expiring while a slot is due: the slot", func(in *Input) { in.Attributes[AttrSecretExpires] = unix(t0.Add(30 * time.Minute)) }, want{Rotate, WhyScheduledSlot, ReasonScheduled}, nil},
		{"an early rotation did not move the expiry: once only", all(notDue, func(in *Input) {
			in.Attributes[AttrSecretExpires] = unix(t0.Add(45 * time.Minute))
			in.Attributes[AttrSecretCreated] = unix(t0.Add(10 * time.Minute))
			in.Status.LastRotationReason, in.Status.LastRotationTime = ReasonExpiring, at(t0.Add(10*time.Minute))
		}), want{Nothing, WhyExpiryNotMoved, ""}, func(t *testing.T, d Decision) {
			if !strings.Contains(d.Note, "an early rotation did not change that") || !strings.Contains(d.Note, `realm "prod"`) {
				t.Errorf("note %q", d.Note)
			}
		}},
		{"an early rotation did not move the expiry, Keycloak's clock 30 s behind: once only", all(notDue, func(in *Input) {
			in.Attributes[AttrSecretExpires] = unix(t0.Add(45 * time.Minute))
			in.Attributes[AttrSecretCreated] = unix(t0.Add(9*time.Minute + 30*time.Second))
			in.Status.LastRotationReason, in.Status.LastRotationTime = ReasonExpiring, at(t0.Add(10*time.Minute))
		}), want{Nothing, WhyExpiryNotMoved, ""}, nil},
		{"an early rotation whose secret was rotated since", all(notDue, func(in *Input) {
			in.Attributes[AttrSecretExpires] = unix(t0.Add(45 * time.Minute))
			in.Attributes[AttrSecretCreated] = unix(t0.Add(8 * time.Minute))
			in.Status.LastRotationReason, in.Status.LastRotationTime = ReasonExpiring, at(t0.Add(10*time.Minute))
		}), want{Rotate, WhyExpiringSecret, ReasonExpiring}, nil},

		// Rotation off, or not set up.
		{"rotation off: status forgets the schedule", func(in *Input) { in.Governed = false }, want{Nothing, WhyNotRotating, ""}, func(t *testing.T, d Decision) {
			if st := d.Status; d.Scheduled || st.Policy != "" || st.Schedule != "" || st.NextRotationTime != nil || st.LastScheduledSlot != nil || st.LastRotationTime == nil || d.Note != "" {
				t.Errorf("status %+v, note %q", st, d.Note)
			}
		}},
		{"rotation off: a request rotates without grace", all(annotated(authv1.AnnotationRotateSecret, "1"), func(in *Input) { in.Governed, in.Realm = false, nil }), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			if d.Scheduled || d.Grace != 0 || d.Note != "" {
				t.Errorf("decision %+v", d)
			}
		}},
		{"governed, realm not set up: nothing due", func(in *Input) { in.Realm = nil }, want{Nothing, WhyNotRotating, ""}, func(t *testing.T, d Decision) {
			if !strings.Contains(d.Note, "secret rotation waits for AuthServer security/main to set it up in realm \"prod\"") {
				t.Errorf("note %q", d.Note)
			}
		}},
		{"governed, realm not set up: a request waits", all(annotated(authv1.AnnotationRotateSecret, "1"), func(in *Input) { in.Realm = nil }), want{Wait, WhyRealmNotReady, ""}, func(t *testing.T, d Decision) {
			if !strings.HasPrefix(d.Note, "a secret rotation is due and waits for AuthServer security/main") || d.Status.Pending != nil || d.Status.LastRequest != "" {
				t.Errorf("note %q, status %+v", d.Note, d.Status)
			}
		}},
		{"governed, client not marked yet: a request waits", all(annotated(authv1.AnnotationRotateSecret, "1"), func(in *Input) { delete(in.Attributes, desired.AttrSecretRotation) }), want{Wait, WhyRealmNotReady, ""}, nil},
		{"governed, realm schedule unparsable", func(in *Input) { in.Realm.Schedule = "not a schedule" }, want{Nothing, WhyNotRotating, ""}, nil},
		{"pending, realm no longer set up: waits, pending kept", all(pending, func(in *Input) { in.Realm = nil }), want{Wait, WhyRealmNotReady, ""}, func(t *testing.T, d Decision) {
			if d.Status.Pending == nil || d.Status.Pending.Attempts != 0 {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},

		// Resume after a crash.
		{"pending, Keycloak's creation record moved: resume", all(pending, func(in *Input) { in.Attributes[AttrSecretCreated] = unix(in.Now.Add(-30 * time.Second)) }), want{Resume, WhyResumeInterrupted, ReasonRequested}, func(t *testing.T, d Decision) {
			if d.Status.Pending == nil || d.Status.LastRequest != "1" || d.Again || d.Created != unix(t0.Add(29*time.Minute+30*time.Second)) {
				t.Errorf("decision %+v, status %+v", d, d.Status)
			}
		}},
		{"pending, the Secret records the rotation: resume", all(pending, func(in *Input) { in.Secret.RotationID = "0123456789abcdef" }), want{Resume, WhyResumeInterrupted, ReasonRequested}, nil},
		{"pending, Keycloak's secret is not the Secret's: resume", all(pending, func(in *Input) { in.Secret.HoldsCurrent = false }), want{Resume, WhyResumeInterrupted, ReasonRequested}, nil},
		{"pending, the Secret did not hold Keycloak's secret before: no proof", all(pending, func(in *Input) {
			in.Status.Pending.SecretSynced, in.Secret.HoldsCurrent = false, false
		}), want{Rotate, WhyRetryPending, ReasonRequested}, nil},
		{"pending, nothing moved: retried", pending, want{Rotate, WhyRetryPending, ReasonRequested}, func(t *testing.T, d Decision) {
			if d.NewPending || d.Status.Pending.Attempts != 1 || d.Status.Pending.ID != "0123456789abcdef" {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},
		{"pending, no Secret, nothing moved: retried", all(pending, func(in *Input) { in.Secret = nil }), want{Rotate, WhyRetryPending, ReasonRequested}, nil},
		{"pending, the request changed: a new rotation", all(pending, annotated(authv1.AnnotationRotateSecret, "2")), want{Rotate, WhyRequested, ReasonRequested}, func(t *testing.T, d Decision) {
			if !d.NewPending || d.Status.Pending.Request != "2" || d.Status.Pending.ID != "" {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},
		{"pending, the request went: dropped", all(pending, annotated()), want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if d.Status.Pending != nil {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},
		{"resumed, another request came meanwhile: again", all(pending, annotated(authv1.AnnotationRotateSecret, "2"), func(in *Input) { in.Secret.RotationID = "0123456789abcdef" }), want{Resume, WhyResumeInterrupted, ReasonRequested}, func(t *testing.T, d Decision) {
			if !d.Again || d.Status.LastRequest != "1" {
				t.Errorf("again %v, status %+v", d.Again, d.Status)
			}
		}},
		{"scheduled pending, nothing moved: retried", func(in *Input) {
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonScheduled, Slot: at(t0), Since: metav1.Time{Time: t0}, SecretCreatedBefore: unix(created)}
		}, want{Rotate, WhyRetryPending, ReasonScheduled}, func(t *testing.T, d Decision) {
			if d.NewPending || d.Status.Pending.ID != "fedcba9876543210" || d.Status.Pending.Attempts != 1 {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},
		{"scheduled pending retried while a request came: one regenerate serves both", func(in *Input) {
			in.Annotations = map[string]string{authv1.AnnotationRotateSecret: "1"}
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonScheduled, Slot: at(t0), Since: metav1.Time{Time: t0}, SecretCreatedBefore: unix(created)}
		}, want{Rotate, WhyRetryPending, ReasonScheduled}, func(t *testing.T, d Decision) {
			st := d.Status.DeepCopy()
			d.Rotated(st, t0)
			if st.LastRequest != "1" || !st.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("served: %+v", st)
			}
		}},
		{"expiring pending, nothing moved: retried", all(notDue, func(in *Input) {
			in.Attributes[AttrSecretExpires] = unix(t0.Add(45 * time.Minute))
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonExpiring, Since: metav1.Time{Time: t0}, SecretCreatedBefore: unix(created)}
		}), want{Rotate, WhyRetryPending, ReasonExpiring}, func(t *testing.T, d Decision) {
			if d.NewPending || d.Status.Pending.ID != "fedcba9876543210" {
				t.Errorf("pending %+v", d.Status.Pending)
			}
		}},
		{"scheduled pending, Keycloak's creation record moved: resume, the slot served", func(in *Input) {
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonScheduled, Slot: at(t0), Since: metav1.Time{Time: t0}, SecretCreatedBefore: unix(created)}
			in.Attributes[AttrSecretCreated] = unix(t0.Add(time.Second))
		}, want{Resume, WhyResumeInterrupted, ReasonScheduled}, func(t *testing.T, d Decision) {
			if d.Again || !d.Status.LastScheduledSlot.Equal(at(t0)) || d.Status.Pending == nil {
				t.Errorf("again %v, status %+v", d.Again, d.Status)
			}
		}},
		{"scheduled pending of a slot before the served one: the served slot does not move back", func(in *Input) {
			in.Status.Schedule = "@every 2h" // changed: counts from the 10:00 slot
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonScheduled, Slot: at(created), Since: metav1.Time{Time: created}, SecretCreatedBefore: unix(created.Add(-time.Hour))}
		}, want{Resume, WhyResumeInterrupted, ReasonScheduled}, func(t *testing.T, d Decision) {
			if !d.Status.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("the served slot moved back: %s", d.Status.LastScheduledSlot)
			}
		}},
		{"scheduled pending, a later slot came meanwhile: again", func(in *Input) {
			in.Now = t0.Add(time.Hour + 5*time.Second)
			in.Status.Pending = &authv1.PendingRotation{ID: "fedcba9876543210", Reason: ReasonScheduled, Slot: at(t0), Since: metav1.Time{Time: t0}, SecretCreatedBefore: unix(created)}
			in.Attributes[AttrSecretCreated] = unix(t0.Add(time.Second))
		}, want{Resume, WhyResumeInterrupted, ReasonScheduled}, func(t *testing.T, d Decision) {
			if !d.Again || !d.Status.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("again %v, status %+v", d.Again, d.Status)
			}
		}},

		// Keycloak's attributes are anyone's with console access; clocks differ.
		{"creation record negative", all(pending, func(in *Input) { in.Attributes[AttrSecretCreated] = "-5" }), want{Resume, WhyResumeInterrupted, ReasonRequested}, func(t *testing.T, d Decision) {
			if d.Created != "" {
				t.Errorf("created %q", d.Created)
			}
		}},
		{"creation record too long", func(in *Input) { in.Attributes[AttrSecretCreated] = "000000000000000000001" }, want{Rotate, WhyScheduledSlot, ReasonScheduled}, func(t *testing.T, d Decision) {
			if d.Created != "" || d.Status.Pending.SecretCreatedBefore != "" {
				t.Errorf("created %q", d.Created)
			}
		}},
		{"Keycloak's clock ahead: its creation record is only compared with itself", all(pending, func(in *Input) {
			in.Attributes[AttrSecretCreated] = unix(in.Now.Add(24 * time.Hour))
			in.Status.Pending.SecretCreatedBefore = in.Attributes[AttrSecretCreated]
		}), want{Rotate, WhyRetryPending, ReasonRequested}, nil},
		{"operator's clock went back before the served slot", func(in *Input) {
			in.Status.LastScheduledSlot = at(t0)
			in.Now = t0.Add(-30 * time.Minute)
		}, want{Nothing, WhyNotDue, ""}, func(t *testing.T, d Decision) {
			if !d.Status.LastScheduledSlot.Equal(at(t0)) {
				t.Errorf("the served slot moved back: %s", d.Status.LastScheduledSlot)
			}
		}},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.want.why] = true
		t.Run(c.name, func(t *testing.T) {
			in := base()
			if c.in != nil {
				c.in(&in)
			}
			before := in.Status.DeepCopy()
			d := Decide(in)
			if d.Action != c.want.action || d.Why != c.want.why || d.Reason != c.want.reason {
				t.Fatalf("Decide = %s/%s reason %q (%s), want %s/%s reason %q", d.Action, d.Why, d.Reason, d.Message, c.want.action, c.want.why, c.want.reason)
			}
			if d.Message == "" {
				t.Error("the verdict says nothing")
			}
			// A rotation is recorded as pending before it is made; a pending
			// rotation is never left behind with nothing to do.
			if p := d.Status.Pending; d.Action == Rotate && (p == nil || p.Reason != d.Reason) || d.Action == Nothing && p != nil {
				t.Errorf("action %s with pending %+v", d.Action, p)
			}
			if in.Status != nil && !equalStatus(before, in.Status) {
				t.Error("Decide changed its input status")
			}
			if c.check != nil {
				c.check(t, d)
			}
		})
	}
	// Every policy of the chain fires in some case.
	for _, why := range []string{WhyResumeInterrupted, WhyRealmNotReady, WhyRetryPending, WhyRequested, WhyScheduledSlot, WhyExpiringSecret,
		WhyRequestStandsForSlot, WhyExpiryNotMoved, WhyNotRotating, WhyNotDue} {
		if !seen[why] {
			t.Errorf("no case where %s decides", why)
		}
	}
	if len(seen) != len(Chain) {
		t.Errorf("%d policies fire in the cases, the chain has %d", len(seen), len(Chain))
	}
}

func equalStatus(a, b *authv1.SecretRotationStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// RevokeNow: the emergency goes first unless a rotation is asked with it.
func TestRevokeNow(t *testing.T) {
	cases := []struct {
		name        string
		annotations []string
		lastRevoke  string
		lastRequest string
		want        bool
	}{
		{"new revoke", []string{authv1.AnnotationRevokePreviousSecret, "leak-1"}, "", "", true},
		{"revoke served", []string{authv1.AnnotationRevokePreviousSecret, "leak-1"}, "leak-1", "", false},
		{"with a new rotation request", []string{authv1.AnnotationRevokePreviousSecret, "leak-1", authv1.AnnotationRotateSecret, "r"}, "", "", false},
		{"with a served rotation request", []string{authv1.AnnotationRevokePreviousSecret, "leak-1", authv1.AnnotationRotateSecret, "r"}, "", "r", true},
		{"no annotation", nil, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			annotated(c.annotations...)(&in)
			in.Status.LastRevokeRequest, in.Status.LastRequest = c.lastRevoke, c.lastRequest
			key, ok := RevokeNow(in)
			if ok != c.want || ok && key != "leak-1" {
				t.Errorf("RevokeNow = %q, %v; want %v", key, ok, c.want)
			}
		})
	}
	if _, ok := RevokeNow(Input{Annotations: map[string]string{authv1.AnnotationRevokePreviousSecret: "x"}}); !ok {
		t.Error("no status yet: a revoke is new")
	}
}

func TestSettle(t *testing.T) {
	now := t0
	cases := []struct {
		name  string
		attrs map[string]string
		want  time.Time
	}{
		{"previous secret in its grace", map[string]string{AttrRotatedSecret: "x", AttrRotatedSecretExpires: unix(now.Add(time.Minute))}, now.Add(time.Minute)},
		{"grace ends now", map[string]string{AttrRotatedSecret: "x", AttrRotatedSecretExpires: unix(now)}, time.Time{}},
		{"revoked (no previous secret)", map[string]string{AttrRotatedSecretExpires: unix(now.Add(time.Minute))}, time.Time{}},
		{"malformed expiry", map[string]string{AttrRotatedSecret: "x", AttrRotatedSecretExpires: "soon"}, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &authv1.SecretRotationStatus{PreviousSecretValidUntil: at(now.Add(time.Hour))}
			got := Settle(st, c.attrs, now)
			if !got.Equal(c.want) || (st.PreviousSecretValidUntil == nil) != c.want.IsZero() {
				t.Errorf("Settle = %s, status %v; want %s", got, st.PreviousSecretValidUntil, c.want)
			}
			if got := GraceRunning(c.attrs, now); got != !c.want.IsZero() {
				t.Errorf("GraceRunning = %v", got)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	uids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	seen := map[time.Duration]bool{}
	for _, uid := range uids {
		o := Spread(uid, time.Hour, time.Hour)
		if o < 0 || o >= 5*time.Minute || o%time.Second != 0 {
			t.Errorf("Spread(%q) = %s, want whole seconds in [0, 5m)", uid, o)
		}
		if Spread(uid, time.Hour, time.Hour) != o {
			t.Errorf("Spread(%q) is not fixed", uid)
		}
		seen[o] = true
		if o := Spread(uid, 20*time.Second, 15*time.Second); o >= 1500*time.Millisecond {
			t.Errorf("Spread(%q) = %s over a tenth of a 15 s grace", uid, o)
		}
		if o := Spread(uid, 20*time.Second, 0); o >= 2*time.Second {
			t.Errorf("Spread(%q) = %s over a tenth of a 20 s schedule", uid, o)
		}
		if o := Spread(uid, 5*time.Second, 0); o != 0 {
			t.Errorf("Spread(%q) = %s within a window under a second", uid, o)
		}
	}
	if len(seen) < 4 {
		t.Errorf("%d distinct offsets for %d clients", len(seen), len(uids))
	}
}

func TestEpochAndRequestKey(t *testing.T) {
	for s, want := range map[string]time.Time{"1765015200": time.Unix(1765015200, 0).UTC(), "0": {}, "-1": {}, "": {}, "1e9": {}} {
		if got := Epoch(s); !got.Equal(want) {
			t.Errorf("Epoch(%q) = %s, want %s", s, got, want)
		}
	}
	if RequestKey("short") != "short" || RequestKey(strings.Repeat("a", 64)) != strings.Repeat("a", 64) {
		t.Error("a short value is kept as it is")
	}
	if k := RequestKey(strings.Repeat("a", 65)); k == RequestKey(strings.Repeat("a", 66)) || len(k) > 128 {
		t.Errorf("long values: %q", k)
	}
}

// A chain where no policy fires decides nothing, and says so.
func TestEvaluateEmptyChain(t *testing.T) {
	if v := Evaluate(nil, newState(base())); v.Action != Nothing || v.Message == "" {
		t.Errorf("empty chain: %+v", v)
	}
}

// Reconciles every 7 minutes over five hours, and one when the
// rotate-secret annotation is set; each rotation carried out the way the
// controller does (pending recorded, served, finished): one rotation per
// slot, never more; a request inside the grace period before a slot stands
// for it.
func TestOneRotationPerSlot(t *testing.T) {
	in := base()
	in.Now = t0.Add(time.Second)
	in.Status.LastScheduledSlot = at(t0) // the 10:00 slot was served
	requestAt := t0.Add(3*time.Hour - 5*time.Second)
	times := []time.Time{requestAt}
	for now := in.Now; now.Before(t0.Add(5*time.Hour + 10*time.Minute)); now = now.Add(7 * time.Minute) {
		times = append(times, now)
	}
	slices.SortFunc(times, time.Time.Compare)
	var reasons []string
	for _, now := range times {
		in.Now = now
		if !now.Before(requestAt) {
			in.Annotations = map[string]string{authv1.AnnotationRotateSecret: "r1"}
		}
		d := Decide(in)
		st := d.Status
		if d.Action == Rotate {
			st.Pending.ID = "0123456789abcdef"
			// The executor's own record of a rotation done and delivered.
			d.Rotated(st, now)
			Delivered(st)
			in.Attributes[AttrSecretCreated] = unix(now)
			in.Attributes[AttrSecretExpires] = unix(now.Add(25 * time.Hour))
			reasons = append(reasons, d.Reason+"@"+now.Format("15:04"))
		} else if d.Action != Nothing {
			t.Fatalf("%s: %s/%s", now, d.Action, d.Why)
		}
		in.Status = st
	}
	// Slots 11:00 and 12:00 rotate at the first reconcile after them; the
	// request at 12:59:55 stands for the 13:00 slot (10 s grace); 14:00 and
	// 15:00 rotate.
	want := []string{"Scheduled@11:03", "Scheduled@12:06", "Requested@12:59", "Scheduled@14:05", "Scheduled@15:01"}
	if strings.Join(reasons, " ") != strings.Join(want, " ") {
		t.Errorf("rotations %v, want %v", reasons, want)
	}
}
