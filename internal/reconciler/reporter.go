// Package reconciler holds the plumbing every Nauthera reconciler shares:
// conditions, Events and logs reported together, error classification,
// status patching, deletion settlement, backoff and resync jitter.
package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Object is a Nauthera API object with status conditions.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// Reporter sets conditions, logs and emits Events together, so that what
// `kubectl describe` shows and what the logs say never disagree. Events are
// emitted on transitions only, so a retry loop does not flood them.
type Reporter struct {
	Recorder events.EventRecorder
}

func SetCondition(obj Object, typ string, status metav1.ConditionStatus, reason, msg string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// changed reports whether Ready would get a new status, reason or message.
func changed(obj Object, status metav1.ConditionStatus, reason, msg string) bool {
	c := FindReady(obj)
	return c == nil || c.Status != status || c.Reason != reason || c.Message != msg
}

// Ready marks obj Ready and emits a Normal Event if it was not.
func (r Reporter) Ready(ctx context.Context, obj Object, reason, msg string) {
	if changed(obj, metav1.ConditionTrue, reason, msg) {
		ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Reconcile", msg)
	}
	SetCondition(obj, authv1.ReadyCondition, metav1.ConditionTrue, reason, msg)
	RemoveCondition(obj, authv1.ReconcilingCondition)
	RemoveCondition(obj, authv1.StalledCondition)
}

// Fail marks obj not Ready with a specific reason and emits a Warning Event
// if that is news. transient failures are Reconciling (the operator retries
// with backoff); others are Stalled until something changes.
func (r Reporter) Fail(ctx context.Context, obj Object, reason, msg string, transient bool) {
	if changed(obj, metav1.ConditionFalse, reason, msg) {
		ctrl.LoggerFrom(ctx).Info("Reconcile failed: "+msg, "reason", reason, "transient", transient)
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", msg)
	}
	SetCondition(obj, authv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	if transient {
		SetCondition(obj, authv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
		RemoveCondition(obj, authv1.StalledCondition)
	} else {
		SetCondition(obj, authv1.StalledCondition, metav1.ConditionTrue, reason, msg)
		RemoveCondition(obj, authv1.ReconcilingCondition)
	}
}

// Wait marks obj not Ready yet while it waits for something expected to
// happen soon, with a Normal Event.
func (r Reporter) Wait(ctx context.Context, obj Object, reason, msg string) {
	if changed(obj, metav1.ConditionFalse, reason, msg) {
		ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Reconcile", msg)
	}
	SetCondition(obj, authv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	SetCondition(obj, authv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
	RemoveCondition(obj, authv1.StalledCondition)
}

// Event emits an Event that is not tied to a condition change (a drift
// repaired, a client created).
func (r Reporter) Event(ctx context.Context, obj Object, typ, reason, msg string) {
	ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
	r.Recorder.Eventf(obj, nil, typ, reason, "Reconcile", msg)
}

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

// Failure is a reconcile failure with the reason to report.
type Failure struct {
	Reason    string
	Msg       string
	Transient bool
	// Waiting marks an expected wait (a new AuthServer still provisioning):
	// reported with a Normal Event, not a Warning.
	Waiting bool
}

func (f *Failure) Error() string { return f.Reason + ": " + f.Msg }

// Permanent returns a failure that retrying cannot fix.
func Permanent(reason, format string, args ...any) error {
	return &Failure{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Classify turns any reconcile error into a failure with a specific reason.
func Classify(err error) *Failure {
	var f *Failure
	switch {
	case errors.As(err, &f):
		return f
	case connection.IsCredentialsError(err):
		// Retried with backoff: the Secret is often created just after the object.
		return &Failure{Reason: authv1.ReasonCredentialsNotFound, Msg: err.Error(), Transient: true}
	case keycloak.IsUnauthorized(err):
		// Wrong admin credentials: retry with backoff, they may be fixed.
		return &Failure{Reason: authv1.ReasonKeycloakUnavailable, Msg: "Keycloak refused the operator's admin credentials: " + err.Error(), Transient: true}
	case keycloak.IsTransient(err):
		return &Failure{Reason: authv1.ReasonKeycloakUnavailable, Msg: "Keycloak is unavailable: " + err.Error(), Transient: true}
	case isKeycloakError(err):
		return &Failure{Reason: authv1.ReasonKeycloakRejected, Msg: "Keycloak rejected the request: " + err.Error(), Transient: false}
	default:
		// A Kubernetes API error: retry with backoff, report as progressing.
		return &Failure{Reason: authv1.ReasonProgressing, Msg: err.Error(), Transient: true}
	}
}

// Failed reports err on obj and says how to retry: transient failures go
// back to the rate limiter (backoff); others wait for a change to the spec or
// to a watched object, or for the slow resync.
func (r Reporter) Failed(ctx context.Context, obj Object, err error, resync time.Duration) (ctrl.Result, error) {
	f := Classify(err)
	if f.Waiting {
		r.Wait(ctx, obj, f.Reason, f.Msg)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	r.Fail(ctx, obj, f.Reason, f.Msg, f.Transient)
	if f.Transient {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: resync}, nil
}

// SettleDeletion decides what an error while cleaning up Keycloak means for
// a finalizer. Gone already: done. Keycloak unreachable, or a Kubernetes API
// error: returned, so the deletion is retried (else the object would leak).
// Missing admin credentials, refused credentials or a rejected request will
// not heal by retrying: leftBehind reports it and the finalizer is released,
// so an object (and its namespace) is never held hostage.
func SettleDeletion(err error, leftBehind func(error)) error {
	switch {
	case err == nil, keycloak.IsNotFound(err):
		return nil
	case keycloak.IsTransient(err):
		return err
	case connection.IsCredentialsError(err), isKeycloakError(err):
		leftBehind(err)
		return nil
	default:
		return err
	}
}

func isKeycloakError(err error) bool {
	var kerr *keycloak.Error
	return errors.As(err, &kerr)
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
