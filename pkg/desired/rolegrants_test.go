package desired_test

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
)

func roleGrantTarget(access *authv1.RoleGrantAccess) *authv1.AuthClient {
	return &authv1.AuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-api"},
		Spec: authv1.AuthClientSpec{
			Roles:           []authv1.ClientRole{{Name: "orders:read"}, {Name: "orders:write"}},
			RoleGrantAccess: access,
		},
	}
}

func TestRoleGrantConsents(t *testing.T) {
	tests := []struct {
		name      string
		access    *authv1.RoleGrantAccess
		ns, src   string
		role      string
		want      bool
		wantReach bool
	}{
		{name: "same namespace, no access field", ns: "shop", src: "worker", role: "orders:write", want: true, wantReach: true},
		{name: "same namespace ignores the roles limit", access: &authv1.RoleGrantAccess{Roles: []string{"orders:read"}}, ns: "shop", src: "worker", role: "orders:write", want: true, wantReach: true},
		{name: "other namespace, no access field", ns: "jobs", src: "worker", role: "orders:write"},
		{name: "other namespace listed", access: &authv1.RoleGrantAccess{Namespaces: []string{"jobs"}}, ns: "jobs", src: "worker", role: "orders:write", want: true, wantReach: true},
		{name: "another namespace listed", access: &authv1.RoleGrantAccess{Namespaces: []string{"web"}}, ns: "jobs", src: "worker", role: "orders:write"},
		{name: "client listed", access: &authv1.RoleGrantAccess{Clients: []authv1.NamespacedReference{{Namespace: "jobs", Name: "worker"}}}, ns: "jobs", src: "worker", role: "orders:read", want: true, wantReach: true},
		{name: "another client of the namespace listed", access: &authv1.RoleGrantAccess{Clients: []authv1.NamespacedReference{{Namespace: "jobs", Name: "other"}}}, ns: "jobs", src: "worker", role: "orders:read"},
		{name: "role within the limit", access: &authv1.RoleGrantAccess{Namespaces: []string{"jobs"}, Roles: []string{"orders:read"}}, ns: "jobs", src: "worker", role: "orders:read", want: true, wantReach: true},
		{name: "role outside the limit", access: &authv1.RoleGrantAccess{Namespaces: []string{"jobs"}, Roles: []string{"orders:read"}}, ns: "jobs", src: "worker", role: "orders:write", wantReach: true},
		{name: "a roles limit alone consents to nobody", access: &authv1.RoleGrantAccess{Roles: []string{"orders:read"}}, ns: "jobs", src: "worker", role: "orders:read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := roleGrantTarget(tt.access)
			if got := desired.RoleGrantConsents(target, tt.ns, tt.src, tt.role); got != tt.want {
				t.Errorf("RoleGrantConsents = %v, want %v", got, tt.want)
			}
			if got := desired.RoleGrantAccessible(target, tt.ns, tt.src); got != tt.wantReach {
				t.Errorf("RoleGrantAccessible = %v, want %v", got, tt.wantReach)
			}
		})
	}
}

func TestRoleGrantsDoNotFollowAudienceAccess(t *testing.T) {
	target := roleGrantTarget(nil)
	target.Spec.AudienceAccess = &authv1.AudienceAccess{Namespaces: []string{"jobs"}}
	if desired.RoleGrantConsents(target, "jobs", "worker", "orders:read") {
		t.Error("consent to be an audience was taken for consent to grant roles")
	}
}

func TestRoleDeclared(t *testing.T) {
	target := roleGrantTarget(nil)
	if !desired.RoleDeclared(target, "orders:write") || desired.RoleDeclared(target, "orders:admin") {
		t.Error("RoleDeclared does not follow spec.roles")
	}
}

func TestPlanRoleGrants(t *testing.T) {
	tests := []struct {
		name                 string
		want, have, recorded map[string][]string
		plan                 []desired.RoleGrantChange
	}{
		{name: "in line", want: map[string][]string{"api": {"w"}}, have: map[string][]string{"api": {"w"}}, recorded: map[string][]string{"api": {"w"}}},
		{name: "first grant", want: map[string][]string{"api": {"w", "r"}},
			plan: []desired.RoleGrantChange{{ClientID: "api", Add: []string{"r", "w"}}}},
		{name: "withdrawn grant is not drift", have: map[string][]string{"api": {"w"}}, recorded: map[string][]string{"api": {"w"}},
			plan: []desired.RoleGrantChange{{ClientID: "api", Remove: []string{"w"}}}},
		{name: "role added in the console", want: map[string][]string{"api": {"w"}}, have: map[string][]string{"api": {"admin", "w"}}, recorded: map[string][]string{"api": {"w"}},
			plan: []desired.RoleGrantChange{{ClientID: "api", Remove: []string{"admin"}, Drift: []string{"-admin"}}}},
		{name: "role removed in the console", want: map[string][]string{"api": {"w"}}, recorded: map[string][]string{"api": {"w"}},
			plan: []desired.RoleGrantChange{{ClientID: "api", Add: []string{"w"}, Drift: []string{"+w"}}}},
		{name: "roles of another managed client added in the console", want: map[string][]string{"api": {"w"}}, have: map[string][]string{"api": {"w"}, "billing": {"pay"}}, recorded: map[string][]string{"api": {"w"}},
			plan: []desired.RoleGrantChange{{ClientID: "billing", Remove: []string{"pay"}, Drift: []string{"-pay"}}}},
		{name: "duplicates count once", want: map[string][]string{"api": {"w", "w"}}, have: map[string][]string{"api": {"w"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := desired.PlanRoleGrants(tt.want, tt.have, tt.recorded); !reflect.DeepEqual(got, tt.plan) {
				t.Errorf("PlanRoleGrants = %+v, want %+v", got, tt.plan)
			}
		})
	}
}

func TestRoleGrantsStatus(t *testing.T) {
	got := desired.RoleGrantsStatus(map[string][]string{"b": {"z", "a", "a"}, "a": {"x"}, "c": nil})
	want := []authv1.RoleGrantStatus{{ClientID: "a", Roles: []string{"x"}}, {ClientID: "b", Roles: []string{"a", "z"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RoleGrantsStatus = %+v, want %+v", got, want)
	}
	if back := desired.RecordedRoleGrants(got); !reflect.DeepEqual(back, map[string][]string{"a": {"x"}, "b": {"a", "z"}}) {
		t.Errorf("RecordedRoleGrants = %v", back)
	}
}
