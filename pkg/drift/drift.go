// Package drift decides, from a realm's Keycloak admin events, which
// Nauthera objects someone other than the operator touched, and whether the
// operator may have missed events (a gap) and must resync the realm in full.
// It is pure: the watcher (controllers/driftwatch.go) reads the events and
// enqueues what these functions name.
package drift

import (
	"slices"
	"strings"
	"time"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// TargetKind says which objects an admin event concerns.
type TargetKind int

const (
	// None: the event changed nothing the operator keeps (a failed
	// operation).
	None TargetKind = iota
	// Client: the Keycloak client ClientUUID, its roles, mappers, scopes,
	// secret or authorization settings: its AuthClient.
	Client
	// Grants: a user's role mappings: the service-account role grants of
	// the realm's AuthClients, and the realm roles of its groups
	// (the AuthServer).
	Grants
	// Server: the realm itself, its components (LDAP federation, keys and
	// their rotation), client policies, realm roles, groups, identity
	// providers, or anything else of the realm: the AuthServer.
	Server
	// Realm: something several clients share (a client scope, a role by
	// id that may be any client's): every object of the realm.
	Realm
)

func (k TargetKind) String() string {
	return [...]string{"none", "client", "grants", "server", "realm"}[k]
}

// Target is what one admin event asks to reconcile.
type Target struct {
	Kind TargetKind
	// ClientUUID is the Keycloak client's internal id (Kind Client).
	ClientUUID string
	// Grantees: a role of the client was created by someone else, maybe
	// in place of one they deleted (Keycloak dropped its mappings with it),
	// so the AuthClients granted its roles (spec.roleGrants) are
	// reconciled too.
	Grantees bool
	// GranteesLater: a role of the client, or the client, was deleted, and
	// the grants of its roles with it. The AuthClient restores it and then
	// reconciles them itself (controllers, kickGrantees); they are also
	// reconciled a little later, for a role made again by someone else in
	// a way that leaves no event on the client (a partial import).
	GranteesLater bool
	// EventsConfig: the event may have changed whether the realm records
	// admin events (a realm update): the watcher checks at once.
	EventsConfig bool
}

// Classify maps one admin event to the objects to reconcile, by its
// resource path (the admin API path below /admin/realms/{realm}/): the
// resource type alone does not name the client a mapper or role belongs
// to. Keycloak's paths are stable across the supported versions.
func Classify(e keycloak.AdminEvent) Target {
	if e.Error != "" {
		return Target{Kind: None}
	}
	seg := strings.Split(strings.Trim(e.ResourcePath, "/"), "/")
	switch seg[0] {
	case "clients":
		if len(seg) >= 2 && seg[1] != "" {
			// A role itself (clients/{id}/roles/{name}), not its composites.
			roles := len(seg) == 4 && seg[2] == "roles"
			deleted := e.OperationType == "DELETE" && (roles || len(seg) == 2)
			return Target{Kind: Client, ClientUUID: seg[1], Grantees: roles && e.OperationType == "CREATE", GranteesLater: deleted}
		}
		return Target{Kind: Realm}
	case "users":
		if len(seg) >= 3 && seg[2] == "role-mappings" {
			return Target{Kind: Grants}
		}
		// A user's own settings (password, attributes, sessions): nothing
		// the operator keeps, but a realm-level change all the same.
		return Target{Kind: Server}
	case "client-scopes", "roles-by-id":
		return Target{Kind: Realm}
	case "", "events":
		return Target{Kind: Server, EventsConfig: true}
	default:
		// components, user-storage, client-policies, roles, groups,
		// identity-provider, authentication, ...: realm level, the
		// AuthServer's (the only writer of realm-level objects).
		return Target{Kind: Server}
	}
}

// Cause is why a realm gets a full resync.
type Cause string

const (
	// CauseLostPage: a read of the events failed; what it would have
	// returned may have expired before the retry.
	CauseLostPage Cause = "LostPage"
	// CausePurged: the last event seen is gone before it could expire (an
	// admin cleared the events).
	CausePurged Cause = "Purged"
	// CauseExpired: events may have expired unread (the realm keeps them
	// for less time than passed since the last read).
	CauseExpired Cause = "Expired"
	// CauseEventsDisabled: admin events were turned off; nothing was
	// recorded until the AuthServer turned them back on.
	CauseEventsDisabled Cause = "EventsDisabled"
	// CauseSharedObject: another admin changed something many clients
	// share (a client scope) or that cannot be traced to one object.
	CauseSharedObject Cause = "SharedObject"
)

// Position is how far the operator has read a realm's admin events.
type Position struct {
	// Time is the time (epoch milliseconds, Keycloak's clock) of the last
	// event read; the next read starts there, inclusive.
	Time int64
	// Seen are the ids of the events read at exactly Time: read again
	// by the next read, and skipped.
	Seen []string
}

// Advance takes the events read from pos on (oldest first, dateFrom =
// pos.Time inclusive) and returns the new position and the events not
// read before. purged says the events at pos.Time that were read before
// are gone (cleared, or expired: see Gap).
//
// The new position's Seen are the events this read returned at its time:
// after a purge, the ids that are gone are forgotten, so the same purge is
// not found again at every read.
func Advance(pos Position, events []keycloak.AdminEvent) (next Position, fresh []keycloak.AdminEvent, purged bool) {
	next = Position{Time: pos.Time}
	found := 0
	for _, e := range events {
		if e.Time == pos.Time && slices.Contains(pos.Seen, e.ID) {
			found++
		} else {
			fresh = append(fresh, e)
		}
		if e.Time > next.Time {
			next = Position{Time: e.Time}
		}
		if e.Time == next.Time && !slices.Contains(next.Seen, e.ID) {
			next.Seen = append(next.Seen, e.ID)
		}
	}
	return next, fresh, len(pos.Seen) > 0 && found == 0
}

// GapInput is what Gap decides from.
type GapInput struct {
	// Purged: Advance found the last events read gone.
	Purged bool
	// LastTime is the time of the last event read (epoch ms, Keycloak's clock; 0: none).
	LastTime int64
	// Now is the time of this read (epoch ms, the operator's clock), and
	// SinceLastRead how long ago (ms) the last successful read was.
	Now, SinceLastRead int64
	// Expiration is how long the realm keeps admin events (seconds; 0: for ever).
	Expiration int64
	// Skew is the clock difference between the operator and Keycloak the
	// decision tolerates (ms).
	Skew int64
}

// Gap says whether events may have been lost between two reads, and why.
// Events that expire naturally after they were read are no gap; events that
// may have expired before the operator read them are.
func Gap(in GapInput) (Cause, bool) {
	exp := in.Expiration * 1000
	// Both durations are on the operator's clock: no skew.
	if exp > 0 && in.SinceLastRead >= exp {
		return CauseExpired, true
	}
	if in.Purged {
		if exp > 0 && in.LastTime+exp <= in.Now+in.Skew {
			// It may have expired on its own, and nothing newer was
			// missed: the last read is more recent than the expiration.
			return "", false
		}
		return CausePurged, true
	}
	return "", false
}

// ResyncBackoff spaces the full resyncs one realm gets for failed reads
// (CauseLostPage). A Keycloak that fails every other read under load would
// otherwise get a full resync of the realm, one read per client, after
// every recovered read: more load, more failures. A failed read is still
// never forgotten: the resync it asks for waits until the hold is over.
type ResyncBackoff struct {
	// Last is when the last such resync ran (zero: never).
	Last time.Time
	// Hold is how long after Last the next one waits.
	Hold time.Duration
}

// Due says whether a full resync for a failed read may run at now, and the
// backoff after it: the hold starts at base and doubles, up to limit, while
// the failures come back within twice the hold.
func (b ResyncBackoff) Due(now time.Time, base, limit time.Duration) (bool, ResyncBackoff) {
	if b.Last.IsZero() {
		return true, ResyncBackoff{Last: now, Hold: base}
	}
	since := now.Sub(b.Last)
	if since < b.Hold {
		return false, b
	}
	hold := base
	if since < 2*b.Hold {
		hold = min(2*b.Hold, limit)
	}
	return true, ResyncBackoff{Last: now, Hold: hold}
}
