package keycloak

import (
	"context"
	"net/http"
	"net/url"

	"github.com/Nerzal/gocloak/v14"
)

// User federation calls gocloak does not have: testing an LDAP connection
// and triggering syncs (through raw, raw.go).

// LDAPTest is what testLDAPConnection checks: the connection alone, or the
// connection and the bind.
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

// TestLDAPConnection asks Keycloak to connect (and bind) to an LDAP server
// as the realm's federation would. A refusal is an *Error of kind Rejected
// whose message is Keycloak's (e.g. LDAPErrorCode, or a connection error).
func (c *AdminClient) TestLDAPConnection(ctx context.Context, realm string, t LDAPTest) error {
	return c.call(ctx, "ldap.test", func(ctx context.Context, tok string) error {
		return c.raw(ctx, tok, http.MethodPost, realm, t, nil, "testLDAPConnection")
	})
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
