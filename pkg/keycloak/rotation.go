package keycloak

import (
	"context"
	"encoding/json"
	"net/http"
)

// Client policies and profiles, and the rotated secret: gocloak has no
// calls for these admin endpoints; they go through raw (raw.go).

// GetClientProfiles returns the realm's own client profiles (not the
// global ones), each as Keycloak sent it.
func (c *AdminClient) GetClientProfiles(ctx context.Context, realm string) ([]json.RawMessage, error) {
	var out struct {
		Profiles []json.RawMessage `json:"profiles"`
	}
	err := c.call(ctx, "clientprofiles.get", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &out, "client-policies", "profiles")
	})
	return out.Profiles, err
}

// PutClientProfiles replaces the realm's client profiles with profiles.
// Keycloak replaces the whole list: pass every profile to keep.
func (c *AdminClient) PutClientProfiles(ctx context.Context, realm string, profiles []json.RawMessage) error {
	if profiles == nil {
		profiles = []json.RawMessage{}
	}
	return c.call(ctx, "clientprofiles.update", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPut, realm, map[string]any{"profiles": profiles}, nil, "client-policies", "profiles")
	})
}

// GetClientPolicies returns the realm's own client policies, each as
// Keycloak sent it.
func (c *AdminClient) GetClientPolicies(ctx context.Context, realm string) ([]json.RawMessage, error) {
	var out struct {
		Policies []json.RawMessage `json:"policies"`
	}
	err := c.call(ctx, "clientpolicies.get", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodGet, realm, nil, &out, "client-policies", "policies")
	})
	return out.Policies, err
}

// PutClientPolicies replaces the realm's client policies with policies.
// Keycloak replaces the whole list: pass every policy to keep.
func (c *AdminClient) PutClientPolicies(ctx context.Context, realm string, policies []json.RawMessage) error {
	if policies == nil {
		policies = []json.RawMessage{}
	}
	return c.call(ctx, "clientpolicies.update", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPut, realm, map[string]any{"policies": policies}, nil, "client-policies", "policies")
	})
}

// DeleteRotatedSecret ends the grace period of the client's previous
// secret at once. Keycloak answers 204 also when there is none.
func (c *AdminClient) DeleteRotatedSecret(ctx context.Context, realm, id string) error {
	return c.call(ctx, "client.secret.rotated.delete", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodDelete, realm, nil, nil, "clients", id, "client-secret", "rotated")
	})
}
