// Package check asserts the invariants every Nauthera object's conditions
// keep, whatever the reconcile did: Ready, Reconciling and Stalled agree
// with each other and with observedGeneration, the way kstatus (Flux,
// Argo CD) reads them. Tests call it after every wait for an object, in
// the manner of fluxcd/pkg runtime/conditions/check, so that a reconciler
// that leaves a contradictory status fails whichever test meets it.
package check

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Object is what the checks read: a Nauthera object's generation,
// conditions and status.observedGeneration.
type Object interface {
	GetGeneration() int64
	GetConditions() []metav1.Condition
}

// ObservedGeneration returns status.observedGeneration of a Nauthera kind.
func ObservedGeneration(obj Object) (int64, bool) {
	switch o := obj.(type) {
	case *authv1.AuthClient:
		return o.Status.ObservedGeneration, true
	case *authv1.AuthServer:
		return o.Status.ObservedGeneration, true
	case *authv1.UserStore:
		return o.Status.ObservedGeneration, true
	case *authv1.AuthPolicy:
		return o.Status.ObservedGeneration, true
	}
	return 0, false
}

// Conditions returns every invariant obj breaks (nil: none).
func Conditions(obj Object) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	gen, conds := obj.GetGeneration(), obj.GetConditions()
	observed, hasObserved := ObservedGeneration(obj)

	seen := map[string]bool{}
	for _, c := range conds {
		if seen[c.Type] {
			fail("condition %s appears twice", c.Type)
		}
		seen[c.Type] = true
		if c.Reason == "" {
			fail("condition %s has no reason", c.Type)
		}
		if c.ObservedGeneration > gen {
			fail("condition %s observed generation %d, beyond the object's %d", c.Type, c.ObservedGeneration, gen)
		}
	}
	if hasObserved && observed > gen {
		fail("status.observedGeneration %d is beyond the object's generation %d", observed, gen)
	}

	ready := meta.FindStatusCondition(conds, authv1.ReadyCondition)
	reconciling := meta.FindStatusCondition(conds, authv1.ReconcilingCondition)
	stalled := meta.FindStatusCondition(conds, authv1.StalledCondition)
	// Reconciling and Stalled are abnormal-true conditions: present only
	// while True.
	for _, c := range []*metav1.Condition{reconciling, stalled} {
		if c != nil && c.Status != metav1.ConditionTrue {
			fail("%s is present with status %s; it is removed when not True", c.Type, c.Status)
		}
	}
	if ready == nil {
		if reconciling != nil || stalled != nil {
			fail("Reconciling or Stalled without Ready")
		}
		return errors.Join(errs...)
	}
	isTrue := func(c *metav1.Condition) bool { return c != nil && c.Status == metav1.ConditionTrue }
	if isTrue(reconciling) && isTrue(stalled) {
		fail("Reconciling and Stalled are both True")
	}
	switch ready.Status {
	case metav1.ConditionTrue:
		if isTrue(reconciling) || isTrue(stalled) {
			fail("Ready is True while Reconciling=%v Stalled=%v", isTrue(reconciling), isTrue(stalled))
		}
		if hasObserved && observed != ready.ObservedGeneration {
			fail("Ready is True for generation %d but status.observedGeneration is %d", ready.ObservedGeneration, observed)
		}
	case metav1.ConditionFalse:
		if !isTrue(reconciling) && !isTrue(stalled) {
			fail("Ready is False (%s) with neither Reconciling nor Stalled True", ready.Reason)
		}
		if isTrue(stalled) {
			if stalled.Reason != ready.Reason || stalled.ObservedGeneration != ready.ObservedGeneration {
				fail("Stalled (%s, generation %d) and Ready (%s, generation %d) disagree", stalled.Reason, stalled.ObservedGeneration, ready.Reason, ready.ObservedGeneration)
			}
			if hasObserved && observed != stalled.ObservedGeneration {
				fail("Stalled for generation %d but status.observedGeneration is %d", stalled.ObservedGeneration, observed)
			}
		}
		if isTrue(reconciling) {
			if reconciling.Reason != ready.Reason || reconciling.ObservedGeneration != ready.ObservedGeneration {
				fail("Reconciling (%s, generation %d) and Ready (%s, generation %d) disagree", reconciling.Reason, reconciling.ObservedGeneration, ready.Reason, ready.ObservedGeneration)
			}
		}
	default:
		fail("Ready has status %s", ready.Status)
	}
	return errors.Join(errs...)
}
