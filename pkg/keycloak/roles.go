package keycloak

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/Nerzal/gocloak/v14"
)

// Role is a Keycloak role: a client role (Nauthera's spec.roles) or a realm
// role. Attributes carry Nauthera's owner marker on the roles it creates.
type Role struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Composite says the role includes other roles (listed only: an
	// update or create never sends composites).
	Composite   bool                `json:"composite,omitempty"`
	ClientRole  bool                `json:"clientRole,omitempty"`
	ContainerID string              `json:"containerId,omitempty"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
}

// RoleAdmin manages client roles and the client roles granted to a
// client's service account. The requests go through raw: gocloak's role
// calls take and return its own types, and its role-update call cannot
// send attributes the way Keycloak stores them.
type RoleAdmin interface {
	// ListClientRoles returns the client roles of the client with internal
	// id clientUUID, with their attributes.
	ListClientRoles(ctx context.Context, realm, clientUUID string) ([]Role, error)
	// CreateClientRole adds a client role (409: a role of that name exists).
	CreateClientRole(ctx context.Context, realm, clientUUID string, role Role) error
	// UpdateClientRole replaces the description and attributes of the
	// client role role.ID (as listed), or, without an ID, the one named
	// role.Name.
	UpdateClientRole(ctx context.Context, realm, clientUUID string, role Role) error
	// DeleteClientRole removes the client role role.ID (as listed), or,
	// without an ID, the one named role.Name (404: gone).
	DeleteClientRole(ctx context.Context, realm, clientUUID string, role Role) error
	// RemoveRoleComposites makes the role roleID (as listed) a plain role
	// again: each role it includes (realm or client, added in the console)
	// is taken out of it. A role in spec.roles is what it says, nothing more.
	RemoveRoleComposites(ctx context.Context, realm, roleID string) error
	// ServiceAccountUserID is the id of the user behind the service account
	// of the client with internal id clientUUID (404: the client has no
	// service account).
	ServiceAccountUserID(ctx context.Context, realm, clientUUID string) (string, error)
	// ListUserClientRoles returns the roles of client targetUUID mapped
	// directly to the user (not through groups or composites).
	ListUserClientRoles(ctx context.Context, realm, userID, targetUUID string) ([]Role, error)
	// AddUserClientRoles maps roles (id and name) of client targetUUID to the user.
	AddUserClientRoles(ctx context.Context, realm, userID, targetUUID string, roles []Role) error
	// RemoveUserClientRoles unmaps roles (id and name) of client targetUUID from the user.
	RemoveUserClientRoles(ctx context.Context, realm, userID, targetUUID string, roles []Role) error
}

// ListClientRoles returns the client roles of the client, with attributes
// (briefRepresentation=false: the owner marker is an attribute).
func (c *AdminClient) ListClientRoles(ctx context.Context, realm, clientUUID string) ([]Role, error) {
	var out []Role
	err := c.call(ctx, "client.roles.list", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodGet, realm, map[string][]string{"briefRepresentation": {"false"}}, nil, &out, "clients", clientUUID, "roles")
	})
	return out, err
}

// CreateClientRole adds a client role.
func (c *AdminClient) CreateClientRole(ctx context.Context, realm, clientUUID string, role Role) error {
	role.ID, role.ClientRole, role.ContainerID = "", false, ""
	return c.call(ctx, "client.role.create", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, role, nil, "clients", clientUUID, "roles")
	})
}

// UpdateClientRole replaces a client role's description and attributes.
func (c *AdminClient) UpdateClientRole(ctx context.Context, realm, clientUUID string, role Role) error {
	return c.call(ctx, "client.role.update", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPut, realm, role, nil, rolePath(clientUUID, role)...)
	})
}

// DeleteClientRole removes a client role.
func (c *AdminClient) DeleteClientRole(ctx context.Context, realm, clientUUID string, role Role) error {
	return c.call(ctx, "client.role.delete", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, nil, nil, rolePath(clientUUID, role)...)
	})
}

// RemoveRoleComposites reads the roles roleID includes and removes them
// from it (two requests; none of them when it includes none).
func (c *AdminClient) RemoveRoleComposites(ctx context.Context, realm, roleID string) error {
	var composites []Role
	err := c.call(ctx, "role.composites.list", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &composites, "roles-by-id", roleID, "composites")
	})
	if err != nil || len(composites) == 0 {
		return err
	}
	return c.call(ctx, "role.composites.delete", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, composites, nil, "roles-by-id", roleID, "composites")
	})
}

// rolePath addresses one client role: by its id when known (roles-by-id),
// else by name. A role made in the console may be named "." or "..",
// which no escaping carries in a path (Keycloak answers 400 "Request path
// not normalized"), so such a role could never be updated or deleted by
// name: spec.roles, the whole set, would never converge.
func rolePath(clientUUID string, role Role) []string {
	if role.ID != "" {
		return []string{"roles-by-id", role.ID}
	}
	return []string{"clients", clientUUID, "roles", role.Name}
}

// ServiceAccountUserID returns the id of the client's service-account user.
func (c *AdminClient) ServiceAccountUserID(ctx context.Context, realm, clientUUID string) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	err := c.call(ctx, "client.serviceaccount.get", func(ctx context.Context, tok string) error {
		err := c.raw(ctx, tok, http.MethodGet, realm, nil, &u, "clients", clientUUID, "service-account-user")
		var api *gocloak.APIError
		if errors.As(err, &api) && api.Code == http.StatusBadRequest && strings.Contains(api.Message, noServiceAccount) {
			// Keycloak 26 answers 400, not 404, for a client without a
			// service account: it is not found, not a request to fix.
			return &gocloak.APIError{Code: http.StatusNotFound, Message: api.Message}
		}
		return err
	})
	return u.ID, err
}

// noServiceAccount is Keycloak's answer (HTTP 400) when the service-account
// user of a client without one is asked for.
const noServiceAccount = "Service account not enabled"

// ListUserClientRoles returns the roles of a client mapped directly to a user.
func (c *AdminClient) ListUserClientRoles(ctx context.Context, realm, userID, targetUUID string) ([]Role, error) {
	var out []Role
	err := c.call(ctx, "user.clientroles.list", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &out, "users", userID, "role-mappings", "clients", targetUUID)
	})
	return out, err
}

// AddUserClientRoles maps client roles to a user.
func (c *AdminClient) AddUserClientRoles(ctx context.Context, realm, userID, targetUUID string, roles []Role) error {
	return c.call(ctx, "user.clientroles.add", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, roles, nil, "users", userID, "role-mappings", "clients", targetUUID)
	})
}

// RemoveUserClientRoles unmaps client roles from a user.
func (c *AdminClient) RemoveUserClientRoles(ctx context.Context, realm, userID, targetUUID string, roles []Role) error {
	return c.call(ctx, "user.clientroles.remove", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, roles, nil, "users", userID, "role-mappings", "clients", targetUUID)
	})
}
