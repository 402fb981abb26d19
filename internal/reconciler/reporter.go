// Package reconciler holds the plumbing every Nauthera reconciler shares:
// conditions, Events, logs and metrics reported together, error
// classification, status patching, finalizers, deletion settlement, backoff
// and resync jitter.
package reconciler

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Object is a Nauthera API object with status conditions.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// Bounds on what the reporter writes. The API server refuses Events whose
// note exceeds 1 KiB (the Event is then lost), and a condition message is
// read in `kubectl describe`, not paged through.
const (
	MaxEventNote        = 1000
	MaxConditionMessage = 2000
)

// Reporter sets conditions, logs, emits Events and counts outcomes together,
// so that what `kubectl describe` shows, what the logs say and what the
// metrics count never disagree.
//
// Events fire on transitions only: a change of the Ready status or reason,
// or a new generation of the spec; an object Ready at its first outcome
// emits none (announce). A change in the wording of an error (a
// refused connection becoming an HTTP 503 during one outage) updates the
// condition message but emits nothing. Conditions beside Ready follow one
// rule too (Condition, Caution, ConditionEvent).
//
// observedGeneration is written when the outcome for the current generation
// is known: Ready, or Stalled (a failure that retrying cannot fix). While
// the operator waits or retries a transient failure it keeps the last
// generation it concluded, so kstatus (Flux, Argo CD) reads "in progress".
type Reporter struct {
	Recorder events.EventRecorder
	// Kind labels the outcome metrics, e.g. "AuthClient".
	Kind string
}

// Ready marks obj Ready for its current generation, with a Normal Event if
// it was not Ready before and had a Ready condition (announce): a recovery,
// the end of a wait, a spec edit applied; not a first provisioning.
func (r Reporter) Ready(ctx context.Context, obj Object, reason, msg string) {
	r.set(ctx, obj, OutcomeReady, corev1.EventTypeNormal, reason, msg)
}

// Stalled marks obj not Ready because of a failure that retrying cannot fix
// (an invalid spec, a conflict, a refusal), with a Warning Event on transition.
func (r Reporter) Stalled(ctx context.Context, obj Object, reason, msg string) {
	r.set(ctx, obj, OutcomeStalled, corev1.EventTypeWarning, reason, msg)
}

// Retrying marks obj not Ready because of a failure that is retried with
// backoff (Keycloak unreachable), with a Warning Event on transition.
func (r Reporter) Retrying(ctx context.Context, obj Object, reason, msg string) {
	r.set(ctx, obj, OutcomeTransient, corev1.EventTypeWarning, reason, msg)
}

// Wait marks obj not Ready yet while it waits for something expected to
// happen soon (a new AuthServer provisioning its realm), with a Normal Event.
func (r Reporter) Wait(ctx context.Context, obj Object, reason, msg string) {
	r.set(ctx, obj, OutcomeWaiting, corev1.EventTypeNormal, reason, msg)
}

// Fail reports a failure as Retrying (transient) or Stalled.
func (r Reporter) Fail(ctx context.Context, obj Object, reason, msg string, transient bool) {
	if transient {
		r.Retrying(ctx, obj, reason, msg)
	} else {
		r.Stalled(ctx, obj, reason, msg)
	}
}

func (r Reporter) set(ctx context.Context, obj Object, outcome Outcome, eventType, reason, msg string) {
	msg = Truncate(msg, MaxConditionMessage)
	status := metav1.ConditionFalse
	if outcome == OutcomeReady {
		status = metav1.ConditionTrue
	}
	if transition(obj, status, reason, outcome == OutcomeStalled) {
		log := ctrl.LoggerFrom(ctx)
		if outcome == OutcomeReady || outcome == OutcomeWaiting {
			log.Info("Reconciled", "outcome", outcome, "reason", reason, "message", msg)
		} else {
			log.Info("Reconcile failed", "outcome", outcome, "reason", reason, "message", msg)
		}
		if announce(FindReady(obj), outcome) {
			r.emit(obj, eventType, reason, msg)
		}
	}
	SetCondition(obj, authv1.ReadyCondition, status, reason, msg)
	switch outcome {
	case OutcomeReady:
		RemoveCondition(obj, authv1.ReconcilingCondition)
		RemoveCondition(obj, authv1.StalledCondition)
		obj.SetObservedGeneration(obj.GetGeneration())
	case OutcomeStalled:
		SetCondition(obj, authv1.StalledCondition, metav1.ConditionTrue, reason, msg)
		RemoveCondition(obj, authv1.ReconcilingCondition)
		obj.SetObservedGeneration(obj.GetGeneration())
	default:
		SetCondition(obj, authv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
		RemoveCondition(obj, authv1.StalledCondition)
	}
	countOutcome(r.Kind, outcome, reason)
}

// announce says whether a transition of Ready (prev: the condition before
// it, nil when it had none) is worth an Event. Every one is, except an
// object Ready at its first outcome: the Ready condition (its message in
// `kubectl describe`) already says all that Event would, and at scale it
// is one API write per new object. Ready after a failure or a wait (a
// recovery) and after a spec edit is announced; so is every failure. The
// same rule as ConditionEvent's "True from the start is no news".
func announce(prev *metav1.Condition, outcome Outcome) bool {
	return outcome != OutcomeReady || prev != nil
}

// transition reports whether setting Ready to status/reason is news: the
// status or reason changes, the failure turns permanent (or stops being
// so: a wait that ends Stalled must warn even with the same reason), or the
// spec has a generation Ready did not see.
func transition(obj Object, status metav1.ConditionStatus, reason string, stalled bool) bool {
	c := FindReady(obj)
	wasStalled := meta.IsStatusConditionTrue(obj.GetConditions(), authv1.StalledCondition)
	return c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != obj.GetGeneration() || wasStalled != stalled
}

// Condition sets a condition beside Ready (SecretRotationReady,
// UserStoreReady, CertificateReady, ...) on obj, with the Event that
// ConditionEvent says: conditions beside Ready all follow that one rule.
// Like Ready's, the message is bounded and its wording alone emits nothing.
func (r Reporter) Condition(ctx context.Context, obj Object, c metav1.Condition) {
	r.condition(ctx, obj, c, false)
}

// Caution sets a condition beside Ready that is True (what it describes
// works) but needs attention soon, such as a certificate about to expire:
// the same rule as Condition, with a Warning Event instead of a Normal one.
func (r Reporter) Caution(ctx context.Context, obj Object, c metav1.Condition) {
	r.condition(ctx, obj, c, true)
}

func (r Reporter) condition(ctx context.Context, obj Object, c metav1.Condition, caution bool) {
	c.Message = Truncate(c.Message, MaxConditionMessage)
	prev := meta.FindStatusCondition(obj.GetConditions(), c.Type)
	if typ := ConditionEvent(prev, c, caution); typ != "" {
		r.Event(ctx, obj, typ, c.Reason, c.Message)
	}
	SetCondition(obj, c.Type, c.Status, c.Reason, c.Message)
}

// NewCondition is a condition of type typ for Condition and Caution.
func NewCondition(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

// ConditionEvent is the Event-on-transition rule of the conditions beside
// Ready: it returns the type of the Event to emit when next replaces prev
// (nil: the condition was not set), or "" for none. An Event fires only
// when the status or the reason changes: a Warning when the condition is
// False (or True with a caution), a Normal one when it recovers. A
// condition that is True from the start is no news and emits nothing.
func ConditionEvent(prev *metav1.Condition, next metav1.Condition, caution bool) string {
	if prev != nil && prev.Status == next.Status && prev.Reason == next.Reason {
		return ""
	}
	switch {
	case next.Status == metav1.ConditionFalse, caution:
		return corev1.EventTypeWarning
	case prev != nil:
		return corev1.EventTypeNormal
	default:
		return ""
	}
}

// Event emits an Event that is not tied to a condition change (a drift
// repaired, a client created), and logs it.
func (r Reporter) Event(ctx context.Context, obj Object, typ, reason, msg string) {
	if r.emit(obj, typ, reason, msg) {
		ctrl.LoggerFrom(ctx).Info("Recorded Event", "type", typ, "reason", reason, "note", msg)
	}
}

// emit records an Event. The note is passed as an argument, never as the
// format: user text such as a clientId may contain '%'.
func (r Reporter) emit(obj Object, typ, reason, note string) bool {
	note = Truncate(note, MaxEventNote)
	if emitted.repeat(string(obj.GetUID()), typ+"\x00"+reason+"\x00"+note, time.Now()) {
		return false
	}
	r.Recorder.Eventf(obj, nil, typ, reason, "Reconcile", "%s", note)
	return true
}

// emitted remembers the last Event sent for each object. Two reconciles of
// one object can both see the status from before the first one's patch
// (the cache lags) and both emit the same transition Event. client-go folds
// such twins into an Event series, but two twins recorded a few
// milliseconds apart race in it, and the Event can be lost. So an Event
// that merely repeats the last one of its object within dedupWindow is not
// sent again; any other Event in between (a Warning, then the recovery) is.
// Hand-written: a map with expiry, bounded by pruning.
var emitted = &recentEvents{last: map[string]lastEvent{}}

const dedupWindow = 30 * time.Second

type lastEvent struct {
	key string
	at  time.Time
}

type recentEvents struct {
	mu   sync.Mutex
	last map[string]lastEvent
}

func (e *recentEvents) repeat(uid, key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.last[uid]; ok && l.key == key && now.Sub(l.at) < dedupWindow {
		return true
	}
	e.last[uid] = lastEvent{key: key, at: now}
	if len(e.last) > 4096 {
		for k, l := range e.last {
			if now.Sub(l.at) >= dedupWindow {
				delete(e.last, k)
			}
		}
	}
	return false
}

// Truncate bounds s to limit bytes, keeping its head and saying it was cut.
// It never splits a UTF-8 character.
func Truncate(s string, limit int) string {
	const cut = " … (truncated)"
	if limit < 0 {
		limit = 0
	}
	if len(s) <= limit {
		return s
	}
	if limit < len(cut) {
		n := limit
		for n > 0 && !utf8RuneStart(s[n]) {
			n--
		}
		return s[:n]
	}
	n := limit - len(cut)
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + cut
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// SetCondition sets a condition for obj's current generation.
func SetCondition(obj Object, typ string, status metav1.ConditionStatus, reason, msg string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// RemoveCondition removes the condition of this type, if any.
func RemoveCondition(obj Object, typ string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, typ)
	obj.SetConditions(conds)
}

// PatchStatus writes obj's status if it differs from before.
func PatchStatus(ctx context.Context, c client.Client, before, obj Object, getStatus func(Object) any) error {
	if equality.Semantic.DeepEqual(getStatus(before), getStatus(obj)) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to patch status", "object", klog.KObj(obj))
		return client.IgnoreNotFound(err)
	}
	return nil
}

// Failed reports err on obj and says how to retry: transient failures go
// back to the rate limiter (backoff); others wait for a change to the spec or
// to a watched object, or for the slow resync.
func (r Reporter) Failed(ctx context.Context, obj Object, err error, resync time.Duration) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		// Our copy of an object was stale (an optimistic-lock patch lost a
		// race): nothing is wrong, so the conditions stay as they are and
		// the object is retried.
		ctrl.LoggerFrom(ctx).V(1).Info("Conflict writing an object, retrying", "error", err.Error())
		return ctrl.Result{}, err
	}
	f := Classify(err)
	switch {
	case f.Waiting:
		r.Wait(ctx, obj, f.Reason, f.Msg)
		after := 2 * time.Second
		if f.RetryAfter > 0 {
			after = f.RetryAfter
		}
		return ctrl.Result{RequeueAfter: after}, nil
	case f.Transient && f.RetryAfter > 0:
		r.Retrying(ctx, obj, f.Reason, f.Msg)
		return ctrl.Result{RequeueAfter: f.RetryAfter}, nil
	case f.Transient:
		r.Retrying(ctx, obj, f.Reason, f.Msg)
		return ctrl.Result{}, err
	default:
		r.Stalled(ctx, obj, f.Reason, f.Msg)
		return ctrl.Result{RequeueAfter: resync}, nil
	}
}

// Jitter spreads resyncs so that many objects do not hit Keycloak at once.
func Jitter(d time.Duration, key string) time.Duration {
	var h uint32 = 2166136261
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return d + time.Duration(h%1000)*d/10000 // up to +10%
}

// IsReady reports whether obj's Ready condition is True for its current generation.
func IsReady(obj Object) bool {
	c := FindReady(obj)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

// FindReady returns obj's Ready condition, or nil.
func FindReady(obj Object) *metav1.Condition {
	return meta.FindStatusCondition(obj.GetConditions(), authv1.ReadyCondition)
}
