package keycloak

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// Kind classifies a Keycloak error by what the caller can do about it.
type Kind int

const (
	// KindTransient: the network failed or Keycloak answered 5xx/408/429.
	// Retrying later with backoff may succeed.
	KindTransient Kind = iota
	// KindNotFound: the object does not exist (404).
	KindNotFound
	// KindConflict: the object already exists (409).
	KindConflict
	// KindUnauthorized: the admin credentials were refused (401/403).
	KindUnauthorized
	// KindRejected: Keycloak refused the request as invalid (other 4xx);
	// retrying the same request will not help.
	KindRejected
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindUnauthorized:
		return "unauthorized"
	case KindRejected:
		return "rejected"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is returned by every method of Client that failed. Message is
// Keycloak's own explanation when it gave one; it never holds credentials.
type Error struct {
	// Operation is what the client tried, e.g. "client.create".
	Operation string
	// Code is the HTTP status code, or 0 when no response arrived.
	Code int
	// Kind classifies the failure.
	Kind Kind
	// Message is Keycloak's error message or the transport error.
	Message string
	// WriteFailed marks a create or update that Keycloak answered with HTTP
	// 500 while it answered reads: not an outage, but retrying may not help.
	WriteFailed bool
	// RetryAfter is the pause Keycloak asked for (429 or 503 with
	// Retry-After); the caller retries after it, not sooner.
	RetryAfter time.Duration
	// cause is the transport error of a request that got no answer; it
	// names URLs and addresses, so only Detail shows it (public.go).
	cause error
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("keycloak %s: %s", e.Operation, e.Message)
	}
	return fmt.Sprintf("keycloak %s: HTTP %d: %s", e.Operation, e.Code, e.Message)
}

// Is lets errors.Is match the sentinel kinds below.
func (e *Error) Is(target error) bool {
	var k kindError
	if errors.As(target, &k) {
		return Kind(k) == e.Kind
	}
	return false
}

type kindError Kind

func (k kindError) Error() string { return Kind(k).String() }

// Sentinels for errors.Is.
var (
	ErrNotFound     error = kindError(KindNotFound)
	ErrConflict     error = kindError(KindConflict)
	ErrTransient    error = kindError(KindTransient)
	ErrUnauthorized error = kindError(KindUnauthorized)
	ErrRejected     error = kindError(KindRejected)
)

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err says the object already exists.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsTransient reports whether retrying later may succeed.
func IsTransient(err error) bool { return errors.Is(err, ErrTransient) }

// IsWriteFailed reports whether Keycloak failed to store a write while it
// answered reads (see Error.WriteFailed).
func IsWriteFailed(err error) bool {
	var kerr *Error
	return errors.As(err, &kerr) && kerr.WriteFailed
}

// dbFailed is the message of Keycloak's HTTP 400 when its database refused
// a write: on a create most often a unique key taken by a concurrent create
// of the same object (our own earlier attempt, still committing after the
// operator gave up waiting for it). Not a property of the request, so it is
// transient; the values whose length Keycloak cannot store (realm names of
// 238-255 characters) are refused at admission.
const dbFailed = "Database operation failed"

// CreateOutcomeUnknown reports whether a create that failed with err may
// have left the object in Keycloak all the same: it exists already (409),
// or the create timed out, lost its connection, got a 5xx or a database
// failure (transient). The caller looks the object up before it decides,
// and carries on with it only when it carries its own ownership markers.
func CreateOutcomeUnknown(err error) bool { return IsConflict(err) || IsTransient(err) }

// IsRejected reports whether Keycloak refused the request as invalid.
func IsRejected(err error) bool { return errors.Is(err, ErrRejected) }

// IsUnauthorized reports whether the admin credentials were refused.
func IsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// kindOf maps an HTTP status code to a Kind.
func kindOf(code int) Kind {
	switch {
	case code == 0, code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return KindTransient
	case code == http.StatusNotFound:
		return KindNotFound
	case code == http.StatusConflict:
		return KindConflict
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return KindUnauthorized
	default:
		return KindRejected
	}
}

// RetryAfter returns the pause Keycloak asked for with err (0: none).
func RetryAfter(err error) time.Duration {
	var kerr *Error
	if errors.As(err, &kerr) {
		return kerr.RetryAfter
	}
	return 0
}

// wrap turns an error from gocloak into an *Error for operation op.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var kerr *Error
	if errors.As(err, &kerr) {
		return err
	}
	var api *gocloak.APIError
	if errors.As(err, &api) && api.Code == 0 {
		// gocloak's text of a transport error: it names the URL.
		return &Error{Operation: op, Kind: KindTransient, Message: noAnswer(err), cause: err}
	}
	if errors.As(err, &api) {
		if api.Code == http.StatusBadRequest && strings.Contains(api.Message, dbFailed) {
			// Retried with backoff, but as a failed write (reason
			// KeycloakWriteFailed, which alerts), not as an outage: a cause
			// that does not go away must not pass for Keycloak being down.
			return &Error{Operation: op, Code: api.Code, Kind: KindTransient, WriteFailed: true, Message: api.Message +
				" (Keycloak's database refused the write: a create of the same object still committing, or a value longer than Keycloak stores)"}
		}
		return &Error{Operation: op, Code: api.Code, Kind: kindOf(api.Code), Message: api.Message}
	}
	// Transport errors (no answer) come as plain errors, and so do a few
	// gocloak failures (such as a missing Location header). A transport
	// error names the URL: Message says only which way it failed.
	if isTransport(err) {
		return &Error{Operation: op, Kind: KindTransient, Message: noAnswer(err), cause: err}
	}
	return &Error{Operation: op, Kind: KindTransient, Message: err.Error()}
}
