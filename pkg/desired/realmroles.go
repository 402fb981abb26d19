package desired

import (
	"slices"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// ExistingRealmRole is a realm role as Keycloak holds it: its name,
// description and owner marker ("" for a role Nauthera did not create).
type ExistingRealmRole struct {
	Name, Description, Owner string
}

// RealmRolePlan is what it takes to bring a realm's roles in line with an
// AuthServer's spec.realmRoles.
type RealmRolePlan struct {
	// Create are declared roles the realm lacks.
	Create []authv1.RealmRole
	// Update are the AuthServer's own roles whose description drifted.
	Update []authv1.RealmRole
	// Delete are the AuthServer's own roles no longer declared.
	Delete []string
	// Conflicts are declared roles that exist and are not the AuthServer's
	// (Keycloak's defaults, the console's, another AuthServer's): never
	// taken over.
	Conflicts []string
	// Held are the declared roles the realm holds as the AuthServer's once
	// the plan is carried out.
	Held []string
}

// PlanRealmRoles compares the declared realm roles with the realm's; owner
// is the AuthServer's marker (Owner(namespace, name)).
func PlanRealmRoles(want []authv1.RealmRole, have []ExistingRealmRole, owner string) RealmRolePlan {
	var p RealmRolePlan
	byName := map[string]ExistingRealmRole{}
	for _, h := range have {
		byName[h.Name] = h
	}
	declared := map[string]bool{}
	for _, w := range want {
		declared[w.Name] = true
		h, ok := byName[w.Name]
		switch {
		case !ok:
			p.Create = append(p.Create, w)
		case h.Owner != owner:
			p.Conflicts = append(p.Conflicts, w.Name)
			continue
		case h.Description != w.Description:
			p.Update = append(p.Update, w)
		}
		p.Held = append(p.Held, w.Name)
	}
	for _, h := range have {
		if h.Owner == owner && !declared[h.Name] {
			p.Delete = append(p.Delete, h.Name)
		}
	}
	slices.Sort(p.Delete)
	return p
}

// PlanGroupRealmRoles says which realm roles to map to and unmap from a
// group: want are the roles declared for it (those the realm holds as the
// AuthServer's), mapped those mapped now, ours the AuthServer's roles.
// Mappings of roles that are not the AuthServer's are never touched.
func PlanGroupRealmRoles(want, mapped []string, ours map[string]bool) (add, remove []string) {
	for _, w := range want {
		if ours[w] && !slices.Contains(mapped, w) {
			add = append(add, w)
		}
	}
	for _, m := range mapped {
		if ours[m] && !slices.Contains(want, m) {
			remove = append(remove, m)
		}
	}
	return add, remove
}
