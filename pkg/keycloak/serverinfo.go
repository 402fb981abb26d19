package keycloak

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// ServerAdmin reads what the Keycloak server says about itself.
type ServerAdmin interface {
	// ServerInfo returns the server's version and enabled features, read
	// at most once per ServerInfoTTL per client (the answer is large, and
	// the same for every realm). An admin identity that may not read them
	// (403), or a proxy that does not serve them (404), gets an empty
	// ServerInfo, not an error; an outage is an error.
	ServerInfo(ctx context.Context) (*ServerInfo, error)
}

// ServerInfo is what GET /admin/serverinfo says about the server.
type ServerInfo struct {
	// Version is systemInfo.version, e.g. 26.4.0. Keycloak 26.4 shows it
	// to admins of the master realm only ("" for another realm's admin);
	// 26.5.6 and 26.7.3 show it to a realm's admin too.
	Version string
	// Features are the enabled features by Keycloak's name (such as
	// CLIENT_SECRET_ROTATION), shown to every realm admin; nil when the
	// identity may not read the server info at all.
	Features map[string]bool
}

// ServerInfoTTL is how long a client keeps the server info it read, unless
// Config.ServerInfoTTL says otherwise: a Keycloak upgrade (a restart), or a
// feature turned on, shows within this time.
const ServerInfoTTL = 10 * time.Minute

// serverInfoCache holds a client's last server info; the zero value is empty.
type serverInfoCache struct {
	mu   sync.Mutex
	ttl  time.Duration
	info *ServerInfo
	read time.Time
}

// ServerInfo implements ServerAdmin. Hand-decoded rather than gocloak's
// GetServerInfo: its representation has no features list, and decoding
// only the two fields needed skips the rest of a ~300 KB answer.
func (c *AdminClient) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	c.server.mu.Lock()
	defer c.server.mu.Unlock() // one read at a time: callers of a cold cache share it
	if c.server.info != nil && time.Since(c.server.read) < c.server.ttl {
		return c.server.info, nil
	}
	var answer struct {
		SystemInfo *struct {
			Version string `json:"version"`
		} `json:"systemInfo"`
		Features []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"features"`
	}
	err := c.call(ctx, "serverinfo.get", func(ctx context.Context, tok string) error {
		resp, err := c.gc.GetRequestWithBearerAuth(ctx, tok).Get(c.url + "/admin/serverinfo")
		if err != nil {
			return err
		}
		if resp.IsError() {
			return &gocloak.APIError{Code: resp.StatusCode(), Message: resp.Status()}
		}
		if err := json.Unmarshal(resp.Body(), &answer); err != nil {
			return &gocloak.APIError{Code: resp.StatusCode(), Message: "cannot read Keycloak's answer: " + err.Error()}
		}
		return nil
	})
	info := &ServerInfo{}
	switch {
	case err == nil:
		if answer.SystemInfo != nil {
			info.Version = answer.SystemInfo.Version
		}
		if answer.Features != nil {
			info.Features = make(map[string]bool, len(answer.Features))
			for _, f := range answer.Features {
				info.Features[f.Name] = f.Enabled
			}
		}
	case IsForbidden(err), IsNotFound(err):
		// An identity without the rights to read it, or a proxy in front
		// of Keycloak that does not pass /admin/serverinfo on: nothing
		// known, remembered like an answer (not asked again at every
		// reconcile).
	default:
		return nil, err
	}
	c.server.info, c.server.read = info, time.Now()
	return info, nil
}
