package keycloak

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// User federation calls gocloak does not have: testing an LDAP connection
// and triggering syncs (through raw, raw.go).

// LDAPTest is what testLDAPConnection checks: the connection alone, or the
// connection and the bind. Build it with NewLDAPTest.
type LDAPTest struct {
	// Action is "testConnection" or "testAuthentication".
	Action         string `json:"action"`
	ConnectionURL  string `json:"connectionUrl"`
	BindDN         string `json:"bindDn,omitempty"`
	BindCredential string `json:"bindCredential,omitempty"`
	AuthType       string `json:"authType"`
	UseTruststore  string `json:"useTruststoreSpi"`
	StartTLS       string `json:"startTls"`
	// ConnectionTimeout in milliseconds ("" for Keycloak's default, 30 s).
	ConnectionTimeout string `json:"connectionTimeout,omitempty"`
	// ComponentID lets Keycloak use the stored password of that component
	// when BindCredential is its mask.
	ComponentID string `json:"componentId,omitempty"`
}

// NewLDAPTest returns the test that proves an LDAP server answers at serverURL:
// Keycloak connects and binds, as bindDN with password, or anonymously when
// bindDN is empty. Measured on Keycloak 26.7.3: "testConnection" without a
// bind DN only opens a TCP connection (Java's LDAP client skips the
// anonymous bind of LDAPv3), so any open port passes it, an HTTP server or
// the Kubernetes API server included. "testAuthentication" with authType
// none makes Keycloak send an anonymous bind, which only an LDAP server
// answers. timeout bounds the connection and the bind: a listener that
// accepts and says nothing fails after it.
func NewLDAPTest(serverURL, bindDN, password string, timeout time.Duration) LDAPTest {
	t := LDAPTest{Action: "testAuthentication", ConnectionURL: serverURL, AuthType: "none", UseTruststore: "always", StartTLS: "false",
		ConnectionTimeout: strconv.FormatInt(timeout.Milliseconds(), 10)}
	if bindDN != "" {
		t.AuthType, t.BindDN, t.BindCredential = "simple", bindDN, password
	}
	return t
}

// LDAPTestError is a test Keycloak ran and that failed (HTTP 400). Code is
// Keycloak's short reason (LDAPServerCapabilitiesManager.getErrorCode):
// AuthenticationFailure, InvalidBindDN, CommunicationError, SocketReset,
// UnknownHost, SSLHandshakeFailed, ...; the cause itself is only in
// Keycloak's log.
type LDAPTestError struct {
	Code string
}

func (e *LDAPTestError) Error() string { return "keycloak ldap.test: " + e.Code }

// BindRefused reports whether an LDAP server answered and refused the bind
// of a bind DN with its password: only Java's AuthenticationException
// (LDAP result 49, invalidCredentials) makes Keycloak say
// AuthenticationFailure, and only an LDAP server sends that result.
// Every other code proves nothing: NamingError in particular is Keycloak's
// catch-all, measured on OpenJDK 17 for a listener that never answers, an
// HTTP server and a port that closes the connection, as well as for
// slapd refusing an anonymous bind (inappropriateAuthentication, 48).
func (e *LDAPTestError) BindRefused() bool {
	return e.Code == "AuthenticationFailure"
}

// LDAPTestTimeout is 5 s, or half the request timeout when that is
// shorter. Keycloak's test can outlast its connection timeout (an ldaps://
// handshake with a silent port: measured 5.9 s for 5 s), and Keycloak itself
// may be slow: a test that times out at the directory must come back as a
// failed test, not as a request to Keycloak that timed out.
func (c *AdminClient) LDAPTestTimeout() time.Duration {
	return min(5*time.Second, c.timeout/2)
}

// TestLDAPConnection asks Keycloak to connect (and bind) to an LDAP server
// as the realm's federation would. A test that ran and failed is an
// *LDAPTestError; Keycloak in trouble is an *Error.
func (c *AdminClient) TestLDAPConnection(ctx context.Context, realm string, t LDAPTest) error {
	err := c.call(ctx, "ldap.test", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, t, nil, "testLDAPConnection")
	})
	var kerr *Error
	if errors.As(err, &kerr) && kerr.Code == http.StatusBadRequest {
		// raw's message is "<status>: <errorMessage>".
		_, code, _ := strings.Cut(kerr.Message, ": ")
		if code == "" {
			code = "UnknownError"
		}
		return &LDAPTestError{Code: code}
	}
	return err
}

// SyncResult is Keycloak's SynchronizationResult.
type SyncResult struct {
	Ignored bool   `json:"ignored"`
	Added   int32  `json:"added"`
	Updated int32  `json:"updated"`
	Removed int32  `json:"removed"`
	Failed  int32  `json:"failed"`
	Status  string `json:"status"`
}

// SyncUsers imports the users of a user-storage component: all of them
// (full) or those changed since the last sync.
func (c *AdminClient) SyncUsers(ctx context.Context, realm, componentID string, full bool) (*SyncResult, error) {
	action := "triggerChangedUsersSync"
	if full {
		action = "triggerFullSync"
	}
	var out SyncResult
	err := c.call(ctx, "userstorage.sync", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodPost, realm, url.Values{"action": {action}}, nil, &out, "user-storage", componentID, "sync")
	})
	return &out, err
}

// SyncMapper runs a federation mapper's sync from the directory into
// Keycloak (for the group mapper: imports the groups and memberships).
func (c *AdminClient) SyncMapper(ctx context.Context, realm, componentID, mapperID string) (*SyncResult, error) {
	var out SyncResult
	err := c.call(ctx, "userstorage.mapper.sync", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodPost, realm, url.Values{"direction": {"fedToKeycloak"}}, nil, &out, "user-storage", componentID, "mappers", mapperID, "sync")
	})
	return &out, err
}

// GetComponent returns one component, or ErrNotFound.
func (c *AdminClient) GetComponent(ctx context.Context, realm, id string) (*gocloak.Component, error) {
	var out *gocloak.Component
	err := c.call(ctx, "component.get", func(ctx context.Context, tok string) (err error) {
		out, err = c.gc.GetComponent(ctx, tok, realm, id)
		return err
	})
	return out, err
}
