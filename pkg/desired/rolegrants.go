package desired

import (
	"maps"
	"slices"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// RoleGrantAccessible says whether target lets the AuthClient source (in
// sourceNamespace) be granted any of its roles: always within a namespace,
// else when target's spec.roleGrantAccess lists the namespace or the
// client. spec.audienceAccess does not count: holding a role is a
// stronger right than being accepted as an audience.
func RoleGrantAccessible(target *authv1.AuthClient, sourceNamespace, sourceName string) bool {
	if target.Namespace == sourceNamespace {
		return true
	}
	access := target.Spec.RoleGrantAccess
	if access == nil {
		return false
	}
	if slices.Contains(access.Namespaces, sourceNamespace) {
		return true
	}
	return slices.ContainsFunc(access.Clients, func(c authv1.NamespacedReference) bool {
		return c.Namespace == sourceNamespace && c.Name == sourceName
	})
}

// RoleGrantConsents says whether target lets source hold role:
// RoleGrantAccessible, and for another namespace, role within
// spec.roleGrantAccess.roles when that limit is set. Whether the role
// exists is not asked here (RoleDeclared).
func RoleGrantConsents(target *authv1.AuthClient, sourceNamespace, sourceName, role string) bool {
	if !RoleGrantAccessible(target, sourceNamespace, sourceName) {
		return false
	}
	if target.Namespace == sourceNamespace {
		return true
	}
	limit := target.Spec.RoleGrantAccess.Roles
	return len(limit) == 0 || slices.Contains(limit, role)
}

// RoleDeclared says whether target declares role in its spec.roles.
func RoleDeclared(target *authv1.AuthClient, role string) bool {
	return slices.ContainsFunc(target.Spec.Roles, func(r authv1.ClientRole) bool { return r.Name == role })
}

// RoleGrantChange is what turns the roles a service account holds of one
// client (by clientId) into the wanted ones.
type RoleGrantChange struct {
	ClientID    string
	Add, Remove []string
	// Drift are the changes that undo an edit made outside Nauthera: a
	// role removed that Nauthera never granted ("-role"), or one put back
	// that Nauthera had granted and someone removed ("+role").
	Drift []string
}

// PlanRoleGrants compares, per clientId, the roles a service account
// should hold (want), holds (have: only clients Nauthera manages) and was
// last seen holding as Nauthera granted them (recorded:
// status.roleGrants). Every clientId of have or want gets a change when
// something differs; the result is sorted by clientId. Pure: no I/O.
func PlanRoleGrants(want, have, recorded map[string][]string) []RoleGrantChange {
	ids := slices.Sorted(maps.Keys(want))
	for id := range have {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []RoleGrantChange
	for _, id := range ids {
		ch := RoleGrantChange{ClientID: id}
		for _, role := range sortedSet(have[id]) {
			if slices.Contains(want[id], role) {
				continue
			}
			ch.Remove = append(ch.Remove, role)
			if !slices.Contains(recorded[id], role) {
				ch.Drift = append(ch.Drift, "-"+role)
			}
		}
		for _, role := range sortedSet(want[id]) {
			if slices.Contains(have[id], role) {
				continue
			}
			ch.Add = append(ch.Add, role)
			if slices.Contains(recorded[id], role) {
				ch.Drift = append(ch.Drift, "+"+role)
			}
		}
		if len(ch.Add)+len(ch.Remove) > 0 {
			out = append(out, ch)
		}
	}
	return out
}

// RoleGrantsStatus renders what a service account holds (clientId →
// roles) as status.roleGrants: sorted by clientId, roles sorted, clients
// holding nothing left out.
func RoleGrantsStatus(held map[string][]string) []authv1.RoleGrantStatus {
	var out []authv1.RoleGrantStatus
	for _, id := range slices.Sorted(maps.Keys(held)) {
		if roles := sortedSet(held[id]); len(roles) > 0 {
			out = append(out, authv1.RoleGrantStatus{ClientID: id, Roles: roles})
		}
	}
	return out
}

// RecordedRoleGrants is status.roleGrants as a map (clientId → roles).
func RecordedRoleGrants(st []authv1.RoleGrantStatus) map[string][]string {
	out := make(map[string][]string, len(st))
	for _, g := range st {
		out[g.ClientID] = append(out[g.ClientID], g.Roles...)
	}
	return out
}

// sortedSet is a sorted copy of s without duplicates.
func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
