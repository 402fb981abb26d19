package desired

import (
	"strings"
	"testing"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func TestPlanRealmRoles(t *testing.T) {
	want := []authv1.RealmRole{{Name: "auditor", Description: "Reads audit logs"}, {Name: "operator"}, {Name: "offline"}, {Name: "new"}}
	have := []ExistingRealmRole{
		{Name: "auditor", Description: "edited in the console", Owner: "security/prod"},
		{Name: "operator", Owner: "security/prod"},
		{Name: "offline", Owner: ""},              // the console's: not taken over
		{Name: "gone", Owner: "security/prod"},    // ours, no longer declared
		{Name: "theirs", Owner: "security/other"}, // another AuthServer's: left alone
		{Name: "offline_access"},
	}
	p := PlanRealmRoles(want, have, "security/prod")
	names := func(rs []authv1.RealmRole) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Name)
		}
		return strings.Join(s, ",")
	}
	if names(p.Create) != "new" || names(p.Update) != "auditor" || strings.Join(p.Delete, ",") != "gone" ||
		strings.Join(p.Conflicts, ",") != "offline" || strings.Join(p.Held, ",") != "auditor,operator,new" {
		t.Errorf("plan %+v", p)
	}
	if p := PlanRealmRoles(nil, have, "security/prod"); len(p.Create)+len(p.Update)+len(p.Conflicts) != 0 || strings.Join(p.Delete, ",") != "auditor,gone,operator" {
		t.Errorf("nothing declared deletes only ours: %+v", p)
	}
}

func TestPlanGroupRealmRoles(t *testing.T) {
	ours := map[string]bool{"auditor": true, "operator": true, "old": true}
	add, remove := PlanGroupRealmRoles([]string{"auditor", "operator"}, []string{"operator", "old", "ldap-admin"}, ours)
	if strings.Join(add, ",") != "auditor" || strings.Join(remove, ",") != "old" {
		t.Errorf("add %v remove %v: a mapping of a role that is not ours (ldap-admin) is never touched", add, remove)
	}
}
