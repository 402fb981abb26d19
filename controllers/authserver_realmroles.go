package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// realmRoleScope is what the realm-roles step works on: the realm's roles
// by name as last read, the AuthServer's owner marker, and what drifted.
type realmRoleScope struct {
	*serverScope
	owner   string
	byName  map[string]keycloak.Role
	ours    map[string]bool
	drifted []string
}

// realmRolesRetry is how soon realm roles and groups that could not be
// brought in line (other than in an outage) are looked at again.
const realmRolesRetry = time.Minute

// realmRolesStep runs reconcileRealmRoles. Keycloak being unavailable
// fails the reconcile, as in every other step; any other failure (a role
// or group Keycloak refuses, a write it fails) is reported on
// RealmRolesReady alone, so that one declared role or group never takes
// the realm's Ready, and with it every AuthClient of the realm, down. It
// returns how soon to look again (0: at the resync).
func (r *AuthServerReconciler) realmRolesStep(ctx context.Context, s *serverScope) (time.Duration, error) {
	err := r.reconcileRealmRoles(ctx, s)
	if err == nil {
		return 0, nil
	}
	f := reconciler.Classify(err)
	if f.Reason == authv1.ReasonKeycloakUnavailable {
		return 0, err
	}
	s.rep.Condition(ctx, s.as, reconciler.NewCondition(authv1.RealmRolesCondition, metav1.ConditionFalse, f.Reason,
		fmt.Sprintf("The realm roles and groups of realm %q are not in line with spec.realmRoles and spec.groups: %s", s.as.Status.RealmName, f.Msg)))
	return realmRolesRetry, nil
}

// reconcileRealmRoles brings the realm's roles and groups in line with
// spec.realmRoles and spec.groups: the AuthServer's own roles (owner
// marker) are created, updated and deleted; groups are created when
// missing (and then are the AuthServer's) or used as they are; only
// mappings of the AuthServer's own roles are managed on them. Nothing is
// read when nothing is, or was, declared.
func (r *AuthServerReconciler) reconcileRealmRoles(ctx context.Context, s *serverScope) error {
	as := s.as
	if len(as.Spec.RealmRoles) == 0 && len(as.Spec.Groups) == 0 && len(as.Status.RealmRoles) == 0 && len(as.Status.Groups) == 0 {
		reconciler.RemoveCondition(as, authv1.RealmRolesCondition)
		return nil
	}
	rs := &realmRoleScope{serverScope: s, owner: desired.Owner(as.Namespace, as.Name)}
	conflicts, err := rs.roles(ctx)
	if err != nil {
		return err
	}
	if err := rs.groups(ctx); err != nil {
		return err
	}
	if len(rs.drifted) > 0 && reconciler.IsReady(as) {
		s.rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to realm %q: %s", as.Status.RealmName, strings.Join(rs.drifted, ", ")))
	}
	if len(conflicts) > 0 {
		s.rep.Condition(ctx, as, reconciler.NewCondition(authv1.RealmRolesCondition, metav1.ConditionFalse, authv1.ReasonRealmRoleConflict,
			fmt.Sprintf("realm roles %s already exist in realm %q and are not this AuthServer's; they are not taken over, nor mapped to groups (rename them in spec.realmRoles)", strings.Join(conflicts, ", "), as.Status.RealmName)))
		return nil
	}
	s.rep.Condition(ctx, as, reconciler.NewCondition(authv1.RealmRolesCondition, metav1.ConditionTrue, authv1.ReasonRealmRolesProvisioned,
		fmt.Sprintf("%d realm roles and %d groups are in realm %q", len(as.Status.RealmRoles), len(as.Status.Groups), as.Status.RealmName)))
	return nil
}

// roles carries out desired.PlanRealmRoles and records the roles held; it
// returns the declared roles that are someone else's.
func (rs *realmRoleScope) roles(ctx context.Context) ([]string, error) {
	as, realm, log := rs.as, rs.as.Status.RealmName, ctrl.LoggerFrom(ctx)
	have, err := rs.kc.ListRealmRoles(ctx, realm)
	if err != nil {
		return nil, err
	}
	existing := make([]desired.ExistingRealmRole, 0, len(have))
	for _, h := range have {
		existing = append(existing, desired.ExistingRealmRole{Name: h.Name, Description: h.Description, Owner: firstOf(h.Attributes[desired.AttrOwner])})
	}
	plan := desired.PlanRealmRoles(as.Spec.RealmRoles, existing, rs.owner)
	for _, name := range plan.Delete {
		log.Info("Deleting Keycloak realm role", "realm", realm, "role", name)
		if err := rs.kc.DeleteRealmRole(ctx, realm, name); err != nil && !keycloak.IsNotFound(err) {
			return nil, err
		}
	}
	for _, w := range plan.Create {
		log.Info("Creating Keycloak realm role", "realm", realm, "role", w.Name)
		if err := rs.kc.CreateRealmRole(ctx, realm, rs.role(w)); err != nil {
			return nil, err
		}
		if slices.Contains(as.Status.RealmRoles, w.Name) {
			rs.drifted = append(rs.drifted, fmt.Sprintf("realm role %q recreated", w.Name))
		}
	}
	for _, w := range plan.Update {
		log.Info("Updating Keycloak realm role", "realm", realm, "role", w.Name)
		if err := rs.kc.UpdateRealmRole(ctx, realm, rs.role(w)); err != nil {
			return nil, err
		}
		rs.drifted = append(rs.drifted, fmt.Sprintf("realm role %q description", w.Name))
	}
	if len(plan.Create) > 0 {
		// The ids of new roles, for the group mappings.
		if have, err = rs.kc.ListRealmRoles(ctx, realm); err != nil {
			return nil, err
		}
	}
	rs.byName, rs.ours = map[string]keycloak.Role{}, map[string]bool{}
	for _, h := range have {
		rs.byName[h.Name] = h
		if firstOf(h.Attributes[desired.AttrOwner]) == rs.owner {
			rs.ours[h.Name] = true
		}
	}
	as.Status.RealmRoles = plan.Held
	return plan.Conflicts, nil
}

// role is the Keycloak representation of a declared realm role, marked as
// the AuthServer's.
func (rs *realmRoleScope) role(w authv1.RealmRole) keycloak.Role {
	return keycloak.Role{Name: w.Name, Description: w.Description, Attributes: map[string][]string{
		desired.AttrOwner: {rs.owner}, desired.AttrOwnerKind: {"AuthServer"},
	}}
}

// groups brings the declared groups' mappings of the AuthServer's roles in
// line, creates the groups the realm lacks, deletes its own groups no
// longer declared, and takes its roles off groups no longer declared that
// are not its own.
func (rs *realmRoleScope) groups(ctx context.Context) error {
	as, realm := rs.as, rs.as.Status.RealmName
	list, err := rs.kc.ListGroups(ctx, realm)
	if err != nil {
		return err
	}
	byName := map[string]keycloak.Group{}
	for _, g := range list {
		byName[g.Name] = g
	}
	var status []authv1.RealmGroupStatus
	for _, want := range as.Spec.Groups {
		g, ok := byName[want.Name]
		if !ok {
			if g, err = rs.createGroup(ctx, want.Name); err != nil {
				return err
			}
		}
		held, err := rs.mapRoles(ctx, g, want.RealmRoles)
		if err != nil {
			return err
		}
		status = append(status, authv1.RealmGroupStatus{Name: g.Name, Managed: firstOf(g.Attributes[desired.AttrOwner]) == rs.owner, RealmRoles: held})
	}
	for _, g := range list {
		if slices.ContainsFunc(as.Spec.Groups, func(w authv1.RealmGroup) bool { return w.Name == g.Name }) {
			continue
		}
		if firstOf(g.Attributes[desired.AttrOwner]) == rs.owner {
			ctrl.LoggerFrom(ctx).Info("Deleting Keycloak group", "realm", realm, "group", g.Name)
			if err := rs.kc.DeleteGroup(ctx, realm, g.ID); err != nil && !keycloak.IsNotFound(err) {
				return err
			}
			continue
		}
		if slices.ContainsFunc(as.Status.Groups, func(st authv1.RealmGroupStatus) bool { return st.Name == g.Name }) {
			if _, err := rs.mapRoles(ctx, g, nil); err != nil {
				return err
			}
		}
	}
	as.Status.Groups = status
	return nil
}

// createGroup creates a top-level group marked as the AuthServer's and
// reads it back for its id.
func (rs *realmRoleScope) createGroup(ctx context.Context, name string) (keycloak.Group, error) {
	realm := rs.as.Status.RealmName
	ctrl.LoggerFrom(ctx).Info("Creating Keycloak group", "realm", realm, "group", name)
	err := rs.kc.CreateGroup(ctx, realm, keycloak.Group{Name: name, Attributes: map[string][]string{desired.AttrOwner: {rs.owner}, desired.AttrOwnerKind: {"AuthServer"}}})
	if err != nil && !keycloak.IsConflict(err) {
		return keycloak.Group{}, err
	}
	if slices.ContainsFunc(rs.as.Status.Groups, func(st authv1.RealmGroupStatus) bool { return st.Name == name && st.Managed }) {
		rs.drifted = append(rs.drifted, fmt.Sprintf("group %q recreated", name))
	}
	list, err := rs.kc.ListGroups(ctx, realm)
	if err != nil {
		return keycloak.Group{}, err
	}
	for _, g := range list {
		if g.Name == name {
			return g, nil
		}
	}
	return keycloak.Group{}, reconciler.Transient(authv1.ReasonKeycloakUnavailable, "group %q of realm %q was created but is not listed yet", name, realm)
}

// mapRoles maps the AuthServer's roles among want to group g and unmaps
// its other roles (desired.PlanGroupRealmRoles); it returns the declared
// roles the group holds.
func (rs *realmRoleScope) mapRoles(ctx context.Context, g keycloak.Group, want []string) ([]string, error) {
	realm := rs.as.Status.RealmName
	mapped, err := rs.kc.ListGroupRealmRoles(ctx, realm, g.ID)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(mapped))
	for _, m := range mapped {
		names = append(names, m.Name)
	}
	add, remove := desired.PlanGroupRealmRoles(want, names, rs.ours)
	if len(add) > 0 {
		ctrl.LoggerFrom(ctx).Info("Mapping realm roles to Keycloak group", "realm", realm, "group", g.Name, "roles", add)
		if err := rs.kc.AddGroupRealmRoles(ctx, realm, g.ID, rs.refs(add)); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(rs.as.Status.Groups, func(st authv1.RealmGroupStatus) bool {
			return st.Name == g.Name && slices.ContainsFunc(add, func(a string) bool { return slices.Contains(st.RealmRoles, a) })
		}) {
			rs.drifted = append(rs.drifted, fmt.Sprintf("group %q realm roles", g.Name))
		}
	}
	if len(remove) > 0 {
		ctrl.LoggerFrom(ctx).Info("Unmapping realm roles from Keycloak group", "realm", realm, "group", g.Name, "roles", remove)
		if err := rs.kc.RemoveGroupRealmRoles(ctx, realm, g.ID, rs.refs(remove)); err != nil {
			return nil, err
		}
		// A role the status did not list on a group it lists was mapped
		// in the console: drift, as much as a mapping removed there.
		for _, st := range rs.as.Status.Groups {
			if st.Name != g.Name {
				continue
			}
			if extra := slices.DeleteFunc(slices.Clone(remove), func(r string) bool { return slices.Contains(st.RealmRoles, r) }); len(extra) > 0 {
				rs.drifted = append(rs.drifted, fmt.Sprintf("group %q realm roles %s unmapped", g.Name, strings.Join(extra, ", ")))
			}
		}
	}
	var held []string
	for _, w := range want {
		if rs.ours[w] {
			held = append(held, w)
		}
	}
	return held, nil
}

// refs are the roles named, with their ids, for a mapping request.
func (rs *realmRoleScope) refs(names []string) []keycloak.Role {
	out := make([]keycloak.Role, 0, len(names))
	for _, n := range names {
		role := rs.byName[n]
		out = append(out, keycloak.Role{ID: role.ID, Name: role.Name})
	}
	return out
}

// firstOf is the first value of a Keycloak attribute, "" for none.
func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
