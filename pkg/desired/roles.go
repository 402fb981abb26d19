package desired

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The client roles of spec.roles carry the owner marker of the client
// (AttrOwner, AttrOwnerKind) as role attributes. Keycloak stores at most
// KeycloakMaxLength characters in a role attribute's value (one more is an
// HTTP 500): an owner namespace/name longer than that is marked with the
// AuthClient's UID instead.

// RoleOwner is the value of the owner attribute on the AuthClient's roles.
func RoleOwner(ac *authv1.AuthClient) string {
	if owner := Owner(ac.Namespace, ac.Name); utf8.RuneCountInString(owner) <= KeycloakMaxLength {
		return owner
	}
	return string(ac.UID)
}

// RolePlan is what brings a Keycloak client's roles into line with
// spec.roles: one write per role that differs.
type RolePlan struct {
	// Create are the roles of spec.roles Keycloak lacks.
	Create []keycloak.Role
	// Update are roles whose description or owner marker differ, as they
	// should be (attributes other than the marker kept).
	Update []RoleFix
	// Delete are the roles not in spec.roles (added in the console, or
	// removed from the spec).
	Delete []keycloak.Role
	// Decompose are roles of spec.roles made composite in the console:
	// the roles they include are taken out (else whoever is granted the
	// role would hold those too, realm-management's included).
	Decompose []keycloak.Role
}

// Empty says whether nothing needs to change.
func (p RolePlan) Empty() bool {
	return len(p.Create)+len(p.Update)+len(p.Delete)+len(p.Decompose) == 0
}

// RoleFix is a role to write over, and what of it differed.
type RoleFix struct {
	Role keycloak.Role
	// What differed: "description", "owner marker" or both.
	What string
}

// Changes names each change by role, for the Event that reports reverted
// drift: "orders:write (deleted in Keycloak; created again)".
func (p RolePlan) Changes() []string {
	out := make([]string, 0, len(p.Create)+len(p.Update)+len(p.Delete)+len(p.Decompose))
	for _, r := range p.Create {
		out = append(out, r.Name+" (deleted in Keycloak; created again)")
	}
	for _, r := range p.Update {
		out = append(out, r.Role.Name+" ("+r.What+" restored)")
	}
	for _, r := range p.Delete {
		out = append(out, r.Name+" (not in spec.roles; deleted)")
	}
	for _, r := range p.Decompose {
		out = append(out, r.Name+" (roles included in it removed)")
	}
	return out
}

// PlanRoles compares spec.roles with the client roles Keycloak holds
// (actual) and returns the writes that make them equal. It must only be
// called when spec.roles is set: omitted, the roles are left alone.
// Names are compared exactly, as Keycloak does (admission refuses names
// that differ only by case).
func PlanRoles(ac *authv1.AuthClient, actual []keycloak.Role) RolePlan {
	var p RolePlan
	owner := RoleOwner(ac)
	want := make(map[string]authv1.ClientRole, len(ac.Spec.Roles))
	for _, r := range ac.Spec.Roles {
		want[r.Name] = r
	}
	held := make(map[string]bool, len(actual))
	for _, a := range actual {
		w, ok := want[a.Name]
		if !ok {
			p.Delete = append(p.Delete, a)
			continue
		}
		held[a.Name] = true
		if a.Composite {
			p.Decompose = append(p.Decompose, a)
		}
		var what []string
		if a.Description != w.Description {
			what = append(what, "description")
		}
		if !marked(a, owner) {
			what = append(what, "owner marker")
		}
		if len(what) > 0 {
			up := a
			up.Description = w.Description
			up.Attributes = markRole(a.Attributes, owner)
			p.Update = append(p.Update, RoleFix{Role: up, What: strings.Join(what, " and ")})
		}
	}
	for _, w := range ac.Spec.Roles {
		if !held[w.Name] {
			p.Create = append(p.Create, keycloak.Role{Name: w.Name, Description: w.Description, Attributes: markRole(nil, owner)})
		}
	}
	return p
}

// marked says whether a role carries exactly the owner marker.
func marked(r keycloak.Role, owner string) bool {
	return slices.Equal(r.Attributes[AttrOwner], []string{owner}) && slices.Equal(r.Attributes[AttrOwnerKind], []string{"AuthClient"})
}

// markRole returns attrs with the owner marker set (a copy: the role read
// from Keycloak is not changed).
func markRole(attrs map[string][]string, owner string) map[string][]string {
	out := make(map[string][]string, len(attrs)+2)
	for k, v := range attrs {
		out[k] = v
	}
	out[AttrOwner] = []string{owner}
	out[AttrOwnerKind] = []string{"AuthClient"}
	return out
}

// HeldRoles are the sorted names of the roles Keycloak holds: those it
// held (actual), with the writes of p that succeeded applied (done says,
// by name, which did; a failed create is not held, a failed delete still is).
func HeldRoles(actual []keycloak.Role, p RolePlan, done func(name string) bool) []string {
	held := map[string]bool{}
	for _, a := range actual {
		held[a.Name] = true
	}
	for _, r := range p.Create {
		if done(r.Name) {
			held[r.Name] = true
		}
	}
	for _, r := range p.Delete {
		if done(r.Name) {
			delete(held, r.Name)
		}
	}
	out := make([]string, 0, len(held))
	for n := range held {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// RoleDriftMessage is the note of the Event that reports console edits of
// the client's roles reverted.
func RoleDriftMessage(clientID string, p RolePlan) string {
	return fmt.Sprintf("Reverted changes made in Keycloak to the roles of client %q: %s", clientID, strings.Join(p.Changes(), ", "))
}
