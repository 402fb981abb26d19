package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// The UserStore's summary of what its AuthServers report (pure); the
// integration tests (userstore_test.go) see it on a real operator.
func TestSummarizeServers(t *testing.T) {
	const key = "dir/ldap"
	at := func(minute int) metav1.Time { return metav1.NewTime(time.Date(2026, 12, 6, 8, minute, 0, 0, time.UTC)) }
	srv := func(name string, cond *metav1.Condition, st *authv1.RealmUserStoreStatus) authv1.AuthServer {
		as := authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name}}
		if cond != nil {
			cond.Type = authv1.UserStoreCondition
			as.Status.Conditions = []metav1.Condition{*cond}
		}
		as.Status.UserStore = st
		return as
	}
	synced := func(usKey string, minute, added int) *authv1.RealmUserStoreStatus {
		return &authv1.RealmUserStoreStatus{UserStore: usKey, LastSync: &authv1.UserSyncStatus{Time: at(minute), Realm: "r", Added: int32(added)}}
	}
	ok := &metav1.Condition{Status: metav1.ConditionTrue, Reason: authv1.ReasonUserStoreConfigured}
	sum := summarizeServers([]authv1.AuthServer{
		srv("a", ok, synced(key, 1, 5)),
		srv("b", &metav1.Condition{Status: metav1.ConditionFalse, Reason: authv1.ReasonLDAPBindFailed, Message: "bind refused"}, nil),
		srv("c", &metav1.Condition{Status: metav1.ConditionFalse, Reason: authv1.ReasonUserStoreNotAllowed, Message: "not served"}, nil),
		srv("d", nil, nil),
		srv("e", ok, synced(key, 7, 2)),
		srv("f", &metav1.Condition{Status: metav1.ConditionFalse, Reason: authv1.ReasonLDAPUnreachable, Message: "no answer"}, synced("other/ldap", 9, 1)),
	}, key)

	if want := []string{"team/a", "team/b", "team/d", "team/e", "team/f"}; !slices.Equal(sum.names, want) {
		t.Errorf("names %q, want %q (a refused reference does not count)", sum.names, want)
	}
	if !slices.Equal(sum.refused, []string{"team/c"}) || !slices.Equal(sum.waiting, []string{"team/d"}) {
		t.Errorf("refused %q waiting %q", sum.refused, sum.waiting)
	}
	if sum.reason != authv1.ReasonLDAPBindFailed || len(sum.problems) != 2 || !strings.Contains(sum.problems[1], "AuthServer team/f: no answer") {
		t.Errorf("reason %q problems %q: want the first failing server's reason and every problem", sum.reason, sum.problems)
	}
	if sum.realms != 2 || sum.last == nil || sum.last.Added != 2 {
		t.Errorf("realms %d last %+v: want 2 realms of this UserStore and the latest of their syncs (not another UserStore's)", sum.realms, sum.last)
	}
	if empty := summarizeServers(nil, key); empty.names != nil || empty.realms != 0 || empty.last != nil {
		t.Errorf("no servers: %+v", empty)
	}
}

// A federation carries the bind password: printing one never shows it.
func TestFederationRedactsThePassword(t *testing.T) {
	us := &authv1.UserStore{ObjectMeta: metav1.ObjectMeta{Namespace: "dir", Name: "ldap"}}
	f := newFederation(&authv1.AuthServer{}, us, "s3cret-bind", "7")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, f); strings.Contains(got, "s3cret-bind") || !strings.Contains(got, "dir/ldap") {
			t.Errorf("%s of a federation: %q", verb, got)
		}
	}
}
