package keycloak

import (
	"context"
	"net/http"
)

// Group is a Keycloak group (top-level groups only: the AuthServer's
// spec.groups). Attributes carry Nauthera's owner marker on the groups it
// creates.
type Group struct {
	ID         string              `json:"id,omitempty"`
	Name       string              `json:"name"`
	Path       string              `json:"path,omitempty"`
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// RealmRoleAdmin manages realm roles and the realm roles mapped to
// top-level groups: the AuthServer's spec.realmRoles and spec.groups. The
// requests go through raw, with the Role type of RoleAdmin: gocloak's role
// calls cannot send attributes the way Keycloak stores them.
type RealmRoleAdmin interface {
	// ListRealmRoles returns the realm's roles, with their attributes.
	ListRealmRoles(ctx context.Context, realm string) ([]Role, error)
	// CreateRealmRole adds a realm role (409: a role of that name exists).
	CreateRealmRole(ctx context.Context, realm string, role Role) error
	// UpdateRealmRole replaces the description and attributes of the realm
	// role named role.Name.
	UpdateRealmRole(ctx context.Context, realm string, role Role) error
	// DeleteRealmRole removes the realm role named name (404: gone).
	DeleteRealmRole(ctx context.Context, realm, name string) error
	// ListGroups returns the realm's top-level groups, with attributes.
	ListGroups(ctx context.Context, realm string) ([]Group, error)
	// CreateGroup adds a top-level group (409: a group of that name exists).
	CreateGroup(ctx context.Context, realm string, g Group) error
	// DeleteGroup removes the group with id groupID (404: gone).
	DeleteGroup(ctx context.Context, realm, groupID string) error
	// ListGroupRealmRoles returns the realm roles mapped directly to the group.
	ListGroupRealmRoles(ctx context.Context, realm, groupID string) ([]Role, error)
	// AddGroupRealmRoles maps realm roles (id and name) to the group.
	AddGroupRealmRoles(ctx context.Context, realm, groupID string, roles []Role) error
	// RemoveGroupRealmRoles unmaps realm roles (id and name) from the group.
	RemoveGroupRealmRoles(ctx context.Context, realm, groupID string, roles []Role) error
}

// ListRealmRoles returns the realm roles with attributes
// (briefRepresentation=false: the owner marker is an attribute).
func (c *AdminClient) ListRealmRoles(ctx context.Context, realm string) ([]Role, error) {
	var out []Role
	err := c.call(ctx, "realm.roles.list", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodGet, realm, map[string][]string{"briefRepresentation": {"false"}, "first": {"0"}, "max": {"-1"}}, nil, &out, "roles")
	})
	return out, err
}

// CreateRealmRole adds a realm role.
func (c *AdminClient) CreateRealmRole(ctx context.Context, realm string, role Role) error {
	role.ID, role.ClientRole, role.ContainerID = "", false, ""
	return c.call(ctx, "realm.role.create", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, role, nil, "roles")
	})
}

// UpdateRealmRole replaces a realm role's description and attributes.
func (c *AdminClient) UpdateRealmRole(ctx context.Context, realm string, role Role) error {
	return c.call(ctx, "realm.role.update", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPut, realm, role, nil, "roles", role.Name)
	})
}

// DeleteRealmRole removes a realm role.
func (c *AdminClient) DeleteRealmRole(ctx context.Context, realm, name string) error {
	return c.call(ctx, "realm.role.delete", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, nil, nil, "roles", name)
	})
}

// ListGroups returns the top-level groups with attributes.
func (c *AdminClient) ListGroups(ctx context.Context, realm string) ([]Group, error) {
	var out []Group
	err := c.call(ctx, "groups.list", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodGet, realm, map[string][]string{"briefRepresentation": {"false"}, "first": {"0"}, "max": {"-1"}}, nil, &out, "groups")
	})
	return out, err
}

// CreateGroup adds a top-level group.
func (c *AdminClient) CreateGroup(ctx context.Context, realm string, g Group) error {
	g.ID, g.Path = "", ""
	return c.call(ctx, "group.create", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, g, nil, "groups")
	})
}

// DeleteGroup removes a group.
func (c *AdminClient) DeleteGroup(ctx context.Context, realm, groupID string) error {
	return c.call(ctx, "group.delete", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, nil, nil, "groups", groupID)
	})
}

// ListGroupRealmRoles returns the realm roles mapped directly to a group.
func (c *AdminClient) ListGroupRealmRoles(ctx context.Context, realm, groupID string) ([]Role, error) {
	var out []Role
	err := c.call(ctx, "group.realmroles.list", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &out, "groups", groupID, "role-mappings", "realm")
	})
	return out, err
}

// AddGroupRealmRoles maps realm roles to a group.
func (c *AdminClient) AddGroupRealmRoles(ctx context.Context, realm, groupID string, roles []Role) error {
	return c.call(ctx, "group.realmroles.add", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, roles, nil, "groups", groupID, "role-mappings", "realm")
	})
}

// RemoveGroupRealmRoles unmaps realm roles from a group.
func (c *AdminClient) RemoveGroupRealmRoles(ctx context.Context, realm, groupID string, roles []Role) error {
	return c.call(ctx, "group.realmroles.remove", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, roles, nil, "groups", groupID, "role-mappings", "realm")
	})
}
