package keycloak

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/Nerzal/gocloak/v14"
)

// AdminEventAdmin reads a realm's admin events (the audit trail of every
// change made through the admin API) and its events configuration: how the
// operator finds drift without reading every client (see docs/operations/drift.md).
type AdminEventAdmin interface {
	// AdminEvents returns up to limit of the realm's admin events whose time
	// (epoch milliseconds, Keycloak's clock) is at or after since, oldest
	// first, skipping the first first of them.
	AdminEvents(ctx context.Context, realm string, since int64, first, limit int) ([]AdminEvent, error)
	// EventsConfig reads whether the realm records admin events, and for
	// how long it keeps them.
	EventsConfig(ctx context.Context, realm string) (*EventsConfig, error)
	// Identity is the Keycloak user id the operator's admin connection acts
	// as: the userId of the authDetails of every admin event it causes.
	Identity(ctx context.Context) (string, error)
}

// AdminEvent is one admin event, as much of it as drift detection reads.
// Its representation (the object written) is not kept: the operator only
// needs to know what changed, and it may hold secrets.
type AdminEvent struct {
	ID            string           `json:"id"`
	Time          int64            `json:"time"`
	OperationType string           `json:"operationType"`
	ResourceType  string           `json:"resourceType"`
	ResourcePath  string           `json:"resourcePath"`
	AuthDetails   AdminEventAuthor `json:"authDetails"`
	// Error is set on an operation that failed (nothing changed).
	Error string `json:"error,omitempty"`
}

// AdminEventAuthor is who caused an admin event.
type AdminEventAuthor struct {
	RealmID  string `json:"realmId"`
	ClientID string `json:"clientId"`
	UserID   string `json:"userId"`
}

// EventsConfig is the part of a realm's events configuration drift
// detection depends on.
type EventsConfig struct {
	// AdminEventsEnabled: admin events are recorded.
	AdminEventsEnabled bool `json:"adminEventsEnabled"`
	// AdminEventsExpiration is how long Keycloak keeps admin events, in
	// seconds (0: for ever). Events older than that are gone before the
	// operator may read them.
	AdminEventsExpiration int64 `json:"-"`
}

// AdminEvents implements AdminEventAdmin. On Keycloak 26 dateFrom takes
// epoch milliseconds and is inclusive, and direction=asc returns the oldest
// first (measured by TestAdminEvents; older Keycloaks took a yyyy-MM-dd day
// only), so that paging with first/max walks forward in time and events
// written meanwhile land after the last page, not inside one already read.
func (c *AdminClient) AdminEvents(ctx context.Context, realm string, since int64, first, limit int) ([]AdminEvent, error) {
	var out []AdminEvent
	q := url.Values{}
	q.Set("dateFrom", strconv.FormatInt(since, 10))
	q.Set("direction", "asc")
	q.Set("first", strconv.Itoa(first))
	q.Set("max", strconv.Itoa(limit))
	err := c.call(ctx, "adminevents.list", func(ctx context.Context, tok string) error {
		out = nil
		return c.rawQuery(ctx, tok, http.MethodGet, realm, q, nil, &out, "admin-events")
	})
	return out, err
}

// EventsConfig implements AdminEventAdmin. adminEventsExpiration is a realm
// attribute, not part of events/config: the realm is read (one request,
// as often as the caller asks).
func (c *AdminClient) EventsConfig(ctx context.Context, realm string) (*EventsConfig, error) {
	var rep struct {
		AdminEventsEnabled *bool             `json:"adminEventsEnabled"`
		Attributes         map[string]string `json:"attributes"`
	}
	err := c.call(ctx, "adminevents.config", func(ctx context.Context, tok string) error {
		return c.rawQuery(ctx, tok, http.MethodGet, realm, nil, nil, &rep)
	})
	if err != nil {
		return nil, err
	}
	cfg := &EventsConfig{AdminEventsEnabled: rep.AdminEventsEnabled != nil && *rep.AdminEventsEnabled}
	if v, err := strconv.ParseInt(rep.Attributes["adminEventsExpiration"], 10, 64); err == nil && v > 0 {
		cfg.AdminEventsExpiration = v
	}
	return cfg, nil
}

// Identity implements AdminEventAdmin: the user the admin connection acts
// as, which Keycloak records as the authDetails.userId of the events it
// causes (the admin user for a password login, the client's service-account
// user for client credentials and federated JWTs). It is the subject of the
// admin access token when the token carries one (no request); Keycloak 26's
// admin-cli tokens do not (measured), and the admin console's whoami
// endpoint refuses admin-cli (403, measured): the user is then looked up,
// once per connection (the answer is kept).
// The token is the operator's own, just issued over its admin connection: it
// is decoded, not verified (nothing is granted on the strength of it).
func (c *AdminClient) Identity(ctx context.Context) (string, error) {
	c.identityMu.Lock()
	defer c.identityMu.Unlock()
	if c.identity != "" {
		return c.identity, nil
	}
	tok, err := c.tokens.token(withOperation(ctx, "identity"))
	if err != nil {
		return "", err
	}
	if sub := tokenSubject(tok); sub != "" {
		c.identity = sub
		return sub, nil
	}
	id, err := c.lookupIdentity(ctx)
	if err != nil {
		return "", err
	}
	c.identity = id
	return id, nil
}

// lookupIdentity finds the admin connection's user in the admin realm: the
// admin user by its username, or the service-account user of the admin
// client. An identity that may not view the admin realm's users or clients
// gets a 403: the caller then cannot tell its own writes apart.
func (c *AdminClient) lookupIdentity(ctx context.Context) (string, error) {
	creds := c.tokens.creds
	var id string
	err := c.call(ctx, "identity.lookup", func(ctx context.Context, tok string) error {
		if creds.ClientID == "" {
			users, err := c.gc.GetUsers(ctx, tok, c.realm, gocloak.GetUsersParams{Username: gocloak.StringP(creds.Username), Exact: gocloak.BoolP(true)})
			if err != nil {
				return err
			}
			if len(users) == 1 {
				id = gocloak.PString(users[0].ID)
			}
			return nil
		}
		clients, err := c.gc.GetClients(ctx, tok, c.realm, gocloak.GetClientsParams{ClientID: gocloak.StringP(creds.ClientID)})
		if err != nil || len(clients) != 1 {
			return err
		}
		sa, err := c.gc.GetClientServiceAccount(ctx, tok, c.realm, gocloak.PString(clients[0].ID))
		if err != nil {
			return err
		}
		id = gocloak.PString(sa.ID)
		return nil
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", &Error{Operation: "identity.lookup", Kind: KindNotFound, Message: "the admin connection's user is not in its admin realm " + c.realm}
	}
	return id, nil
}

// tokenSubject is the sub claim of a JWT ("" when it has none).
func tokenSubject(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}
