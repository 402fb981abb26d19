package controllers

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
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// object is a Nauthera API object with status conditions.
type object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// reporter sets conditions, logs and emits Events together, so that what
// `kubectl describe` shows and what the logs say never disagree. Events are
// emitted on transitions only, so a retry loop does not flood them.
type reporter struct {
	recorder events.EventRecorder
}

func setCondition(obj object, typ string, status metav1.ConditionStatus, reason, msg string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// changed reports whether Ready would get a new status, reason or message.
func changed(obj object, status metav1.ConditionStatus, reason, msg string) bool {
	c := findReady(obj)
	return c == nil || c.Status != status || c.Reason != reason || c.Message != msg
}

// ready marks obj Ready and emits a Normal Event if it was not.
func (r reporter) ready(ctx context.Context, obj object, reason, msg string) {
	if changed(obj, metav1.ConditionTrue, reason, msg) {
		ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Reconcile", msg)
	}
	setCondition(obj, authv1.ReadyCondition, metav1.ConditionTrue, reason, msg)
	removeCondition(obj, authv1.ReconcilingCondition)
	removeCondition(obj, authv1.StalledCondition)
}

// fail marks obj not Ready with a specific reason and emits a Warning Event
// if that is news. transient failures are Reconciling (the operator retries
// with backoff); others are Stalled until something changes.
func (r reporter) fail(ctx context.Context, obj object, reason, msg string, transient bool) {
	if changed(obj, metav1.ConditionFalse, reason, msg) {
		ctrl.LoggerFrom(ctx).Info("Reconcile failed: "+msg, "reason", reason, "transient", transient)
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", msg)
	}
	setCondition(obj, authv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	if transient {
		setCondition(obj, authv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
		removeCondition(obj, authv1.StalledCondition)
	} else {
		setCondition(obj, authv1.StalledCondition, metav1.ConditionTrue, reason, msg)
		removeCondition(obj, authv1.ReconcilingCondition)
	}
}

// wait marks obj not Ready yet while it waits for something expected to
// happen soon, with a Normal Event.
func (r reporter) wait(ctx context.Context, obj object, reason, msg string) {
	if changed(obj, metav1.ConditionFalse, reason, msg) {
		ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Reconcile", msg)
	}
	setCondition(obj, authv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	setCondition(obj, authv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
	removeCondition(obj, authv1.StalledCondition)
}

// event emits an Event that is not tied to a condition change (a drift
// repaired, a client created).
func (r reporter) event(ctx context.Context, obj object, typ, reason, msg string) {
	ctrl.LoggerFrom(ctx).Info(msg, "reason", reason)
	r.recorder.Eventf(obj, nil, typ, reason, "Reconcile", msg)
}

func removeCondition(obj object, typ string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, typ)
	obj.SetConditions(conds)
}

// patchStatus writes obj's status if it differs from before.
func patchStatus(ctx context.Context, c client.Client, before, obj object, getStatus func(object) any) error {
	if equality.Semantic.DeepEqual(getStatus(before), getStatus(obj)) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to patch status", "object", klog.KObj(obj))
		return client.IgnoreNotFound(err)
	}
	return nil
}

// failure is a reconcile failure with the reason to report.
type failure struct {
	reason    string
	msg       string
	transient bool
	// waiting marks an expected wait (a new AuthServer still provisioning):
	// reported with a Normal Event, not a Warning.
	waiting bool
}

func (f *failure) Error() string { return f.reason + ": " + f.msg }

func permanent(reason, format string, args ...any) error {
	return &failure{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// classify turns any reconcile error into a failure with a specific reason.
func classify(err error) *failure {
	var f *failure
	switch {
	case errors.As(err, &f):
		return f
	case isCredentialsError(err):
		// Retried with backoff: the Secret is often created just after the object.
		return &failure{reason: authv1.ReasonCredentialsNotFound, msg: err.Error(), transient: true}
	case keycloak.IsUnauthorized(err):
		// Wrong admin credentials: retry with backoff, they may be fixed.
		return &failure{reason: authv1.ReasonKeycloakUnavailable, msg: "Keycloak refused the operator's admin credentials: " + err.Error(), transient: true}
	case keycloak.IsTransient(err):
		return &failure{reason: authv1.ReasonKeycloakUnavailable, msg: "Keycloak is unavailable: " + err.Error(), transient: true}
	case isKeycloakError(err):
		return &failure{reason: authv1.ReasonKeycloakRejected, msg: "Keycloak rejected the request: " + err.Error(), transient: false}
	default:
		// A Kubernetes API error: retry with backoff, report as progressing.
		return &failure{reason: authv1.ReasonProgressing, msg: err.Error(), transient: true}
	}
}

// failed reports err on obj and says how to retry: transient failures go
// back to the rate limiter (backoff); others wait for a change to the spec or
// to a watched object, or for the slow resync.
func (r reporter) failed(ctx context.Context, obj object, err error, resync time.Duration) (ctrl.Result, error) {
	f := classify(err)
	if f.waiting {
		r.wait(ctx, obj, f.reason, f.msg)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	r.fail(ctx, obj, f.reason, f.msg, f.transient)
	if f.transient {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: resync}, nil
}

// settleDeletion decides what an error while cleaning up Keycloak means for
// a finalizer. Gone already: done. Keycloak unreachable, or a Kubernetes API
// error: returned, so the deletion is retried (else the object would leak).
// Missing admin credentials, refused credentials or a rejected request will
// not heal by retrying: leftBehind reports it and the finalizer is released,
// so an object (and its namespace) is never held hostage.
func settleDeletion(err error, leftBehind func(error)) error {
	switch {
	case err == nil, keycloak.IsNotFound(err):
		return nil
	case keycloak.IsTransient(err):
		return err
	case isCredentialsError(err), isKeycloakError(err):
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

// jitter spreads resyncs so that many objects do not hit Keycloak at once.
func jitter(d time.Duration, key string) time.Duration {
	var h uint32 = 2166136261
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return d + time.Duration(h%1000)*d/10000 // up to +10%
}

// isReady reports whether obj's Ready condition is True for its current generation.
func isReady(obj object) bool {
	c := findReady(obj)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

func findReady(obj object) *metav1.Condition {
	return meta.FindStatusCondition(obj.GetConditions(), authv1.ReadyCondition)
}
