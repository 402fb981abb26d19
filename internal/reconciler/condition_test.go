package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

func TestConditionEvent(t *testing.T) {
	cond := func(status metav1.ConditionStatus, reason string) *metav1.Condition {
		return &metav1.Condition{Type: "XReady", Status: status, Reason: reason, Message: "m"}
	}
	const T, F = metav1.ConditionTrue, metav1.ConditionFalse
	for _, tc := range []struct {
		name    string
		prev    *metav1.Condition
		next    *metav1.Condition
		caution bool
		want    string
	}{
		{"first True is no news", nil, cond(T, "Configured"), false, ""},
		{"first False warns", nil, cond(F, "Broken"), false, corev1.EventTypeWarning},
		{"True to False warns", cond(T, "Configured"), cond(F, "Broken"), false, corev1.EventTypeWarning},
		{"False reason changes warns again", cond(F, "Broken"), cond(F, "Unreachable"), false, corev1.EventTypeWarning},
		{"same False again is silent", cond(F, "Broken"), cond(F, "Broken"), false, ""},
		{"recovery is Normal", cond(F, "Broken"), cond(T, "Configured"), false, corev1.EventTypeNormal},
		{"True reason changes is Normal", cond(T, "Configured"), cond(T, "Reconfigured"), false, corev1.EventTypeNormal},
		{"same True again is silent", cond(T, "Configured"), cond(T, "Configured"), false, ""},
		{"first caution warns", nil, cond(T, "ExpiringSoon"), true, corev1.EventTypeWarning},
		{"True to caution warns", cond(T, "Valid"), cond(T, "ExpiringSoon"), true, corev1.EventTypeWarning},
		{"same caution again is silent", cond(T, "ExpiringSoon"), cond(T, "ExpiringSoon"), true, ""},
		{"False to caution warns", cond(F, "Expired"), cond(T, "ExpiringSoon"), true, corev1.EventTypeWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConditionEvent(tc.prev, *tc.next, tc.caution); got != tc.want {
				t.Errorf("ConditionEvent = %q, want %q", got, tc.want)
			}
		})
	}
}

// The Reporter applies the rule: the Events recorded, and the condition
// set for the object's generation with a bounded message.
func TestReporterConditionEmitsOnTransitionsOnly(t *testing.T) {
	rec := events.NewFakeRecorder(100)
	rep := Reporter{Recorder: rec, Kind: "AuthServer"}
	ctx := context.Background()
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Generation: 3, UID: types.UID("condition-test")}}
	set := func(status metav1.ConditionStatus, reason, msg string) {
		rep.Condition(ctx, as, metav1.Condition{Type: authv1.UserStoreCondition, Status: status, Reason: reason, Message: msg})
	}

	set(metav1.ConditionTrue, "UserStoreConfigured", "federated")
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("first True emitted %q", evs)
	}
	set(metav1.ConditionFalse, "LDAPUnreachable", "no answer from ldap://a")
	set(metav1.ConditionFalse, "LDAPUnreachable", "no answer from ldap://b")
	evs := drain(rec)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning LDAPUnreachable no answer from ldap://a") {
		t.Errorf("events %q, want one Warning (a new wording is no transition)", evs)
	}
	c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition)
	if c == nil || c.Message != "no answer from ldap://b" || c.ObservedGeneration != 3 {
		t.Errorf("condition %+v, want the latest message at generation 3", c)
	}
	set(metav1.ConditionTrue, "UserStoreConfigured", "federated")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Normal UserStoreConfigured") {
		t.Errorf("recovery events %q, want one Normal", evs)
	}
	if FindReady(as) != nil {
		t.Errorf("a condition beside Ready set Ready: %+v", as.Status.Conditions)
	}

	rep.Caution(ctx, as, metav1.Condition{Type: authv1.CertificateCondition, Status: metav1.ConditionTrue, Reason: "ExpiringSoon", Message: "expires in 3 days"})
	rep.Caution(ctx, as, metav1.Condition{Type: authv1.CertificateCondition, Status: metav1.ConditionTrue, Reason: "ExpiringSoon", Message: "expires in 2 days"})
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning ExpiringSoon") {
		t.Errorf("caution events %q, want one Warning", evs)
	}
	if !meta.IsStatusConditionTrue(as.Status.Conditions, authv1.CertificateCondition) {
		t.Errorf("a caution is True: %+v", as.Status.Conditions)
	}

	set(metav1.ConditionFalse, "LDAPBindFailed", strings.Repeat("x", 3*MaxConditionMessage))
	c = meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition)
	if len(c.Message) > MaxConditionMessage {
		t.Errorf("condition message %d bytes, bound %d", len(c.Message), MaxConditionMessage)
	}
	if evs := drain(rec); len(evs) != 1 || len(evs[0]) > MaxEventNote+len("Warning LDAPBindFailed ") {
		t.Errorf("want one bounded Warning, got %d events (%d bytes)", len(evs), len(strings.Join(evs, "")))
	}
}

func TestFailureKeepsItsCause(t *testing.T) {
	kerr := &keycloak.Error{Operation: "realms.get", Kind: keycloak.KindRejected, Code: 400}
	apiErr := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "s")

	wrapped := Permanent(authv1.ReasonInvalidSpec, "spec.policySelector is invalid: %w", kerr)
	var got *keycloak.Error
	if !errors.As(wrapped, &got) || got != kerr {
		t.Errorf("errors.As through Permanent(%%w) found %v", got)
	}
	if f := Classify(wrapped); f.Reason != authv1.ReasonInvalidSpec || f.Transient {
		t.Errorf("the Failure itself decides the reason: %+v", f)
	}
	if !apierrors.IsNotFound(Transient(authv1.ReasonProgressing, "reading: %w", apiErr)) {
		t.Error("apierrors.IsNotFound does not see through Transient(%w)")
	}
	if !errors.Is(Wait(authv1.ReasonAuthServerNotReady, 0, "waiting: %w", context.Canceled), context.Canceled) {
		t.Error("errors.Is does not see through Wait(%w)")
	}
	if err := Permanent(authv1.ReasonInvalidSpec, "two: %w, %w", context.Canceled, kerr); !errors.Is(err, context.Canceled) || !errors.As(err, &got) {
		t.Error("errors.Is/As do not see both causes of a double %w")
	}
	// Without %w the message is the same and there is no cause.
	plain := Permanent(authv1.ReasonInvalidSpec, "bad: %v", kerr)
	if errors.Unwrap(plain) != nil || errors.As(plain, &got) {
		t.Errorf("%%v wrapped the error: %v", errors.Unwrap(plain))
	}
	if w := Permanent(authv1.ReasonInvalidSpec, "bad: %w", kerr); w.Error() != plain.Error() {
		t.Errorf("%%w changed the message: %q against %q", w.Error(), plain.Error())
	}

	// Classify keeps the error it classifies.
	for _, err := range []error{kerr, apiErr, fmt.Errorf("listing: %w", apiErr)} {
		f := Classify(err)
		if !errors.Is(f, err) {
			t.Errorf("Classify(%v) lost its cause: %+v", err, f)
		}
	}
}
