package keycloak

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		code int
		want Kind
	}{
		{0, KindTransient},
		{http.StatusBadRequest, KindRejected},
		{http.StatusUnauthorized, KindUnauthorized},
		{http.StatusForbidden, KindUnauthorized},
		{http.StatusNotFound, KindNotFound},
		{http.StatusRequestTimeout, KindTransient},
		{http.StatusConflict, KindConflict},
		{http.StatusUnprocessableEntity, KindRejected},
		{http.StatusTooManyRequests, KindTransient},
		{http.StatusInternalServerError, KindTransient},
		{http.StatusBadGateway, KindTransient},
		{http.StatusServiceUnavailable, KindTransient},
	}
	for _, c := range cases {
		if got := kindOf(c.code); got != c.want {
			t.Errorf("kindOf(%d) = %v, want %v", c.code, got, c.want)
		}
	}
}

func TestWrapClassifiesGocloakErrors(t *testing.T) {
	err := wrap("client.create", &gocloak.APIError{Code: 409, Message: "409 Conflict: Client my-app already exists"})
	if !IsConflict(err) || IsNotFound(err) || IsTransient(err) {
		t.Fatalf("409 not classified as conflict only: %v", err)
	}
	if got, want := err.Error(), "keycloak client.create: HTTP 409: 409 Conflict: Client my-app already exists"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	var kerr *Error
	if !errors.As(fmt.Errorf("reconcile: %w", err), &kerr) || kerr.Code != 409 || kerr.Operation != "client.create" {
		t.Errorf("wrapped error lost its fields: %#v", kerr)
	}

	netErr := wrap("realm.get", &gocloak.APIError{Code: 0, Message: "could not get realm: dial tcp: connection refused"})
	if !IsTransient(netErr) {
		t.Errorf("network failure not transient: %v", netErr)
	}
	// gocloak's own failures keep their words; a transport error loses its URL.
	if got := wrap("client.create", errors.New("missing Location header")).Error(); !strings.Contains(got, "missing Location header") {
		t.Errorf("gocloak's failure reads %q", got)
	}
	transport := wrap("realm.get", &url.Error{Op: "Get", URL: "http://keycloak.internal:8080/admin/realms/x", Err: errors.New("dial tcp 10.0.0.5:8080: connect: connection refused")})
	if got := transport.Error(); strings.Contains(got, "keycloak.internal") || strings.Contains(got, "10.0.0.5") || !strings.Contains(got, "connection refused") || !IsTransient(transport) {
		t.Errorf("transport failure reads %q", got)
	}
	if wrap("x", nil) != nil {
		t.Error("wrap(nil) must be nil")
	}
	if again := wrap("other", err); again != err { //nolint:errorlint // identity is the point: an *Error passes through as the same value
		t.Error("an *Error must pass through unchanged")
	}
}

// A 400 "Database operation failed" is the database's refusal (a unique key
// taken by a concurrent create), not the request's fault: transient, and a
// create that got it may have been stored. Other 400s stay rejections.
func TestWrapDatabaseFailureIsTransient(t *testing.T) {
	db := wrap("realm.create", &gocloak.APIError{Code: 400, Message: "400 Bad Request: Database operation failed"})
	if !IsTransient(db) || IsRejected(db) || !CreateOutcomeUnknown(db) || !IsWriteFailed(db) {
		t.Errorf("database failure classified as %v", db)
	}
	bad := wrap("realm.create", &gocloak.APIError{Code: 400, Message: "400 Bad Request: Invalid redirect uri"})
	if !IsRejected(bad) || CreateOutcomeUnknown(bad) {
		t.Errorf("plain 400 classified as %v", bad)
	}
	if !CreateOutcomeUnknown(wrap("realm.create", &gocloak.APIError{Code: 409})) || CreateOutcomeUnknown(wrap("realm.create", &gocloak.APIError{Code: 404})) {
		t.Error("409 is an unknown outcome (look it up); 404 is not")
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	for _, c := range []Credentials{
		{Username: "admin", Password: "s3cr3t-pw"},
		{ClientID: "ops", ClientSecret: "s3cr3t-cs"},
	} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(format, c)
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("%s printed a secret: %s", format, out)
			}
		}
	}
}
