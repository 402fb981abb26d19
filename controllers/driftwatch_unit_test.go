package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
)

// The Keycloak client -> AuthClient map follows the AuthClients: a client
// recreated under a new id replaces its old entry, and a deleted AuthClient
// leaves nothing behind, so the map does not grow with churn.
func TestDriftWatchClientMapForgets(t *testing.T) {
	w := NewDriftWatch(nil, &connection.Resolver{Defaults: connection.Defaults{URL: "http://kc"}}, time.Second)
	as := &authv1.AuthServer{Status: authv1.AuthServerStatus{RealmName: "r"}}
	rk := w.realmKey(as)
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	b := types.NamespacedName{Namespace: "ns", Name: "b"}
	w.noteClient(as, "uuid-a1", a)
	w.noteClient(as, "uuid-b", b)
	w.noteClient(as, "uuid-a2", a) // recreated in Keycloak
	if _, ok := w.clientOf(rk, "uuid-a1"); ok {
		t.Error("the old id of a recreated client still maps to its AuthClient")
	}
	if got, ok := w.clientOf(rk, "uuid-a2"); !ok || got != a {
		t.Errorf("uuid-a2 maps to %v %v, want %v", got, ok, a)
	}
	w.forgetClient(a)
	w.forgetClient(b)
	if len(w.uuids) != 0 || len(w.clientRefs) != 0 {
		t.Errorf("deleted AuthClients left %d realms, %d refs in the map", len(w.uuids), len(w.clientRefs))
	}
	var nilWatch *DriftWatch
	nilWatch.forgetClient(a) // drift detection off: a no-op
}

// A realm whose reads fail is read less often, up to 16 intervals apart,
// and at the interval again once a read succeeds.
func TestDriftFailureDelay(t *testing.T) {
	for failures, want := range map[int]time.Duration{0: 10 * time.Second, 1: 20 * time.Second, 3: 80 * time.Second, 4: 160 * time.Second, 50: 160 * time.Second} {
		if got := failureDelay(10*time.Second, failures); got != want {
			t.Errorf("failureDelay(10s, %d) = %s, want %s", failures, got, want)
		}
	}
}
