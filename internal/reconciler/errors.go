package reconciler

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Failure is a reconcile failure with the reason to report.
type Failure struct {
	Reason string
	Msg    string
	// Transient failures are retried with backoff; others stall the object
	// until something changes (or the slow resync).
	Transient bool
	// Waiting marks an expected wait (a new AuthServer still provisioning):
	// reported with a Normal Event, not a Warning.
	Waiting bool
	// RetryAfter is when a wait is looked at again (0: soon, 2s; a watch
	// usually ends it first), or when a transient failure is retried
	// (0: with backoff), such as the pause Keycloak asked for.
	RetryAfter time.Duration
	// Err is the cause, if any: errors.Is and errors.As see through a
	// Failure to it (Unwrap). What is reported is Reason and Msg.
	Err error
}

func (f *Failure) Error() string { return f.Reason + ": " + f.Msg }

// Unwrap returns the cause of the failure (nil if none).
func (f *Failure) Unwrap() error { return f.Err }

// Permanent returns a failure that retrying cannot fix. An error in args
// formatted with %w is its cause (see Unwrap).
func Permanent(reason, format string, args ...any) error {
	return newFailure(reason, format, args)
}

// Transient returns a failure that is retried with backoff. An error in args
// formatted with %w is its cause.
func Transient(reason, format string, args ...any) error {
	f := newFailure(reason, format, args)
	f.Transient = true
	return f
}

// Wait returns an expected wait, looked at again after retry (or when a
// watch sees what it waits for). An error in args formatted with %w is its
// cause.
func Wait(reason string, retry time.Duration, format string, args ...any) error {
	f := newFailure(reason, format, args)
	f.Waiting, f.RetryAfter = true, retry
	return f
}

// newFailure formats the message with fmt.Errorf, so that %w works as it
// does there; the cause is kept only when something was wrapped.
func newFailure(reason, format string, args []any) *Failure {
	err := fmt.Errorf(format, args...)
	f := &Failure{Reason: reason, Msg: err.Error()}
	if wraps(err) {
		f.Err = err
	}
	return f
}

// wraps reports whether err wraps one error or several (%w once or more).
func wraps(err error) bool {
	switch u := err.(type) { //nolint:errorlint // the wrapper itself is asked, not its chain
	case interface{ Unwrap() error }:
		return u.Unwrap() != nil
	case interface{ Unwrap() []error }:
		return len(u.Unwrap()) > 0
	}
	return false
}

// Classify turns any reconcile error into a failure with a specific reason,
// by what failed and whether retrying can help.
func Classify(err error) *Failure {
	var f *Failure
	switch {
	case errors.As(err, &f):
		return f
	case connection.IsCredentialsError(err):
		// Retried with backoff: the Secret is often created just after the object.
		return &Failure{Reason: authv1.ReasonCredentialsNotFound, Msg: err.Error(), Transient: true, Err: err}
	case keycloak.IsForbidden(err):
		// Logged in, but not allowed: the identity's roles, not its
		// credentials. Retried with backoff: the roles may be granted.
		return &Failure{Reason: authv1.ReasonKeycloakForbidden, Msg: "Keycloak answered 403 to the operator's admin identity (it lacks the roles for this realm; a spec.adminIdentity manages its own realm only): " + err.Error(), Transient: true, Err: err}
	case keycloak.IsUnauthorized(err):
		// Wrong admin credentials: retry with backoff, they may be fixed.
		return &Failure{Reason: authv1.ReasonKeycloakUnavailable, Msg: "Keycloak refused the operator's admin credentials: " + err.Error(), Transient: true, Err: err}
	case keycloak.IsWriteFailed(err):
		// Retried with backoff, but not reported as an outage: one team's
		// value must not page the platform team.
		return &Failure{Reason: authv1.ReasonKeycloakWriteFailed, Msg: err.Error(), Transient: true, Err: err}
	case keycloak.IsTransient(err):
		// A pause Keycloak asked for is waited out, not retried sooner.
		return &Failure{Reason: authv1.ReasonKeycloakUnavailable, Msg: "Keycloak is unavailable: " + err.Error(), Transient: true, RetryAfter: keycloak.RetryAfter(err), Err: err}
	case isKeycloakError(err):
		return &Failure{Reason: authv1.ReasonKeycloakRejected, Msg: "Keycloak rejected the request: " + err.Error(), Err: err}
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		// The API server refused a write as invalid: the same write will be
		// refused again, so retrying in a loop would only hide it.
		return &Failure{Reason: authv1.ReasonKubernetesRejected, Msg: "The Kubernetes API refused a write: " + err.Error(), Err: err}
	default:
		// Another Kubernetes API error (a conflict, a timeout, a restart):
		// retry with backoff, report as progressing.
		return &Failure{Reason: authv1.ReasonProgressing, Msg: err.Error(), Transient: true, Err: err}
	}
}

// SettleDeletion decides what an error while cleaning up Keycloak means for
// a finalizer. Gone already: done. Keycloak unreachable, or a Kubernetes API
// error: returned, so the deletion is retried (else the object would leak).
// Missing admin credentials, refused credentials or a rejected request will
// not heal by retrying: leftBehind reports it and the finalizer is released,
// so an object (and its namespace) is never held hostage.
func SettleDeletion(err error, leftBehind func(error)) error {
	switch {
	case err == nil, keycloak.IsNotFound(err):
		return nil
	case keycloak.IsTransient(err):
		return err
	case connection.IsCredentialsError(err), isKeycloakError(err):
		leftBehind(err)
		return nil
	default:
		return err
	}
}

func isKeycloakError(err error) bool {
	var kerr *keycloak.Error
	return errors.As(err, &kerr)
}
