package controllers

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Pure decisions of the AuthClient reconciler; their effect on a real
// operator is tested in the integration tests (tenancy_test.go).

func server(ready metav1.ConditionStatus, reason string) *authv1.AuthServer {
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	as.Status.RealmName, as.Status.Issuer = "r", "https://kc/realms/r"
	as.Status.Conditions = []metav1.Condition{{Type: authv1.ReadyCondition, Status: ready, Reason: reason, ObservedGeneration: 3}}
	return as
}

func TestClassifyAuthServerUpdate(t *testing.T) {
	ready, down := server(metav1.ConditionTrue, authv1.ReasonRealmProvisioned), server(metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable)
	labelled := ready.DeepCopy()
	labelled.Labels = map[string]string{"team": "x"}
	edited := ready.DeepCopy()
	edited.Generation = 4
	reissued := ready.DeepCopy()
	reissued.Status.Issuer = "https://other/realms/r"
	// Service-account authentication set up in the realm; then its check
	// fails (secretless clients say so in their Ready message); a check
	// that only rewords its message changes nothing.
	trusting := ready.DeepCopy()
	trusting.Status.ServiceAccountAuthentication = &authv1.ServiceAccountAuthenticationStatus{Issuer: "https://k8s", IdentityProvider: "nauthera-kubernetes"}
	unreachable := trusting.DeepCopy()
	unreachable.Status.Conditions = append(unreachable.Status.Conditions, metav1.Condition{Type: authv1.ServiceAccountIssuerCondition, Status: metav1.ConditionFalse, Reason: authv1.ReasonIssuerUnreachable, Message: "a"})
	reworded := unreachable.DeepCopy()
	reworded.Status.Conditions[1].Message = "b"
	for _, c := range []struct {
		name     string
		old, new *authv1.AuthServer
		want     authServerChange
	}{
		{"label", ready, labelled, serverUnchanged},
		{"goes un-Ready", ready, down, serverUnchanged},
		{"recovers", down, ready, serverRecovered},
		{"spec edit", ready, edited, serverChanged},
		{"issuer", ready, reissued, serverChanged},
		{"service-account authentication set up", ready, trusting, serverChanged},
		{"its check fails", trusting, unreachable, serverChanged},
		{"its check reworded", unreachable, reworded, serverUnchanged},
	} {
		if got := classifyAuthServerUpdate(c.old, c.new); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestScopeCache(t *testing.T) {
	var c scopeCache
	if _, ok := c.get("as/r", []string{"profile"}); ok {
		t.Error("an empty cache answered")
	}
	if s, ok := c.get("as/r", nil); !ok || len(s) != 0 {
		t.Error("no scope requested needs no list")
	}
	c.put("as/r", map[string]realmScope{"profile": {id: "1"}, "email": {id: "2"}})
	if _, ok := c.get("as/r", []string{"openid", "profile", "email"}); !ok {
		t.Error("known scopes (and openid, which is no client scope) must hit")
	}
	if _, ok := c.get("as/r", []string{"profile", "api:read"}); ok {
		t.Error("a scope the cache does not know must miss (it may have to be created)")
	}
	if _, ok := c.get("other/r", []string{"profile"}); ok {
		t.Error("another AuthServer's realm must miss")
	}
	c.forget("as/r")
	if _, ok := c.get("as/r", []string{"profile"}); ok {
		t.Error("a forgotten realm must miss")
	}
}

// The claimants of a ServiceAccount, from a live list of the whole
// namespace: only those of the same ServiceAccount and AuthServer count,
// one being deleted only while it holds it.
func TestServiceAccountClaimants(t *testing.T) {
	claimant := func(name, sa, server string, holds, deleting bool) authv1.AuthClient {
		ac := authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)}}
		ac.Spec.AuthServerRef = authv1.ObjectReference{Name: server, Namespace: "security"}
		if sa != "" {
			ac.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: sa}
		}
		if holds {
			ac.Status.ServiceAccount = authv1.ServiceAccountSubject("ns", sa)
		}
		if deleting {
			now := metav1.Now()
			ac.DeletionTimestamp = &now
		}
		return ac
	}
	self := claimant("self", "app", "s", false, false)
	items := []authv1.AuthClient{
		claimant("self", "app", "s", true, false), // self as listed: not counted twice
		claimant("rival", "app", "s", false, false),
		claimant("other-sa", "worker", "s", false, false),
		claimant("other-server", "app", "t", false, false),
		claimant("with-secret", "", "s", false, false),
		claimant("going", "app", "s", false, true),
		claimant("going-holder", "app", "s", true, true),
	}
	var got []string
	for _, c := range serviceAccountClaimants(&self, items) {
		got = append(got, c.Name)
	}
	if want := []string{"self", "rival", "going-holder"}; !slices.Equal(got, want) {
		t.Errorf("claimants %v, want %v", got, want)
	}
}
