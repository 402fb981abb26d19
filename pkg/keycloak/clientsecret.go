package keycloak

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PreviousSecret is a client secret that stays valid, beside the new one,
// until Until: Keycloak's rotated secret. Keycloak honours it only while a
// client policy with the secret-rotation executor applies to the client.
type PreviousSecret struct {
	Secret string
	Until  time.Time
}

// Keycloak's attributes of the rotated secret (OIDCClientSecretConfigWrapper).
const (
	attrRotatedSecret        = "client.secret.rotated"
	attrRotatedSecretCreated = "client.secret.rotated.creation.time"
	attrRotatedSecretExpires = "client.secret.rotated.expiration.time"
)

// SetClientSecret implements ClientSecretAdmin. Keycloak has no endpoint
// that sets a chosen secret: the client is read and written back whole
// (raw, so that fields gocloak does not know survive) with `secret` set.
// With previous, the replaced secret is written as the rotated secret, the
// way Keycloak's secret-rotation executor records one on a regenerate
// (measured on 26.7.3: TestSetClientSecret). The secret is read back: a
// write Keycloak did not apply is an error. Error messages never hold the
// secrets (Keycloak's answers are scrubbed of them).
func (c *AdminClient) SetClientSecret(ctx context.Context, realm, id, secret string, previous *PreviousSecret) error {
	if id == "" || secret == "" {
		return &Error{Operation: "client.secret.update", Kind: KindRejected, Message: "client id or secret is empty"}
	}
	err := c.call(ctx, "client.secret.update", func(ctx context.Context, tok string) error {
		var rep map[string]any
		if err := c.raw(ctx, tok, http.MethodGet, realm, nil, &rep, "clients", id); err != nil {
			return err
		}
		rep["secret"] = secret
		if previous != nil {
			attrs, _ := rep["attributes"].(map[string]any)
			if attrs == nil {
				attrs = map[string]any{}
			}
			attrs[attrRotatedSecret] = previous.Secret
			attrs[attrRotatedSecretCreated] = strconv.FormatInt(time.Now().Unix(), 10)
			attrs[attrRotatedSecretExpires] = strconv.FormatInt(previous.Until.Unix(), 10)
			rep["attributes"] = attrs
		}
		return c.raw(ctx, tok, http.MethodPut, realm, rep, nil, "clients", id)
	})
	if err != nil {
		return scrub(err, secret, previous)
	}
	got, err := c.GetClientSecret(ctx, realm, id)
	if err != nil {
		return scrub(err, secret, previous)
	}
	if got != secret {
		return &Error{Operation: "client.secret.update", Kind: KindRejected, Message: "Keycloak accepted the client secret but does not hold it"}
	}
	return nil
}

// scrub takes the secrets out of err's message (a Keycloak answer could
// quote the representation it refused).
func scrub(err error, secret string, previous *PreviousSecret) error {
	var kerr *Error
	if !errors.As(err, &kerr) {
		return err
	}
	kerr.Message = strings.ReplaceAll(kerr.Message, secret, "[redacted]")
	if previous != nil && previous.Secret != "" {
		kerr.Message = strings.ReplaceAll(kerr.Message, previous.Secret, "[redacted]")
	}
	return err
}
