package keycloak

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/Nerzal/gocloak/v14"
)

// Admin endpoints gocloak has no call for (client policies and profiles,
// the rotated secret, LDAP tests and syncs) are requested here with
// gocloak's authenticated request: the same token, transport and metrics.

// raw sends one admin API request to /admin/realms/{realm}/{path...} and
// decodes a JSON answer into result (when not nil). A failure is a
// gocloak.APIError, so that call classifies it like gocloak's own; no
// answer at all is the transport error.
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
		// No answer: the transport error, kept whole (wrap keeps its URL
		// out of the message).
		return err
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
