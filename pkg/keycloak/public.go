package keycloak

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// What an error may say in public. The message of an Error reaches
// conditions and Events, which whoever may read the object sees. A
// transport error from Go's HTTP client names the request's URL (the
// operator's own Keycloak admin URL, its realm and object ids) and the
// addresses it dialled: none of that belongs there. Such an Error keeps the
// transport error for logs (Detail) and says in Message only which way the
// request failed.

// noAnswer describes a request that got no HTTP answer from Keycloak,
// without URLs or addresses. gocloak hands some transport errors over as
// text only (an APIError with code 0): those are told apart by Go's
// wording, which is stable in its net, x509 and context packages.
func noAnswer(err error) string {
	var (
		dns    *net.DNSError
		netErr net.Error
		cert   x509.UnknownAuthorityError
		record tls.RecordHeaderError
	)
	text := err.Error()
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(text, x) {
				return true
			}
		}
		return false
	}
	switch {
	case errors.Is(err, context.Canceled), has("context canceled"):
		return "no answer from Keycloak: request canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout(), has("deadline exceeded", "timeout", "Timeout"):
		return "no answer from Keycloak: timed out"
	case errors.As(err, &dns), has("no such host"):
		return "no answer from Keycloak: its host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED), has("connection refused"):
		return "no answer from Keycloak: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), has("connection reset", "EOF"):
		return "no answer from Keycloak: connection closed"
	case errors.As(err, &cert), has("x509:", "certificate"):
		return "no answer from Keycloak: its TLS certificate is not trusted"
	case errors.As(err, &record), has("tls:"):
		return "no answer from Keycloak: TLS failed"
	default:
		return "no answer from Keycloak"
	}
}

// isTransport reports whether err is a request that got no answer (or
// any error that quotes a URL).
func isTransport(err error) bool {
	var (
		urlErr *url.Error
		netErr net.Error
	)
	return errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "://")
}

// Detail returns the error with what Message leaves out (the transport
// error, with its URL): for the operator's logs, never for status or Events.
func (e *Error) Detail() string {
	if e.cause == nil {
		return e.Error()
	}
	return e.Error() + " (" + e.cause.Error() + ")"
}

// Detail returns err's Detail when it is an *Error, else err's text.
func Detail(err error) string {
	var kerr *Error
	if errors.As(err, &kerr) {
		return kerr.Detail()
	}
	return err.Error()
}

// Describe says in a few public words how a call to Keycloak failed: no
// answer (and which way), the admin credentials refused, or the HTTP status
// Keycloak answered. It leaves out the operation, URLs and Keycloak's own
// text, for messages that people other than the operator's admins read.
func Describe(err error) string {
	var kerr *Error
	if !errors.As(err, &kerr) {
		return "the request to Keycloak failed"
	}
	switch {
	case kerr.Code == 0:
		// No answer (Message says which way, without the URL), or a
		// message of this package's own.
		return kerr.Message
	case kerr.Kind == KindUnauthorized:
		return fmt.Sprintf("Keycloak refused the operator's admin credentials (HTTP %d)", kerr.Code)
	default:
		return fmt.Sprintf("Keycloak answered HTTP %d", kerr.Code)
	}
}
