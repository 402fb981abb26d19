package keycloak

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/Nerzal/gocloak/v14"
)

// An operator without a Keycloak password: it logs in to the admin realm
// as a service-account client whose authenticator is federated-jwt (the
// same one secretless clients use). The client assertion is the operator's
// own Kubernetes service-account token, read from a projected volume; a
// Kubernetes identity provider in the admin realm trusts the cluster's
// issuer, and the client names that identity provider and the operator's
// subject (system:serviceaccount:<ns>:<sa>). Nothing secret is stored: the
// token is short-lived, rotated by the kubelet, and bound to the pod.

// clientAssertionJWTBearer is RFC 7523's client assertion type.
const clientAssertionJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// loginFederated does client_credentials with the token file as client
// assertion. The file is read on every login, never cached: the kubelet
// replaces it before it expires.
func (t *tokenCache) loginFederated(ctx context.Context) (*gocloak.JWT, error) {
	var assertion string
	var err error
	if t.creds.Assertion != nil {
		// The source's own error, unchanged: a token the API server
		// refused is not Keycloak refusing the login, and the caller
		// classifies it (internal/connection).
		if assertion, err = t.creds.Assertion(ctx); err != nil {
			return nil, &assertionError{err}
		}
	} else if assertion, err = ReadTokenFile(t.creds.TokenFile); err != nil {
		return nil, &Error{Operation: "token.login", Kind: KindUnauthorized, Message: err.Error()}
	}
	return t.gc.GetToken(ctx, t.realm, gocloak.TokenOptions{
		ClientID:            gocloak.StringP(t.creds.ClientID),
		GrantType:           gocloak.StringP("client_credentials"),
		ClientAssertionType: gocloak.StringP(clientAssertionJWTBearer),
		ClientAssertion:     gocloak.StringP(assertion),
	})
}

// assertionError carries the error of Credentials.Assertion through the
// token cache unchanged (tokenCache.token returns its cause).
type assertionError struct{ cause error }

func (e *assertionError) Error() string { return e.cause.Error() }

// federated says whether the credentials are a federated client assertion.
func (c Credentials) federated() bool { return c.TokenFile != "" || c.Assertion != nil }

// ReadTokenFile reads a service-account token file. The error names the
// file, never its content.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the path is the operator's own flag
	if err != nil {
		return "", errors.New("cannot read the service-account token file " + path + " (is the projected volume mounted?): " + errText(err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("the service-account token file " + path + " is empty")
	}
	return tok, nil
}

// errText is the cause of a file error without the path it repeats.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// IsForbidden reports whether Keycloak answered 403: the admin identity
// logged in but may not touch this object (a per-realm identity asked for
// another realm). IsUnauthorized is true for it too.
func IsForbidden(err error) bool {
	var kerr *Error
	return errors.As(err, &kerr) && kerr.Code == http.StatusForbidden
}
