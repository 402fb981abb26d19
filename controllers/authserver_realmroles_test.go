package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// groupRealmRoles returns the realm roles mapped directly to the top-level
// group named name ("" and nil when there is no such group).
func groupRealmRoles(t *testing.T, realm, name string) (string, []string) {
	t.Helper()
	gc, tok := console(t)
	groups, err := gc.GetGroups(context.Background(), tok, realm, gocloak.GetGroupsParams{Search: gocloak.StringP(name), Exact: gocloak.BoolP(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if gocloak.PString(g.Name) != name {
			continue
		}
		roles, err := gc.GetRealmRolesByGroupID(context.Background(), tok, realm, gocloak.PString(g.ID))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range roles {
			out = append(out, gocloak.PString(r.Name))
		}
		slices.Sort(out)
		return gocloak.PString(g.ID), out
	}
	return "", nil
}

func realmRole(t *testing.T, realm, name string) *gocloak.Role {
	t.Helper()
	gc, tok := console(t)
	r, err := gc.GetRealmRole(context.Background(), tok, realm, name)
	if err != nil {
		return nil
	}
	return r
}

// The platform team's realm roles and groups (issue 22 item 3) against the
// real Keycloak: declared roles are created with the AuthServer's owner
// marker; a declared group is created, or, when it exists already (as an
// LDAP group mapper's import would), used without being taken over; only
// mappings of the AuthServer's own roles are managed, so a role mapped in
// the console stays. A role deleted in the console and a mapping removed
// there come back with a DriftReverted Event; a role of the same name the
// AuthServer does not own is not taken over (RealmRoleConflict); removing
// roles and groups from the spec removes what the AuthServer created.
func TestAuthServerRealmRolesAndGroups(t *testing.T) {
	integration(t)
	ctx := context.Background()
	as := serverWith(t, "rr-server", "")
	gc, tok := console(t)
	// A group someone else made (an LDAP import, the console) with a role of its own.
	if _, err := gc.CreateRealmRole(ctx, tok, "rr-server", gocloak.Role{Name: gocloak.StringP("console-role")}); err != nil {
		t.Fatal(err)
	}
	support, err := gc.CreateGroup(ctx, tok, "rr-server", gocloak.Group{Name: gocloak.StringP("support")})
	if err != nil {
		t.Fatal(err)
	}
	consoleRole := realmRole(t, "rr-server", "console-role")
	if err := gc.AddRealmRoleToGroup(ctx, tok, "rr-server", support, []gocloak.Role{*consoleRole}); err != nil {
		t.Fatal(err)
	}

	editServer := func(edit func(*authv1.AuthServer)) {
		t.Helper()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		edit(as)
		if err := k8s.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	editServer(func(as *authv1.AuthServer) {
		as.Spec.RealmRoles = []authv1.RealmRole{{Name: "operator", Description: "Runs the platform"}, {Name: "auditor"}}
		as.Spec.Groups = []authv1.RealmGroup{{Name: "ops", RealmRoles: []string{"operator", "auditor"}}, {Name: "support", RealmRoles: []string{"auditor"}}}
	})
	eventually(t, 30*time.Second, "roles and groups in Keycloak and status", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		c := meta.FindStatusCondition(as.Status.Conditions, authv1.RealmRolesCondition)
		// Settled: the outcome of this generation is recorded, so the
		// console edits below are drift of what the status lists.
		if as.Status.ObservedGeneration != as.Generation {
			return fmt.Errorf("generation %d not observed yet", as.Generation)
		}
		if c == nil || c.Status != metav1.ConditionTrue || strings.Join(as.Status.RealmRoles, ",") != "operator,auditor" || len(as.Status.Groups) != 2 {
			return fmt.Errorf("status %+v %v %v", c, as.Status.RealmRoles, as.Status.Groups)
		}
		if _, roles := groupRealmRoles(t, "rr-server", "ops"); strings.Join(roles, ",") != "auditor,operator" {
			return fmt.Errorf("ops holds %v", roles)
		}
		if _, roles := groupRealmRoles(t, "rr-server", "support"); strings.Join(roles, ",") != "auditor,console-role" {
			return fmt.Errorf("support holds %v", roles)
		}
		return nil
	})
	op := realmRole(t, "rr-server", "operator")
	if op == nil || gocloak.PString(op.Description) != "Runs the platform" || strings.Join(op.Attributes["nauthera.io/owner"], ",") != "security/rr-server" {
		t.Fatalf("operator role %+v: want the description and the owner marker", op)
	}
	if !as.Status.Groups[0].Managed || as.Status.Groups[1].Managed {
		t.Errorf("groups %+v: ops is created (managed), support is used as it is", as.Status.Groups)
	}

	// Steady state: resyncs that find everything in line write nothing.
	kcOp := theOperator(t)
	ours := func(o, method string) bool {
		return method != "GET" && (strings.HasPrefix(o, "realm.role") || strings.HasPrefix(o, "group"))
	}
	writes, lists := kcOp.count(ours), kcOp.calls("realm.roles.list")
	eventually(t, 30*time.Second, "two resyncs", func() error {
		if n := kcOp.calls("realm.roles.list") - lists; n < 2 {
			return fmt.Errorf("%d realm role lists", n)
		}
		return nil
	})
	if n := kcOp.count(ours) - writes; n != 0 {
		t.Errorf("%d realm role or group writes on resyncs that found everything in line, want 0", n)
	}

	// Console drift: the operator role deleted, auditor unmapped from support.
	if err := gc.DeleteRealmRole(ctx, tok, "rr-server", "operator"); err != nil {
		t.Fatal(err)
	}
	if err := gc.DeleteRealmRoleFromGroup(ctx, tok, "rr-server", support, []gocloak.Role{*realmRole(t, "rr-server", "auditor")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "drift reverted", func() error {
		if _, roles := groupRealmRoles(t, "rr-server", "ops"); strings.Join(roles, ",") != "auditor,operator" {
			return fmt.Errorf("ops holds %v", roles)
		}
		if _, roles := groupRealmRoles(t, "rr-server", "support"); strings.Join(roles, ",") != "auditor,console-role" {
			return fmt.Errorf("support holds %v", roles)
		}
		return nil
	})
	if note := warningEvent(t, as, authv1.ReasonDriftReverted); !strings.Contains(note, `realm role "operator" recreated`) {
		t.Errorf("DriftReverted Event %q does not name the role", note)
	}

	// A declared role the AuthServer does not own is not taken over.
	editServer(func(as *authv1.AuthServer) {
		as.Spec.RealmRoles = append(as.Spec.RealmRoles, authv1.RealmRole{Name: "console-role", Description: "taken over?"})
	})
	eventually(t, 30*time.Second, "RealmRoleConflict", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		c := meta.FindStatusCondition(as.Status.Conditions, authv1.RealmRolesCondition)
		if c == nil || c.Reason != authv1.ReasonRealmRoleConflict || !strings.Contains(c.Message, "console-role") {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	warningEvent(t, as, authv1.ReasonRealmRoleConflict)
	if r := realmRole(t, "rr-server", "console-role"); r == nil || gocloak.PString(r.Description) == "taken over?" {
		t.Errorf("the console's role was changed: %+v", r)
	}

	// Removed from the spec: the AuthServer's roles and its own group go;
	// support stays with its own role, without the AuthServer's.
	editServer(func(as *authv1.AuthServer) { as.Spec.RealmRoles, as.Spec.Groups = nil, nil })
	eventually(t, 30*time.Second, "roles and group removed", func() error {
		if realmRole(t, "rr-server", "operator") != nil || realmRole(t, "rr-server", "auditor") != nil {
			return fmt.Errorf("the AuthServer's roles are still there")
		}
		if id, _ := groupRealmRoles(t, "rr-server", "ops"); id != "" {
			return fmt.Errorf("the AuthServer's group ops is still there")
		}
		if id, roles := groupRealmRoles(t, "rr-server", "support"); id == "" || strings.Join(roles, ",") != "console-role" {
			return fmt.Errorf("support: %q %v", id, roles)
		}
		return nil
	})
	if realmRole(t, "rr-server", "console-role") == nil {
		t.Error("the console's role was deleted")
	}
}

// The decision's point, with a real directory: a realm role declared on the
// AuthServer and mapped to the group the LDAP group mapper imports reaches
// the LDAP users of that group, in realm_access.roles of a newly issued
// token, while the group stays the directory's (used, not taken over).
func TestAuthServerRealmRoleReachesLDAPGroupMembers(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "rr-ldap-bind", map[string]string{"password": ldapSrv.ServicePassword})
	userStore(t, "rr-directory", "rr-ldap-bind", "")
	as := serverWith(t, "rr-ldap", `  userStoreRef: {name: rr-directory}
  realmRoles: [{name: operator, description: "Runs the platform"}]
  groups: [{name: developers, realmRoles: [operator]}]`)
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	eventually(t, 30*time.Second, "alice's token carries the realm role of her LDAP group", func() error {
		jwt, err := passwordLogin(t, "rr-ldap", "alice", "alice-password")
		if err != nil {
			return err
		}
		var claims struct {
			RealmAccess struct {
				Roles []string `json:"roles"`
			} `json:"realm_access"`
		}
		claimsOf(t, jwt.AccessToken, &claims)
		if !slices.Contains(claims.RealmAccess.Roles, "operator") {
			return fmt.Errorf("realm_access.roles %v", claims.RealmAccess.Roles)
		}
		return nil
	})
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
		t.Fatal(err)
	}
	if len(as.Status.Groups) != 1 || as.Status.Groups[0].Managed {
		t.Errorf("status.groups %+v: the LDAP group is used, not created or taken over", as.Status.Groups)
	}
}

// A group Keycloak refuses (an injected 400 on its create) is reported on
// RealmRolesReady alone, with a Warning: the AuthServer stays Ready, so the
// realm's AuthClients go on working. Once Keycloak accepts it, the next
// reconcile brings the group in.
func TestAuthServerRealmRoleRefusedKeepsTheRealmReady(t *testing.T) {
	integration(t)
	ctx := context.Background()
	as := serverWith(t, "rr-refused", "")
	faults.Set("group.create", testbed.Fault{Status: 400, PathContains: "/realms/rr-refused/", Body: `{"errorMessage":"injected: group refused"}`})
	t.Cleanup(func() { faults.Set("group.create", testbed.Fault{}) })
	edit := func(f func(*authv1.AuthServer)) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
				return err
			}
			f(as)
			return k8s.Update(ctx, as)
		}); err != nil {
			t.Fatal(err)
		}
	}
	edit(func(as *authv1.AuthServer) {
		as.Spec.RealmRoles = []authv1.RealmRole{{Name: "operator"}}
		as.Spec.Groups = []authv1.RealmGroup{{Name: "ops", RealmRoles: []string{"operator"}}}
	})
	eventually(t, 30*time.Second, "RealmRolesReady False, Ready True for the new generation", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		c := meta.FindStatusCondition(as.Status.Conditions, authv1.RealmRolesCondition)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != authv1.ReasonKeycloakRejected || !strings.Contains(c.Message, "injected: group refused") {
			return fmt.Errorf("RealmRolesReady %+v", c)
		}
		if ready := meta.FindStatusCondition(as.Status.Conditions, authv1.ReadyCondition); ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != as.Generation {
			return fmt.Errorf("Ready %+v (generation %d)", ready, as.Generation)
		}
		return nil
	})
	if faults.Hits("group.create") == 0 {
		t.Fatal("the group create was never refused")
	}
	if note := warningEvent(t, as, authv1.ReasonKeycloakRejected); !strings.Contains(note, "spec.groups") {
		t.Errorf("Warning Event %q does not say what failed", note)
	}

	faults.Set("group.create", testbed.Fault{})
	edit(func(as *authv1.AuthServer) { as.Spec.RealmRoles[0].Description = "Runs the platform" })
	eventually(t, 30*time.Second, "the group created once Keycloak accepts it", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(as.Status.Conditions, authv1.RealmRolesCondition); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("RealmRolesReady %+v", c)
		}
		if _, roles := groupRealmRoles(t, "rr-refused", "ops"); strings.Join(roles, ",") != "operator" {
			return fmt.Errorf("ops holds %v", roles)
		}
		return nil
	})
}

// One of the AuthServer's roles mapped in the console to a declared group
// that is not to hold it is taken off again, with a DriftReverted Event
// naming the group and the role. (A server of its own: client-go folds a
// second Event of the same reason about one object into the first one's
// series, note and all.)
func TestAuthServerRealmRoleMappedInConsoleIsReverted(t *testing.T) {
	integration(t)
	ctx := context.Background()
	as := serverWith(t, "rr-console", `  realmRoles: [{name: operator}]
  groups: [{name: ops, realmRoles: [operator]}, {name: support}]`)
	eventually(t, 30*time.Second, "the groups in Keycloak and status", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(as.Status.Conditions, authv1.RealmRolesCondition); c == nil || c.Status != metav1.ConditionTrue || len(as.Status.Groups) != 2 {
			return fmt.Errorf("RealmRolesReady %+v, groups %+v", c, as.Status.Groups)
		}
		if _, roles := groupRealmRoles(t, "rr-console", "ops"); strings.Join(roles, ",") != "operator" {
			return fmt.Errorf("ops holds %v", roles)
		}
		return nil
	})
	gc, tok := console(t)
	support, _ := groupRealmRoles(t, "rr-console", "support")
	if err := gc.AddRealmRoleToGroup(ctx, tok, "rr-console", support, []gocloak.Role{*realmRole(t, "rr-console", "operator")}); err != nil {
		t.Fatal(err)
	}
	if _, roles := groupRealmRoles(t, "rr-console", "support"); strings.Join(roles, ",") != "operator" {
		t.Fatalf("the console's mapping did not take: support holds %v", roles)
	}
	eventually(t, 30*time.Second, "the console's mapping reverted", func() error {
		if _, roles := groupRealmRoles(t, "rr-console", "support"); len(roles) != 0 {
			return fmt.Errorf("support holds %v", roles)
		}
		return nil
	})
	if note := warningEvent(t, as, authv1.ReasonDriftReverted); !strings.Contains(note, `group "support" realm roles operator unmapped`) {
		t.Errorf("DriftReverted Event %q does not name the group and the role", note)
	}
}
