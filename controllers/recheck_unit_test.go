package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// With the full resync a day away, what has no watch or admin event keeps
// its 10-minute wake-up, and never waits longer than a shorter resync.
func TestRecheck(t *testing.T) {
	if got := recheck(0, 24*time.Hour); got != 10*time.Minute {
		t.Errorf("recheck(0, 24h) = %s, want 10m", got)
	}
	if got := recheck(0, 3*time.Second); got != 3*time.Second {
		t.Errorf("recheck(0, 3s) = %s, want the shorter resync", got)
	}
	if got := recheck(time.Minute, 24*time.Hour); got != time.Minute {
		t.Errorf("recheck(1m, 24h) = %s, want 1m", got)
	}
	ready := func(conds ...metav1.Condition) *authv1.AuthServer {
		return &authv1.AuthServer{Status: authv1.AuthServerStatus{Conditions: conds}}
	}
	plain := ready(metav1.Condition{Type: authv1.RealmRolesCondition, Status: metav1.ConditionTrue})
	if needsRecheck(plain) {
		t.Error("an AuthServer with nothing unwatched needs no recheck")
	}
	withTLS := ready()
	withTLS.Spec.TLS = &authv1.AuthServerTLS{}
	withLDAP := ready()
	withLDAP.Spec.UserStoreRef = &authv1.ObjectReference{Name: "ldap"}
	issuerDown := ready(metav1.Condition{Type: authv1.ServiceAccountIssuerCondition, Status: metav1.ConditionFalse})
	for name, as := range map[string]*authv1.AuthServer{"certificate": withTLS, "bind password": withLDAP, "issuer not ready": issuerDown} {
		if !needsRecheck(as) {
			t.Errorf("%s: want a recheck", name)
		}
	}
}
