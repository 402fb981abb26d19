package keycloak

import (
	"context"
	"net/http"
)

// ClientRoleMappings are the roles of one client mapped directly to a user.
type ClientRoleMappings struct {
	// ClientUUID is the client's internal id, ClientID its clientId.
	ClientUUID string
	ClientID   string
	Roles      []Role
}

// RoleGrantAdmin reads what a user (a client's service account) holds.
type RoleGrantAdmin interface {
	// ListUserClientRoleMappings returns the client roles mapped directly
	// to the user (not through groups or composites), for every client at
	// once: one request, whatever the number of clients.
	ListUserClientRoleMappings(ctx context.Context, realm, userID string) ([]ClientRoleMappings, error)
}

// ListUserClientRoleMappings reads GET /users/{id}/role-mappings, whose
// clientMappings are keyed by clientId.
func (c *AdminClient) ListUserClientRoleMappings(ctx context.Context, realm, userID string) ([]ClientRoleMappings, error) {
	var rep struct {
		ClientMappings map[string]struct {
			ID       string `json:"id"`
			Client   string `json:"client"`
			Mappings []Role `json:"mappings"`
		} `json:"clientMappings"`
	}
	err := c.call(ctx, "user.rolemappings.list", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &rep, "users", userID, "role-mappings")
	})
	if err != nil {
		return nil, err
	}
	out := make([]ClientRoleMappings, 0, len(rep.ClientMappings))
	for clientID, m := range rep.ClientMappings {
		if m.Client != "" {
			clientID = m.Client
		}
		out = append(out, ClientRoleMappings{ClientUUID: m.ID, ClientID: clientID, Roles: m.Mappings})
	}
	return out, nil
}
