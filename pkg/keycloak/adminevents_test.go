package keycloak_test

import (
	"context"
	"testing"

	"github.com/Nerzal/gocloak/v14"
)

// Measured on the pinned Keycloak: admin-events takes dateFrom in epoch
// milliseconds, inclusive; direction=asc returns the oldest first and pages
// with first/max; authDetails.userId is the subject of the token that made
// the change (Identity); the realm carries adminEventsEnabled and the
// adminEventsExpiration attribute.
func TestAdminEvents(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	if err := c.UpdateRealm(ctx, gocloak.RealmRepresentation{Realm: &realm, AdminEventsEnabled: gocloak.BoolP(true),
		Attributes: map[string]string{"adminEventsExpiration": "3600"}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.EventsConfig(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AdminEventsEnabled || cfg.AdminEventsExpiration != 3600 {
		t.Errorf("EventsConfig = %+v, want enabled, expiration 3600", *cfg)
	}
	me, err := c.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, id := range []string{"ev-a", "ev-b", "ev-c"} {
		uuid, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP(id)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, uuid)
	}
	all, err := c.AdminEvents(ctx, realm, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var creates []int
	for i, e := range all {
		t.Logf("event %d: id=%s time=%d op=%s type=%s path=%s user=%s", i, e.ID, e.Time, e.OperationType, e.ResourceType, e.ResourcePath, e.AuthDetails.UserID)
		if e.ResourceType == "CLIENT" && e.OperationType == "CREATE" {
			creates = append(creates, i)
		}
		if i > 0 && e.Time < all[i-1].Time {
			t.Errorf("events not oldest first: %d after %d", e.Time, all[i-1].Time)
		}
	}
	if len(creates) != 3 {
		t.Fatalf("want 3 CLIENT CREATE events, got %d of %d", len(creates), len(all))
	}
	for k, i := range creates {
		e := all[i]
		if e.ResourcePath != "clients/"+ids[k] {
			t.Errorf("create %d: resourcePath %q, want clients/%s", k, e.ResourcePath, ids[k])
		}
		if e.AuthDetails.UserID != me || e.ID == "" {
			t.Errorf("create %d: authDetails.userId %q id %q, want the operator's identity %q and an id", k, e.AuthDetails.UserID, e.ID, me)
		}
	}
	second := all[creates[1]]
	from, err := c.AdminEvents(ctx, realm, second.Time, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(from) == 0 || from[0].ID != second.ID && from[0].Time != second.Time {
		t.Errorf("dateFrom=%d (an event's time) must include that event: first is %+v", second.Time, from)
	}
	after, err := c.AdminEvents(ctx, realm, all[len(all)-1].Time+1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("dateFrom after the last event returned %d events", len(after))
	}
	page, err := c.AdminEvents(ctx, realm, 0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != all[1].ID {
		t.Errorf("first=1 max=1: got %+v, want event %s", page, all[1].ID)
	}
}
