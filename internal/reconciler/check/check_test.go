package check

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func cond(typ string, status metav1.ConditionStatus, reason string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, ObservedGeneration: gen}
}

func TestConditions(t *testing.T) {
	const T, F = metav1.ConditionTrue, metav1.ConditionFalse
	ready := func(s metav1.ConditionStatus, r string, g int64) metav1.Condition {
		return cond(authv1.ReadyCondition, s, r, g)
	}
	recon := func(r string, g int64) metav1.Condition { return cond(authv1.ReconcilingCondition, T, r, g) }
	stalled := func(r string, g int64) metav1.Condition { return cond(authv1.StalledCondition, T, r, g) }
	for _, tc := range []struct {
		name     string
		gen, obs int64
		conds    []metav1.Condition
		want     string // "" for no violation
	}{
		{"new object", 1, 0, nil, ""},
		{"ready", 2, 2, []metav1.Condition{ready(T, "ClientProvisioned", 2)}, ""},
		{"ready, spec changed since", 3, 2, []metav1.Condition{ready(T, "ClientProvisioned", 2)}, ""},
		{"stalled", 2, 2, []metav1.Condition{ready(F, "InvalidSpec", 2), stalled("InvalidSpec", 2)}, ""},
		{"retrying after a ready generation", 2, 1, []metav1.Condition{ready(F, "KeycloakUnavailable", 2), recon("KeycloakUnavailable", 2)}, ""},
		{"ready but observedGeneration lags", 2, 1, []metav1.Condition{ready(T, "ClientProvisioned", 2)}, "status.observedGeneration is 1"},
		{"ready and reconciling", 2, 2, []metav1.Condition{ready(T, "ClientProvisioned", 2), recon("Progressing", 2)}, "Ready is True while"},
		{"both abnormal", 2, 2, []metav1.Condition{ready(F, "X", 2), recon("X", 2), stalled("X", 2)}, "both True"},
		{"false without cause", 2, 2, []metav1.Condition{ready(F, "X", 2)}, "neither Reconciling nor Stalled"},
		{"stalled reason differs", 2, 2, []metav1.Condition{ready(F, "X", 2), stalled("Y", 2)}, "disagree"},
		{"stalled not concluded", 2, 1, []metav1.Condition{ready(F, "X", 2), stalled("X", 2)}, "Stalled for generation 2 but status.observedGeneration is 1"},
		{"stalled false kept", 2, 2, []metav1.Condition{ready(T, "OK", 2), cond(authv1.StalledCondition, F, "X", 2)}, "removed when not True"},
		{"from the future", 2, 2, []metav1.Condition{ready(T, "OK", 3)}, "beyond the object's 2"},
		{"no reason", 1, 1, []metav1.Condition{ready(T, "", 1)}, "has no reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}}
			ac.Status.ObservedGeneration, ac.Status.Conditions = tc.obs, tc.conds
			err := Conditions(ac)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected violation: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("want a violation containing %q, got %v", tc.want, err)
			}
		})
	}
}
