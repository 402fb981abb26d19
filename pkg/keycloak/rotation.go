package keycloak

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/Nerzal/gocloak/v14"
)

// Client policies and profiles, and the rotated secret: gocloak has no
// calls for these admin endpoints, so they are made here with gocloak's
// authenticated request (the same token, transport and metrics).

// raw sends one admin API request to /admin/realms/{realm}/{path...} and
// decodes a JSON answer into result (when not nil). A failure is a
// gocloak.APIError, so that call classifies it like gocloak's own.
func (c *AdminClient) raw(ctx context.Context, tok, method, realm string, body, result any, path ...string) error {
	return c.rawQuery(ctx, tok, method, realm, nil, body, result, path...)
}

// rawQuery is raw with query parameters.
func (c *AdminClient) rawQuery(ctx context.Context, tok, method, realm string, query url.Values, body, result any, path ...string) error {
	u := c.url + "/admin/realms/" + url.PathEscape(realm)
	for _, p := range path {
		u += "/" + url.PathEscape(p)
	}
	req := c.gc.GetRequestWithBearerAuth(ctx, tok)
	if len(query) > 0 {
		req.SetQueryParamsFromValues(query)
	}
	if body != nil {
		req.SetBody(body)
	}
	resp, err := req.Execute(method, u)
	if err != nil {
		return &gocloak.APIError{Code: 0, Message: err.Error()}
	}
	if resp.IsError() {
		msg := resp.Status()
		var kc struct {
			Error            string `json:"error"`
			ErrorMessage     string `json:"errorMessage"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(resp.Body(), &kc) == nil {
			for _, m := range []string{kc.ErrorMessage, kc.ErrorDescription, kc.Error} {
				if m != "" {
					msg += ": " + m
					break
				}
			}
		}
		return &gocloak.APIError{Code: resp.StatusCode(), Message: msg}
	}
	if result != nil && len(resp.Body()) > 0 {
		if err := json.Unmarshal(resp.Body(), result); err != nil {
			return &gocloak.APIError{Code: resp.StatusCode(), Message: "cannot read Keycloak's answer: " + err.Error()}
		}
	}
	return nil
}

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
