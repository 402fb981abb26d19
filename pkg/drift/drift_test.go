package drift_test

import (
	"testing"
	"time"

	"github.com/nauthera/nauthera/pkg/drift"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

func TestClassify(t *testing.T) {
	const uuid = "0f1e2d3c-aaaa-bbbb-cccc-111122223333"
	for _, tc := range []struct {
		resourceType, path string
		want               drift.Target
	}{
		{"CLIENT", "clients/" + uuid, drift.Target{Kind: drift.Client, ClientUUID: uuid}},
		{"CLIENT", "clients/" + uuid + "/client-secret", drift.Target{Kind: drift.Client, ClientUUID: uuid}},
		{"PROTOCOL_MAPPER", "clients/" + uuid + "/protocol-mappers/models/m1", drift.Target{Kind: drift.Client, ClientUUID: uuid}},
		// A client role's update leaves its mappings alone.
		{"CLIENT_ROLE", "clients/" + uuid + "/roles/reader", drift.Target{Kind: drift.Client, ClientUUID: uuid}},
		{"CLIENT_SCOPE_MAPPING", "clients/" + uuid + "/default-client-scopes/s1", drift.Target{Kind: drift.Client, ClientUUID: uuid}},
		{"CLIENT_ROLE_MAPPING", "users/u1/role-mappings/clients/" + uuid, drift.Target{Kind: drift.Grants}},
		{"REALM_ROLE_MAPPING", "users/u1/role-mappings/realm", drift.Target{Kind: drift.Grants}},
		{"REALM_ROLE_MAPPING", "groups/g1/role-mappings/realm", drift.Target{Kind: drift.Server}},
		{"REALM_ROLE", "roles/admin", drift.Target{Kind: drift.Server}},
		{"GROUP", "groups/g1", drift.Target{Kind: drift.Server}},
		{"COMPONENT", "components/c1", drift.Target{Kind: drift.Server}},
		{"USER", "users/u1", drift.Target{Kind: drift.Server}},
		{"IDENTITY_PROVIDER", "identity-provider/instances/kubernetes", drift.Target{Kind: drift.Server}},
		{"REALM", "", drift.Target{Kind: drift.Server, EventsConfig: true}},
		{"REALM", "events/config", drift.Target{Kind: drift.Server, EventsConfig: true}},
		{"CLIENT_SCOPE", "client-scopes/s1", drift.Target{Kind: drift.Realm}},
		{"CLIENT_ROLE", "roles-by-id/r1", drift.Target{Kind: drift.Realm}},
		{"CLIENT", "clients", drift.Target{Kind: drift.Realm}},
	} {
		got := drift.Classify(keycloak.AdminEvent{ResourceType: tc.resourceType, ResourcePath: tc.path, OperationType: "UPDATE"})
		if got != tc.want {
			t.Errorf("Classify(%s %q) = %+v, want %+v", tc.resourceType, tc.path, got, tc.want)
		}
	}
	// A role made by someone else may stand in for one they deleted (its
	// mappings gone with it): the clients granted it are reconciled too.
	if got := drift.Classify(keycloak.AdminEvent{ResourceType: "CLIENT_ROLE", ResourcePath: "clients/" + uuid + "/roles/reader", OperationType: "CREATE"}); !got.Grantees || got.ClientUUID != uuid {
		t.Errorf("a role created by hand: got %+v, want its grantees reconciled", got)
	}
	// A role or client deleted is restored by its AuthClient, which then
	// reconciles the grantees itself: kicked now, they would only find the
	// role missing; they are kicked later as well.
	for _, path := range []string{"clients/" + uuid, "clients/" + uuid + "/roles/reader"} {
		if got := drift.Classify(keycloak.AdminEvent{ResourceType: "CLIENT", ResourcePath: path, OperationType: "DELETE"}); got.Grantees || !got.GranteesLater || got.Kind != drift.Client || got.ClientUUID != uuid {
			t.Errorf("%s deleted: got %+v, want the client now and its grantees later", path, got)
		}
	}
	// Deleting or adding what is not a role or the client drops no grant.
	for _, path := range []string{"clients/" + uuid + "/protocol-mappers/models/m1", "clients/" + uuid + "/default-client-scopes/s1", "clients/" + uuid + "/roles/reader/composites"} {
		for _, op := range []string{"CREATE", "DELETE"} {
			if got := drift.Classify(keycloak.AdminEvent{ResourceType: "CLIENT", ResourcePath: path, OperationType: op}); got.Grantees || got.GranteesLater {
				t.Errorf("%s %s: got %+v, want the client alone", op, path, got)
			}
		}
	}
	if got := drift.Classify(keycloak.AdminEvent{ResourceType: "CLIENT", ResourcePath: "clients/" + uuid, Error: "unknown_error"}); got.Kind != drift.None {
		t.Errorf("a failed operation changed nothing: got %+v", got)
	}
}

func ev(id string, at int64) keycloak.AdminEvent { return keycloak.AdminEvent{ID: id, Time: at} }

func TestAdvance(t *testing.T) {
	start := drift.Position{Time: 100}
	next, fresh, purged := drift.Advance(start, []keycloak.AdminEvent{ev("a", 100), ev("b", 105), ev("c", 105)})
	if purged || len(fresh) != 3 || next.Time != 105 || len(next.Seen) != 2 {
		t.Fatalf("first read: next=%+v fresh=%d purged=%v", next, len(fresh), purged)
	}
	// The next read starts at 105 inclusive: b and c again, and d.
	next2, fresh2, purged2 := drift.Advance(next, []keycloak.AdminEvent{ev("b", 105), ev("c", 105), ev("d", 105), ev("e", 110)})
	if purged2 || len(fresh2) != 2 || fresh2[0].ID != "d" || fresh2[1].ID != "e" || next2.Time != 110 {
		t.Fatalf("second read: next=%+v fresh=%+v purged=%v", next2, fresh2, purged2)
	}
	// Nothing happened: the last event comes back, nothing is fresh.
	next3, fresh3, purged3 := drift.Advance(next2, []keycloak.AdminEvent{ev("e", 110)})
	if purged3 || len(fresh3) != 0 || next3.Time != 110 {
		t.Fatalf("quiet read: next=%+v fresh=%d purged=%v", next3, len(fresh3), purged3)
	}
	// The store was cleared: the last event read is gone.
	afterPurge, _, purged := drift.Advance(next2, nil)
	if !purged {
		t.Error("the last event read is gone: want purged")
	}
	// The purge is found once, not again at every read after it.
	if _, _, again := drift.Advance(afterPurge, []keycloak.AdminEvent{ev("g", 130)}); again {
		t.Error("the same purge was found again at the next read")
	}
	if _, _, purged := drift.Advance(next2, []keycloak.AdminEvent{ev("f", 120)}); !purged {
		t.Error("the last event read is gone, a newer one came: want purged")
	}
	// A position that saw no event (the watcher's start) cannot tell.
	if _, _, purged := drift.Advance(start, nil); purged {
		t.Error("a position without events read cannot be purged")
	}
}

func TestGap(t *testing.T) {
	const minute = int64(60_000)
	for _, tc := range []struct {
		name  string
		in    drift.GapInput
		cause drift.Cause
		gap   bool
	}{
		{"quiet", drift.GapInput{LastTime: 1000, Now: 2000, SinceLastRead: 10_000, Skew: minute}, "", false},
		{"purged", drift.GapInput{Purged: true, LastTime: 1000, Now: 2000, SinceLastRead: 10_000, Skew: minute}, drift.CausePurged, true},
		{"purged, no expiration", drift.GapInput{Purged: true, LastTime: 1000, Now: 100 * minute, SinceLastRead: 10_000, Skew: minute}, drift.CausePurged, true},
		{"expired after it was read", drift.GapInput{Purged: true, LastTime: 0, Now: 200 * minute, SinceLastRead: 10_000, Expiration: 3600, Skew: minute}, "", false},
		{"gone before it could expire", drift.GapInput{Purged: true, LastTime: 100 * minute, Now: 110 * minute, SinceLastRead: 10_000, Expiration: 3600, Skew: minute}, drift.CausePurged, true},
		{"not read for longer than events live", drift.GapInput{LastTime: 0, Now: 200 * minute, SinceLastRead: 60 * minute, Expiration: 3600, Skew: minute}, drift.CauseExpired, true},
		{"events live 30s, read every 10s", drift.GapInput{SinceLastRead: 10_000, Expiration: 30, Skew: minute}, "", false},
		{"events live 30s, last read 31s ago", drift.GapInput{SinceLastRead: 31_000, Expiration: 30, Skew: minute}, drift.CauseExpired, true},
	} {
		cause, gap := drift.Gap(tc.in)
		if cause != tc.cause || gap != tc.gap {
			t.Errorf("%s: Gap = %q, %v; want %q, %v", tc.name, cause, gap, tc.cause, tc.gap)
		}
	}
}

// Failed reads that keep coming get their full resyncs spaced out
// (doubling holds), and one that comes back after a quiet spell starts over.
func TestResyncBackoff(t *testing.T) {
	base, limit := time.Minute, 8*time.Minute
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var b drift.ResyncBackoff
	due, b := b.Due(t0, base, limit)
	if !due || b.Hold != base {
		t.Fatalf("first failure: due=%v hold=%s, want a resync at once", due, b.Hold)
	}
	// A failure 20s later (the next read): held.
	if due, _ := b.Due(t0.Add(20*time.Second), base, limit); due {
		t.Fatal("a failure within the hold resynced again")
	}
	// Failures keep coming: each resync waits twice as long, up to limit.
	at := t0
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute} {
		at = at.Add(b.Hold)
		due, b = b.Due(at, base, limit)
		if !due || b.Hold != want {
			t.Fatalf("at %s: due=%v hold=%s, want a resync and a hold of %s", at.Sub(t0), due, b.Hold, want)
		}
	}
	// A quiet spell (no failure for twice the hold): back to base.
	if due, b = b.Due(at.Add(time.Hour), base, limit); !due || b.Hold != base {
		t.Fatalf("after a quiet hour: due=%v hold=%s, want %s", due, b.Hold, base)
	}
}
