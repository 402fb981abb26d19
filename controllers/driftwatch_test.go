package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/testbed"
)

// otherAdmin is a second Keycloak administrator (not the operator's user):
// a person editing in the console. It logs in at each use (admin tokens
// live a minute).
func otherAdmin(t testing.TB) func() (*gocloak.GoCloak, string) {
	t.Helper()
	ctx := context.Background()
	gc, tok := console(t)
	const user, password = "drift-console-admin", "drift-console-password"
	users, err := gc.GetUsers(ctx, tok, "master", gocloak.GetUsersParams{Username: gocloak.StringP(user), Exact: gocloak.BoolP(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) == 0 {
		id, err := gc.CreateUser(ctx, tok, "master", gocloak.User{Username: gocloak.StringP(user), Enabled: gocloak.BoolP(true),
			Email: gocloak.StringP(user + "@example.com"), EmailVerified: gocloak.BoolP(true), FirstName: gocloak.StringP("Drift"), LastName: gocloak.StringP("Admin")})
		if err != nil {
			t.Fatal(err)
		}
		if err := gc.SetPassword(ctx, tok, id, "master", password, false); err != nil {
			t.Fatal(err)
		}
		role, err := gc.GetRealmRole(ctx, tok, "master", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if err := gc.AddRealmRoleToUser(ctx, tok, "master", id, []gocloak.Role{*role}); err != nil {
			t.Fatal(err)
		}
	}
	return func() (*gocloak.GoCloak, string) {
		gc := gocloak.NewClient(kc.URL)
		jwt, err := gc.LoginAdmin(ctx, user, password, "master")
		if err != nil {
			t.Fatal(err)
		}
		return gc, jwt.AccessToken
	}
}

// driftCounter reads one series of a drift detection counter from the
// operator's metrics registry.
func driftCounter(t testing.TB, name, label, value string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && (value == "" || l.GetValue() == value) {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// driftBed is an operator that finds drift from admin events (interval),
// its full resync an hour away, with one AuthServer and one AuthClient.
type driftBed struct {
	op     *operator
	as     *authv1.AuthServer
	ac     *authv1.AuthClient
	realm  string
	admin  func() (*gocloak.GoCloak, string)
	goodRU []string
}

func newDriftBed(t testing.TB, name string, interval time.Duration) *driftBed {
	t.Helper()
	savedResync, savedDrift := resync, driftInterval
	resync, driftInterval = time.Hour, interval
	// Registered first, so it runs after swapOperator's cleanup has
	// stopped this operator.
	t.Cleanup(func() { resync, driftInterval = savedResync, savedDrift })
	b := &driftBed{admin: otherAdmin(t)}
	b.op = swapOperator(t, connection.Defaults{URL: kc.URL, CredentialsSecret: types.NamespacedName{Namespace: operatorNS, Name: adminSecret}})
	ensureNamespace(t, "security", nil)
	ensureNamespace(t, "drift", nil)
	b.as = &authv1.AuthServer{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: %s, namespace: security}
spec:
  issuerUrl: "https://%s.example.com"
  deletionPolicy: Delete`, name, name), b.as)
	t.Cleanup(func() { deleteAndWait(t, b.as) })
	waitReady(t, b.as, "True", authv1.ReasonRealmProvisioned, 90*time.Second)
	b.realm = b.as.Status.RealmName
	b.ac = &authv1.AuthClient{}
	apply(t, authClient("drift", name+"-app", name, ""), b.ac)
	t.Cleanup(func() { deleteAndWait(t, b.ac) })
	waitReady(t, b.ac, "True", authv1.ReasonClientProvisioned, 60*time.Second)
	b.goodRU = []string{"https://" + name + "-app.example.com/callback"}
	return b
}

// grantPair applies AuthClients drift/<prefix>-api, which declares the
// orders roles and lets the namespace hold them, and drift/<prefix>-worker,
// granted its orders:write, and waits until the worker's tokens carry it.
func (b *driftBed) grantPair(t *testing.T, prefix string) (wk *authv1.AuthClient, apiID string) {
	t.Helper()
	api := &authv1.AuthClient{}
	apply(t, authClient("drift", prefix+"-api", b.as.Name, grantOrdersRoles+"\n  roleGrantAccess: {namespaces: [drift]}"), api)
	t.Cleanup(func() { deleteAndWait(t, api) })
	waitReady(t, api, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	wk = &authv1.AuthClient{}
	apply(t, authClient("drift", prefix+"-worker", b.as.Name, worker+"\n"+grantOf("drift", prefix+"-api", "orders:write")), wk)
	t.Cleanup(func() { deleteAndWait(t, wk) })
	waitReady(t, wk, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	apiID = api.EffectiveClientID()
	waitTokenRoles(t, b.realm, "drift", prefix+"-worker", apiID, "orders:write")
	return wk, apiID
}

// client reads the AuthClient's Keycloak client as the other admin.
func (b *driftBed) client(t testing.TB) *gocloak.Client {
	t.Helper()
	gc, tok := b.admin()
	cs, err := gc.GetClients(context.Background(), tok, b.realm, gocloak.GetClientsParams{ClientID: gocloak.StringP(b.ac.EffectiveClientID())})
	if err != nil || len(cs) != 1 {
		t.Fatalf("find client %s: %v (%d found)", b.ac.EffectiveClientID(), err, len(cs))
	}
	return cs[0]
}

// edit changes the client's redirect URIs as the other admin.
func (b *driftBed) edit(t testing.TB, uri string) {
	t.Helper()
	c := b.client(t)
	c.RedirectURIs = []string{uri}
	gc, tok := b.admin()
	if err := gc.UpdateClient(context.Background(), tok, b.realm, *c); err != nil {
		t.Fatal(err)
	}
}

// reverted waits until the client's redirect URIs are the AuthClient's again.
func (b *driftBed) reverted(t testing.TB, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "the console edit is reverted", func() error {
		if got := b.client(t).RedirectURIs; !slices.Equal(got, b.goodRU) {
			return fmt.Errorf("redirectUris %v", got)
		}
		return nil
	})
}

// polled waits until the realm's events have been read n more times.
func (b *driftBed) polled(t testing.TB, n int) {
	t.Helper()
	path := "/admin/realms/" + b.realm + "/admin-events"
	start := faults.Requests(path, "GET")
	eventually(t, 60*time.Second, fmt.Sprintf("%d more reads of admin events", n), func() error {
		if got := faults.Requests(path, "GET"); got < start+n {
			return fmt.Errorf("%d reads", got-start)
		}
		return nil
	})
}

// A console edit by another admin is found from the realm's admin events
// and reverted in seconds, with an hour to the full resync; the operator's
// own writes enqueue nothing; a lost page, a purged event store and admin
// events turned off each end in a full resync of the realm (and events on
// again), and the edit made meanwhile is reverted.
func TestDriftFromAdminEvents(t *testing.T) {
	integration(t)
	b := newDriftBed(t, "drift-events", time.Second)

	t.Run("console edit reverted", func(t *testing.T) {
		var took []time.Duration
		for i := range 5 {
			start := time.Now()
			b.edit(t, fmt.Sprintf("https://evil-%d.example.com/cb", i))
			b.reverted(t, 30*time.Second)
			took = append(took, time.Since(start))
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("console edit revert times at a 1s interval: %v", took)
		if note := warningEvent(t, b.ac, authv1.ReasonDriftReverted); !strings.Contains(note, "redirectUris") {
			t.Errorf("DriftReverted Event %q does not name the field", note)
		}
	})

	t.Run("steady state", func(t *testing.T) {
		// Nothing happens in the realm: each read is one request, and
		// nothing else of the realm is read (the events config at most
		// once in 30 reads).
		b.polled(t, 1)
		realmPath := "/admin/realms/" + b.realm
		reads, all := faults.Requests(realmPath+"/admin-events", "GET"), faults.Requests(realmPath)
		clientGets := b.op.calls("client.get") + b.op.calls("client.find")
		b.polled(t, 5)
		dReads, dAll := faults.Requests(realmPath+"/admin-events", "GET")-reads, faults.Requests(realmPath)-all
		t.Logf("steady state: %d requests to the realm over %d reads of its events", dAll, dReads)
		if dReads < 5 || dAll > dReads+1 {
			t.Errorf("steady state: %d requests to the realm for %d reads of its events; want one per read (+1 events config at most)", dAll, dReads)
		}
		if got := b.op.calls("client.get") + b.op.calls("client.find"); got != clientGets {
			t.Errorf("steady state read the client %d times", got-clientGets)
		}
	})

	t.Run("own writes enqueue nothing", func(t *testing.T) {
		b.polled(t, 2)
		own := driftCounter(t, "nauthera_drift_admin_events_total", "origin", "own")
		enqueued := driftCounter(t, "nauthera_drift_enqueued_total", "kind", "")
		updates := b.op.calls("client.update")
		// A spec change: the operator writes the client (an admin event of its own).
		cur := &authv1.AuthClient{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: "drift", Name: b.ac.Name}, cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.DisplayName = "Drift app, renamed"
		if err := k8s.Update(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the operator's own admin event is read", func() error {
			if b.op.calls("client.update") == updates {
				return fmt.Errorf("no client update yet")
			}
			if got := driftCounter(t, "nauthera_drift_admin_events_total", "origin", "own"); got <= own {
				return fmt.Errorf("no own event read yet")
			}
			return nil
		})
		b.polled(t, 2)
		if got := driftCounter(t, "nauthera_drift_enqueued_total", "kind", ""); got != enqueued {
			t.Errorf("the operator's own write enqueued %v objects", got-enqueued)
		}
	})

	t.Run("lost page", func(t *testing.T) {
		before := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "LostPage")
		faults.Set("adminevents.list", testbed.Fault{Status: 500, PathContains: "/realms/" + b.realm + "/", Times: 1})
		t.Cleanup(faults.Clear)
		b.edit(t, "https://evil-lost.example.com/cb")
		eventually(t, 30*time.Second, "a full resync after the lost page", func() error {
			if got := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "LostPage"); got <= before {
				return fmt.Errorf("none yet (%d faulted)", faults.Hits("adminevents.list"))
			}
			return nil
		})
		b.reverted(t, 30*time.Second)
	})

	t.Run("events purged between two reads", func(t *testing.T) {
		b.polled(t, 1)
		before := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "Purged")
		hold := make(chan struct{})
		faults.Set("adminevents.list", testbed.Fault{Hold: hold, PathContains: "/realms/" + b.realm + "/", Times: 1})
		t.Cleanup(faults.Clear)
		eventually(t, 30*time.Second, "a read of the events held", func() error {
			if faults.Hits("adminevents.list") == 0 {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		// Meanwhile: an edit, then the store cleared (the edit's event with it).
		b.edit(t, "https://evil-purged.example.com/cb")
		gc, tok := b.admin()
		resp, err := gc.RestyClient().R().SetAuthToken(tok).Delete(kc.URL + "/admin/realms/" + b.realm + "/admin-events")
		if err != nil || resp.IsError() {
			t.Fatalf("clear the admin events: %v %v", err, resp)
		}
		close(hold)
		eventually(t, 30*time.Second, "a full resync after the purge", func() error {
			if got := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "Purged"); got <= before {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		b.reverted(t, 30*time.Second)
	})

	t.Run("admin events turned off", func(t *testing.T) {
		before := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "EventsDisabled")
		gc, tok := b.admin()
		if err := gc.UpdateRealm(context.Background(), tok, gocloak.RealmRepresentation{Realm: &b.realm, AdminEventsEnabled: gocloak.BoolP(false)}); err != nil {
			t.Fatal(err)
		}
		b.edit(t, "https://evil-unrecorded.example.com/cb")
		eventually(t, 90*time.Second, "a full resync once admin events are back on", func() error {
			if got := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "EventsDisabled"); got <= before {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		gc, tok = b.admin()
		realm, err := gc.GetRealm(context.Background(), tok, b.realm)
		if err != nil {
			t.Fatal(err)
		}
		if !gocloak.PBool(realm.AdminEventsEnabled) {
			t.Error("admin events are still off after the resync")
		}
		b.reverted(t, 30*time.Second)
	})

	// Last: the restarted operator ends the test (its cleanup deletes the
	// objects while it runs, then stops it).
	t.Run("restart", func(t *testing.T) {
		// Counted by path, in this test's realm only: the restarted
		// operator also reconciles what other tests of the package left
		// behind, whose reads are no business of this one.
		uuid := gocloak.PString(b.client(t).ID)
		clients := "/admin/realms/" + b.realm + "/clients"
		reads := func() int {
			find := faults.Requests(clients, "GET") - faults.Requests(clients+"/", "GET")
			get := faults.Requests(clients+"/"+uuid, "GET") - faults.Requests(clients+"/"+uuid+"/", "GET")
			return find + get
		}
		writes := func() int { return faults.Requests("/admin/realms/"+b.realm+"/", "POST", "PUT", "DELETE") }
		// A read of the events that fails (a timeout on a loaded machine)
		// is followed by a full resync of the realm, by design: one read
		// of the client more. Only those are allowed on top of the one
		// read of the restart, and only for a failed read.
		resyncsBefore := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "")
		lostBefore := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "LostPage")
		opMu.Lock()
		current.stop()
		readsBefore, writesBefore := reads(), writes()
		current = startOperator(t)
		op := current
		opMu.Unlock()
		t.Cleanup(func() {
			deleteAndWait(t, b.ac)
			deleteAndWait(t, b.as)
			opMu.Lock()
			defer opMu.Unlock()
			if current == op {
				current.stop()
				current = nil
			}
		})
		eventually(t, 60*time.Second, "the restarted operator reads the client", func() error {
			if reads() == readsBefore {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		b.polled(t, 3)
		resyncs := int(driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "") - resyncsBefore)
		if lost := int(driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "LostPage") - lostBefore); lost != resyncs {
			t.Errorf("the restarted operator resynced the realm %d times, %d of them for a failed read; a restart alone must cause none", resyncs, lost)
		}
		if w, r := writes()-writesBefore, reads()-readsBefore; w != 0 || r != 1+resyncs {
			t.Errorf("a restart with drift detection cost %d writes to the realm and %d reads of its client (%d full resyncs after failed reads); want 0 and %d", w, r, resyncs, 1+resyncs)
		}
	})
}

// BenchmarkConsoleEditRevert measures, at the default --drift-interval
// (10s) and with the full resync an hour away, the time from a console edit
// by another admin to its revert, and reports p50 and p99:
//
//	go test ./controllers -run '^$' -bench ConsoleEditRevert -benchtime 20x
func BenchmarkConsoleEditRevert(b *testing.B) {
	integration(b)
	bed := newDriftBed(b, "drift-bench", 10*time.Second)
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		bed.edit(b, fmt.Sprintf("https://evil-bench-%d.example.com/cb", i))
		bed.reverted(b, 60*time.Second)
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	q := func(p float64) float64 { return took[min(len(took)-1, int(p*float64(len(took))))].Seconds() }
	b.ReportMetric(q(0.5), "p50-s")
	b.ReportMetric(q(0.99), "p99-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "max-s")
	b.Logf("console edit revert times over %d edits: %v", len(took), took)
}

// Another admin deletes a client role that a second AuthClient was granted:
// Keycloak drops the grant with the role, and the role's owner recreating it
// restores nothing, so the grantee is reconciled too and its token carries
// the role again, with the full resync an hour away.
func TestDriftRoleDeletedRestoresGrants(t *testing.T) {
	integration(t)
	b := newDriftBed(t, "drift-grants", time.Second)
	_, apiID := b.grantPair(t, "grants")

	gc, tok := b.admin()
	uuid := *keycloakClient(t, b.realm, apiID).ID
	if err := gc.DeleteClientRole(context.Background(), tok, b.realm, uuid, "orders:write"); err != nil {
		t.Fatal(err)
	}
	waitTokenRoles(t, b.realm, "drift", "grants-worker", apiID, "orders:write")
}

// Another admin editing client scopes (shared by every client of the
// realm) over several reads of the events costs one full resync at once and
// the next only after a hold, not one per read; the held one still runs.
func TestDriftSharedObjectResyncsSpaced(t *testing.T) {
	integration(t)
	b := newDriftBed(t, "drift-shared", time.Second)
	b.polled(t, 2)
	before := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "SharedObject")
	gc, tok := b.admin()
	ctx := context.Background()
	for i := range 3 {
		id, err := gc.CreateClientScope(ctx, tok, b.realm, gocloak.ClientScope{Name: gocloak.StringP(fmt.Sprintf("drift-shared-%d", i)), Protocol: gocloak.StringP("openid-connect")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			gc, tok := b.admin()
			_ = gc.DeleteClientScope(context.Background(), tok, b.realm, id)
		})
		// Each edit lands in a read of its own.
		b.polled(t, 2)
	}
	if got := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "SharedObject") - before; got != 1 {
		t.Errorf("three client-scope edits in three reads within the hold: %v full resyncs, want 1", got)
	}
	eventually(t, 2*sharedResyncHoldForTest, "the held full resync", func() error {
		if got := driftCounter(t, "nauthera_drift_full_resyncs_total", "cause", "SharedObject") - before; got != 2 {
			return fmt.Errorf("%v full resyncs", got)
		}
		return nil
	})
}

// sharedResyncHoldForTest is controllers.sharedResyncHold (30s).
const sharedResyncHoldForTest = 30 * time.Second

// Another admin deletes the whole realm (its clients with it). Keycloak
// records no event in the realm (it is gone) and the full resync is an hour
// away: the watcher's reads of the realm's events now fail with 404, and
// that must bring the AuthServer back to recreate the realm, then the
// AuthClient to recreate its client, not wait for the resync.
func TestDriftRealmDeletedIsRecreated(t *testing.T) {
	integration(t)
	b := newDriftBed(t, "drift-gone", time.Second)
	b.polled(t, 1)
	gc, tok := b.admin()
	ctx := context.Background()
	if err := gc.DeleteRealm(ctx, tok, b.realm); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the realm and its client recreated", func() error {
		gc, tok := b.admin()
		cs, err := gc.GetClients(ctx, tok, b.realm, gocloak.GetClientsParams{ClientID: gocloak.StringP(b.ac.EffectiveClientID())})
		if err != nil {
			return err
		}
		if len(cs) != 1 {
			return fmt.Errorf("%d clients %s", len(cs), b.ac.EffectiveClientID())
		}
		return nil
	})
}

// A grantee reconciled while its target's role (or the target's whole
// Keycloak client) is deleted in Keycloak, before the target restores it,
// waits for it and kicks the target; the target's restoring reconcile
// kicks the grantee back. Drift detection is off here and only the grantee
// is nudged: without either kick the grant would wait for the target's
// resync (an hour) or the wait's own 30 s retry.
func TestGranteeBeforeTargetRestoresTheRole(t *testing.T) {
	integration(t)
	b := newDriftBed(t, "drift-order", 0)
	wk, apiID := b.grantPair(t, "order")
	ctx := context.Background()

	for i, gone := range []struct {
		what, note string
		delete     func(gc *gocloak.GoCloak, tok, uuid string) error
	}{
		{"the role was deleted", `role "orders:write" of AuthClient drift/order-api was deleted in Keycloak`, func(gc *gocloak.GoCloak, tok, uuid string) error {
			return gc.DeleteClientRole(ctx, tok, b.realm, uuid, "orders:write")
		}},
		{"the whole Keycloak client was deleted", "role grant AuthClient drift/order-api: its Keycloak client was deleted in Keycloak", func(gc *gocloak.GoCloak, tok, uuid string) error {
			return gc.DeleteClient(ctx, tok, b.realm, uuid)
		}},
	} {
		gc, tok := b.admin()
		if err := gone.delete(gc, tok, *keycloakClient(t, b.realm, apiID).ID); err != nil {
			t.Fatal(err)
		}
		annotate(t, wk, "test.nauthera.io/nudge", strconv.Itoa(i))
		// Well inside the wait's own 30 s retry (controllers.roleGrantPendingRetry).
		waitTokenRolesWithin(t, 15*time.Second, b.realm, "drift", "order-worker", apiID, "orders:write")
		waitReady(t, wk, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		// The wait was reported, and said why (a Normal Event on the transition).
		waitEventNote(t, 10*time.Second, wk, corev1.EventTypeNormal, authv1.ReasonRoleGrantPending, gone.note)
	}
}
