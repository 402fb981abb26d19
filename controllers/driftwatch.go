package controllers

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/drift"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// DriftWatch finds drift in Keycloak from each managed realm's admin events
// instead of reading every object at every resync: every Interval it reads
// the events of each Ready AuthServer's realm written since the last read
// (one request when nothing happened, more only to page), ignores those the
// operator's own admin connection caused, and enqueues the AuthClients and
// AuthServers the others touched (pkg/drift decides which). When it cannot
// rule out having missed events (a failed read, events purged or expired,
// admin events turned off) it resyncs the realm in full: its AuthServer and
// every AuthClient of it. It runs on the leader only (docs/operations/drift.md).
type DriftWatch struct {
	// Reader reads AuthServers and AuthClients (the manager's cache).
	Reader      client.Reader
	Connections *connection.Resolver
	// Interval is how often each realm's events are read.
	Interval time.Duration
	// Workers bound the realms read at once (0: 4).
	Workers int

	clients chan event.TypedGenericEvent[driftKick]
	servers chan event.TypedGenericEvent[driftKick]

	mu     sync.Mutex
	realms map[string]*realmWatch // by Keycloak URL + realm
	// uuids maps a realm's Keycloak client ids to their AuthClients, as
	// the AuthClient reconciles record them (noteClient).
	uuids map[string]map[string]types.NamespacedName
	// clientRefs is the inverse of uuids: where each AuthClient is
	// recorded, so that a recreated client or a deleted AuthClient leaves
	// no entry behind (the map does not grow with churn).
	clientRefs map[types.NamespacedName]clientRef
	// reenabled are the realms whose admin events the AuthServer reconcile
	// turned back on since their last read (eventsReenabled).
	reenabled map[string]bool
	// scheduled are the AuthServers whose next read is queued, and
	// realmOf the realm (key of realms) each was last read as, so that a
	// deleted AuthServer's realm state is dropped.
	scheduled map[types.NamespacedName]bool
	realmOf   map[types.NamespacedName]string
	started   time.Time
	queue     workqueue.TypedDelayingInterface[types.NamespacedName]
}

// clientRef is where noteClient recorded an AuthClient in uuids.
type clientRef struct{ rk, uuid string }

// driftKick is one object to reconcile, after a delay (full resyncs are
// spread like the clients of a recovering AuthServer).
type driftKick struct {
	key   types.NamespacedName
	after time.Duration
}

// realmWatch is how far one realm's events have been read.
type realmWatch struct {
	pos drift.Position
	// lastRead is when the events were last read completely (zero: never).
	lastRead time.Time
	// failed: a read failed since; the next complete read resyncs the
	// realm (once lostResync allows: a pending resync is kept until then).
	failed bool
	// failures counts the reads that failed in a row: the next read waits
	// longer (failureDelay), so that a Keycloak that is down is not polled
	// at full rate for every realm.
	failures int
	// lostResync spaces the full resyncs for failed reads.
	lostResync drift.ResyncBackoff
	// shared spaces the full resyncs for changes to what the realm's
	// clients share (client scopes, roles by id); sharedPending: one is
	// held and runs at a later read.
	shared        drift.ResyncBackoff
	sharedPending bool
	// expiration is the realm's adminEventsExpiration (seconds, 0: none).
	expiration int64
	// polls counts the reads; the events config is read every
	// configEvery-th, at the first, after a foreign realm update, and
	// while admin events are off.
	polls     int
	configDue bool
	eventsOff bool
}

const (
	// driftPageSize is the most events one request returns.
	driftPageSize = 100
	// configEvery: the events config (the realm) is read every this many
	// polls: 5 minutes at the default interval.
	configEvery = 30
	// clockSkew is the difference between the operator's clock and
	// Keycloak's that the gap decisions tolerate, and how far before its
	// start the watcher reads (the start-up reconciles cover the rest).
	clockSkew = time.Minute
	// lostResyncHold and lostResyncMaxHold bound the spacing of the full
	// resyncs one realm gets for failed reads (drift.ResyncBackoff).
	lostResyncHold    = time.Minute
	lostResyncMaxHold = time.Hour
	// maxFailureShift caps the slowdown of a realm's reads while they
	// fail: at most 2^maxFailureShift intervals apart (160s at 10s).
	maxFailureShift = 4
	// sharedResyncHold and sharedResyncMaxHold bound the spacing of the
	// full resyncs one realm gets for changes to shared objects: the first
	// runs at once, the next after the previous one's reads are spread
	// (maxRecoverySpread), doubling while an admin keeps editing.
	sharedResyncHold    = maxRecoverySpread
	sharedResyncMaxHold = 5 * time.Minute
	// granteeDelay is how long after a role or client deleted by someone
	// else the AuthClients granted its roles are reconciled. The target's
	// own restore kicks them anyway; this reconcile is for a role made
	// again in a way whose event names no client (a partial import), and
	// runs after the target's so that they do not find the role missing
	// and wait (either order converges).
	granteeDelay = 5 * time.Second
)

// failureDelay is how long after a read the next one runs: interval, doubled
// for each failure in a row (up to 2^maxFailureShift intervals).
func failureDelay(interval time.Duration, failures int) time.Duration {
	return interval << min(failures, maxFailureShift)
}

// NewDriftWatch returns a watcher; SetupWithManager adds it to mgr, and the
// reconcilers' SetupWithManager connect its sources.
func NewDriftWatch(reader client.Reader, conns *connection.Resolver, interval time.Duration) *DriftWatch {
	return &DriftWatch{
		Reader: reader, Connections: conns, Interval: interval,
		clients:    make(chan event.TypedGenericEvent[driftKick], 1024),
		servers:    make(chan event.TypedGenericEvent[driftKick], 1024),
		realms:     map[string]*realmWatch{},
		uuids:      map[string]map[string]types.NamespacedName{},
		clientRefs: map[types.NamespacedName]clientRef{},
		scheduled:  map[types.NamespacedName]bool{},
		realmOf:    map[types.NamespacedName]string{},
		reenabled:  map[string]bool{},
	}
}

// SetupWithManager adds the watcher to mgr, run by the leader only.
func (w *DriftWatch) SetupWithManager(mgr ctrl.Manager) error { return mgr.Add(w) }

// NeedLeaderElection: only the leader reconciles, so only it reads events.
func (w *DriftWatch) NeedLeaderElection() bool { return true }

// clientSource and serverSource feed the AuthClient and AuthServer
// controllers (nil watcher: none).
func (w *DriftWatch) clientSource() source.TypedSource[reconcile.Request] {
	return source.TypedChannel[driftKick, reconcile.Request](w.clients, kickHandler)
}

func (w *DriftWatch) serverSource() source.TypedSource[reconcile.Request] {
	return source.TypedChannel[driftKick, reconcile.Request](w.servers, kickHandler)
}

var kickHandler = handler.TypedFuncs[driftKick, reconcile.Request]{
	GenericFunc: func(_ context.Context, e event.TypedGenericEvent[driftKick], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		q.AddAfter(reconcile.Request{NamespacedName: e.Object.key}, e.Object.after)
	},
}

// Start reads the realms' events until ctx ends.
func (w *DriftWatch) Start(ctx context.Context) error {
	w.started = time.Now()
	w.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[types.NamespacedName]{Name: "nauthera-drift"})
	go func() {
		<-ctx.Done()
		w.queue.ShutDown()
	}()
	workers := w.Workers
	if workers <= 0 {
		workers = 4
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w.work(ctx) {
			}
		}()
	}
	// New AuthServers join at every sweep, each at its own offset in the
	// interval, so that many realms are not read at once.
	for {
		w.sweep(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-time.After(w.Interval):
		}
	}
}

// sweep schedules the first read of every AuthServer not scheduled yet.
func (w *DriftWatch) sweep(ctx context.Context) {
	var list authv1.AuthServerList
	if err := w.Reader.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthServers for drift detection")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range list.Items {
		key := client.ObjectKeyFromObject(&list.Items[i])
		if !w.scheduled[key] {
			w.scheduled[key] = true
			w.queue.AddAfter(key, spreadOffset(key.String(), w.Interval))
		}
	}
}

// spreadOffset is key's fixed place in the interval.
func spreadOffset(key string, interval time.Duration) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return time.Duration(h.Sum32()%1000) * interval / 1000
}

// work reads the events of one queued AuthServer's realm and schedules
// its next read; false once the queue shuts down.
func (w *DriftWatch) work(ctx context.Context) bool {
	key, shutdown := w.queue.Get()
	if shutdown {
		return false
	}
	defer w.queue.Done(key)
	as := &authv1.AuthServer{}
	if err := w.Reader.Get(ctx, key, as); err != nil || !as.DeletionTimestamp.IsZero() {
		w.forgetServer(key) // a later sweep brings it back if it exists
		return true
	}
	log := ctrl.LoggerFrom(ctx).WithValues("authServer", klog.KObj(as))
	failures := w.poll(ctrl.LoggerInto(ctx, log), as)
	w.queue.AddAfter(key, failureDelay(w.Interval, failures))
	return true
}

// forgetServer drops the state of an AuthServer that is gone (or being
// deleted): its schedule and its realm's position.
func (w *DriftWatch) forgetServer(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.scheduled, key)
	if rk, ok := w.realmOf[key]; ok {
		delete(w.realmOf, key)
		delete(w.realms, rk)
		delete(w.reenabled, rk)
	}
}

// realmKey keys the state of as's realm: its Keycloak's URL and its name.
func (w *DriftWatch) realmKey(as *authv1.AuthServer) string {
	u := w.Connections.Defaults.URL
	if as.Spec.Keycloak != nil {
		u = as.Spec.Keycloak.URL
	}
	return u + "\x00" + as.Status.RealmName
}

// state returns the watch of a realm, new ones starting from the watcher's
// start: the start-up reconciles read every object after it.
func (w *DriftWatch) state(rk string) *realmWatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.realms[rk]
	if st == nil {
		st = &realmWatch{pos: drift.Position{Time: w.started.Add(-clockSkew).UnixMilli()}, configDue: true}
		w.realms[rk] = st
	}
	return st
}

// realmPoll is one read of one realm's events: the AuthServer, its
// connection, and the realm's watch (keyed by rk).
type realmPoll struct {
	as *authv1.AuthServer
	kc keycloak.AdminEventAdmin
	rk string
	st *realmWatch
}

// poll reads one realm's events since its position and acts on them. It
// returns how many reads of the realm failed in a row.
func (w *DriftWatch) poll(ctx context.Context, as *authv1.AuthServer) int {
	log := ctrl.LoggerFrom(ctx)
	realm := as.Status.RealmName
	if realm == "" || !reconciler.IsReady(as) {
		// Its own reconcile retries; nothing to compare yet.
		return 0
	}
	kc, err := w.Connections.For(ctx, as)
	if err != nil {
		driftPolls.WithLabelValues("error").Inc()
		return 0
	}
	rk := w.realmKey(as)
	st := w.state(rk)
	w.mu.Lock()
	w.realmOf[client.ObjectKeyFromObject(as)] = rk
	if w.reenabled[rk] {
		// Off since the last read, whether or not a read saw it.
		delete(w.reenabled, rk)
		st.eventsOff = true
	}
	w.mu.Unlock()
	if st.configDue || st.eventsOff || st.polls%configEvery == 0 {
		if !w.checkConfig(ctx, kc, as, st) {
			return st.failures
		}
	}
	st.polls++
	events, err := readEvents(ctx, kc, realm, st.pos.Time)
	if err != nil {
		if !st.failed {
			log.Info("Failed to read the realm's admin events; the realm is resynced once they can be read", "error", err.Error())
		}
		driftPolls.WithLabelValues("error").Inc()
		st.failed = true
		st.failures++
		w.realmGone(ctx, as, err)
		return st.failures
	}
	driftPolls.WithLabelValues("ok").Inc()
	st.failures = 0
	now := time.Now()
	next, fresh, purged := drift.Advance(st.pos, events)
	cause, gap := drift.Gap(drift.GapInput{Purged: purged, LastTime: st.pos.Time, Now: now.UnixMilli(),
		SinceLastRead: sinceMillis(st.lastRead, now), Expiration: st.expiration, Skew: clockSkew.Milliseconds()})
	pending := false
	if st.failed && !gap {
		var due bool
		if due, st.lostResync = st.lostResync.Due(now, lostResyncHold, lostResyncMaxHold); due {
			cause, gap = drift.CauseLostPage, true
		} else {
			// Resynced for a failed read a moment ago: this one waits
			// (the events read now are acted on meanwhile).
			pending = true
		}
	}
	st.pos, st.lastRead, st.failed = next, now, pending
	if gap {
		st.sharedPending = false
		w.fullResync(ctx, as, cause)
		return 0
	}
	if st.sharedPending && w.sharedResync(ctx, as, st) {
		return 0
	}
	w.dispatch(ctx, realmPoll{as: as, kc: kc, rk: rk, st: st}, fresh)
	return 0
}

// sharedResync resyncs the realm for a change to something its clients
// share, at most once per hold (drift.ResyncBackoff): an admin editing
// client scopes or roles for minutes would otherwise cost one read per
// client at every read of the events. A held one runs at a later read
// (sharedPending). It says whether the realm was resynced.
func (w *DriftWatch) sharedResync(ctx context.Context, as *authv1.AuthServer, st *realmWatch) bool {
	due, next := st.shared.Due(time.Now(), sharedResyncHold, sharedResyncMaxHold)
	if !due {
		st.sharedPending = true
		return false
	}
	st.shared, st.sharedPending = next, false
	w.fullResync(ctx, as, drift.CauseSharedObject)
	return true
}

// realmGone reconciles the AuthServer when a read of its realm failed with
// 404: the realm is gone (another admin deleted it, and its clients with
// it), which leaves no event in the realm and, with the full resync a day
// away, would stay unrepaired that long. The AuthServer's reconcile
// recreates the realm; the next complete read follows a failed one, so it
// resyncs the realm's AuthClients (CauseLostPage), which recreate their
// clients. While reads keep failing it is kicked again at each read, which
// slows down like every failing read (failureDelay).
func (w *DriftWatch) realmGone(ctx context.Context, as *authv1.AuthServer, err error) {
	if !keycloak.IsNotFound(err) {
		return
	}
	ctrl.LoggerFrom(ctx).V(1).Info("The realm is gone from Keycloak; reconciling its AuthServer", "realm", as.Status.RealmName)
	driftEnqueued.WithLabelValues("AuthServer").Inc()
	w.kick(ctx, w.servers, client.ObjectKeyFromObject(as), 0)
}

// sinceMillis is how long ago (ms) t was; 0 for the zero time.
func sinceMillis(t, now time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return now.Sub(t).Milliseconds()
}

// readEvents reads every admin event of realm at or after since, page by page.
func readEvents(ctx context.Context, kc keycloak.AdminEventAdmin, realm string, since int64) ([]keycloak.AdminEvent, error) {
	var all []keycloak.AdminEvent
	for first := 0; ; first += driftPageSize {
		page, err := kc.AdminEvents(ctx, realm, since, first, driftPageSize)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < driftPageSize {
			// Oldest first, whatever order a Keycloak without
			// direction=asc answers in (drift.Advance relies on it).
			slices.SortStableFunc(all, func(a, b keycloak.AdminEvent) int { return cmp.Compare(a.Time, b.Time) })
			return all, nil
		}
	}
}

// checkConfig reads whether the realm records admin events. Turned off,
// the AuthServer is reconciled (which turns them back on) and the events
// are not read; back on after that, the realm is resynced in full: what
// changed meanwhile left no event. It says whether to read the events.
func (w *DriftWatch) checkConfig(ctx context.Context, kc keycloak.AdminEventAdmin, as *authv1.AuthServer, st *realmWatch) bool {
	cfg, err := kc.EventsConfig(ctx, as.Status.RealmName)
	if err != nil {
		driftPolls.WithLabelValues("error").Inc()
		st.failed = true
		st.failures++
		w.realmGone(ctx, as, err)
		return false
	}
	st.configDue, st.expiration = false, cfg.AdminEventsExpiration
	if !cfg.AdminEventsEnabled {
		if !st.eventsOff {
			ctrl.LoggerFrom(ctx).Info("The realm's admin events are turned off; turning them back on, then resyncing the realm")
		}
		st.eventsOff = true
		driftEnqueued.WithLabelValues("AuthServer").Inc()
		w.kick(ctx, w.servers, client.ObjectKeyFromObject(as), 0)
		return false
	}
	if st.eventsOff {
		st.eventsOff = false
		w.fullResync(ctx, as, drift.CauseEventsDisabled)
		// The events from now on are read from the next poll.
		st.pos, st.lastRead, st.failed = drift.Position{Time: time.Now().Add(-clockSkew).UnixMilli()}, time.Now(), false
		return false
	}
	return true
}

// dispatch enqueues the objects the events of others touched.
func (w *DriftWatch) dispatch(ctx context.Context, p realmPoll, events []keycloak.AdminEvent) {
	if len(events) == 0 {
		return
	}
	kc, as, rk, st := p.kc, p.as, p.rk, p.st
	me, err := kc.Identity(ctx)
	if err != nil {
		// Every event is then taken for someone else's: a reconcile too
		// many for each of the operator's writes, never one too few.
		ctrl.LoggerFrom(ctx).V(1).Info("Cannot tell the operator's own admin events apart", "error", err.Error())
	}
	var server, grants, realmChanged bool
	// clients are reconciled now; later, after granteeDelay (grantees of a
	// deleted role or client, once its AuthClient had the time to restore
	// it).
	clients, later := map[types.NamespacedName]bool{}, map[types.NamespacedName]bool{}
	startedAt := w.started.UnixMilli()
	for _, e := range events {
		if e.Time < startedAt {
			// Before the operator started: the start-up reconciles, which
			// read every object after it, cover it (a restart costs no more
			// than one read per object). This trusts Keycloak's clock to
			// agree with the operator's (NTP); the read itself starts a
			// minute earlier only to learn the position.
			continue
		}
		if me != "" && e.AuthDetails.UserID == me {
			driftEvents.WithLabelValues("own").Inc()
			continue
		}
		driftEvents.WithLabelValues("other").Inc()
		t := drift.Classify(e)
		ctrl.LoggerFrom(ctx).V(1).Info("Admin event by another admin", "operation", e.OperationType, "resourceType", e.ResourceType, "resourcePath", e.ResourcePath, "target", t.Kind.String())
		switch t.Kind {
		case drift.Client:
			if key, ok := w.clientOf(rk, t.ClientUUID); ok {
				clients[key] = true
				switch {
				case t.Grantees:
					w.addGrantees(ctx, key, clients)
				case t.GranteesLater:
					w.addGrantees(ctx, key, later)
				}
			}
		case drift.Grants:
			grants, server = true, true
		case drift.Server:
			server = true
			realmChanged = realmChanged || t.EventsConfig
		case drift.Realm:
			if w.sharedResync(ctx, as, st) {
				return
			}
		}
	}
	if realmChanged && !w.checkConfig(ctx, kc, as, st) {
		// Admin events turned off (checked now, before the AuthServer
		// reconcile turns them back on and the gap would go unnoticed).
		return
	}
	if grants {
		for _, ac := range w.clientsOf(ctx, as) {
			if len(ac.Spec.RoleGrants) > 0 {
				clients[client.ObjectKeyFromObject(&ac)] = true
			}
		}
	}
	for key := range clients {
		driftEnqueued.WithLabelValues("AuthClient").Inc()
		w.kick(ctx, w.clients, key, 0)
	}
	for key := range later {
		if !clients[key] {
			driftEnqueued.WithLabelValues("AuthClient").Inc()
			w.kick(ctx, w.clients, key, granteeDelay)
		}
	}
	if server {
		driftEnqueued.WithLabelValues("AuthServer").Inc()
		w.kick(ctx, w.servers, client.ObjectKeyFromObject(as), 0)
	}
}

// clientOf is the AuthClient of a realm's Keycloak client, if the
// operator manages it (an unmanaged client's events are not its business).
func (w *DriftWatch) clientOf(rk, uuid string) (types.NamespacedName, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key, ok := w.uuids[rk][uuid]
	return key, ok
}

// addGrantees adds to clients the AuthClients granted roles of the
// AuthClient key (spec.roleGrants): a role someone else deleted took their
// mappings with it, and one made again (by hand, or by a partial import
// whose event names no client) leaves key's reconcile nothing to restore.
// A role key restores itself kicks them too (kickGrantees).
func (w *DriftWatch) addGrantees(ctx context.Context, key types.NamespacedName, clients map[types.NamespacedName]bool) {
	var list authv1.AuthClientList
	if err := w.Reader.List(ctx, &list, client.MatchingFields{indexRoleGrants: key.String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the AuthClients granted roles of an AuthClient", "authClient", key.String())
		return
	}
	for i := range list.Items {
		clients[client.ObjectKeyFromObject(&list.Items[i])] = true
	}
}

// clientsOf lists the AuthClients of as from the cache.
func (w *DriftWatch) clientsOf(ctx context.Context, as *authv1.AuthServer) []authv1.AuthClient {
	var list authv1.AuthClientList
	if err := w.Reader.List(ctx, &list, client.MatchingFields{indexAuthServerRef: client.ObjectKeyFromObject(as).String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the AuthServer's AuthClients")
		return nil
	}
	return list.Items
}

// fullResync reconciles the realm's AuthServer and every AuthClient of it,
// spread as after a recovery.
func (w *DriftWatch) fullResync(ctx context.Context, as *authv1.AuthServer, cause drift.Cause) {
	ctrl.LoggerFrom(ctx).Info("Resyncing the realm: admin events may have been missed", "cause", string(cause))
	driftResyncs.WithLabelValues(string(cause)).Inc()
	w.kick(ctx, w.servers, client.ObjectKeyFromObject(as), 0)
	items := w.clientsOf(ctx, as)
	window := min(maxRecoverySpread, time.Duration(len(items))*recoverySpread)
	for i := range items {
		driftEnqueued.WithLabelValues("AuthClient").Inc()
		w.kick(ctx, w.clients, client.ObjectKeyFromObject(&items[i]), window*time.Duration(i)/time.Duration(len(items)))
	}
}

// kick hands one object to a controller.
func (w *DriftWatch) kick(ctx context.Context, ch chan<- event.TypedGenericEvent[driftKick], key types.NamespacedName, after time.Duration) {
	select {
	case ch <- event.TypedGenericEvent[driftKick]{Object: driftKick{key: key, after: after}}:
	case <-ctx.Done():
	}
}

// eventsReenabled tells the watcher that the AuthServer reconcile found the
// realm's admin events off and turned them back on: the realm is resynced
// at its next read, even if no read saw them off. Safe on a nil watcher.
func (w *DriftWatch) eventsReenabled(as *authv1.AuthServer, realm string) {
	if w == nil {
		return
	}
	cp := as.DeepCopy()
	cp.Status.RealmName = realm
	rk := w.realmKey(cp)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reenabled[rk] = true
}

// noteClient records the Keycloak client of an AuthClient, so that the
// events about it map back to it. Safe on a nil watcher.
func (w *DriftWatch) noteClient(as *authv1.AuthServer, uuid string, key types.NamespacedName) {
	if w == nil || as == nil || uuid == "" {
		return
	}
	rk := w.realmKey(as)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(key)
	if w.uuids[rk] == nil {
		w.uuids[rk] = map[string]types.NamespacedName{}
	}
	w.uuids[rk][uuid] = key
	w.clientRefs[key] = clientRef{rk: rk, uuid: uuid}
}

// forgetClient drops what noteClient recorded of an AuthClient that is
// gone. Safe on a nil watcher.
func (w *DriftWatch) forgetClient(key types.NamespacedName) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(key)
}

func (w *DriftWatch) forgetLocked(key types.NamespacedName) {
	ref, ok := w.clientRefs[key]
	if !ok {
		return
	}
	delete(w.clientRefs, key)
	if w.uuids[ref.rk][ref.uuid] == key {
		delete(w.uuids[ref.rk], ref.uuid)
	}
	if len(w.uuids[ref.rk]) == 0 {
		delete(w.uuids, ref.rk)
	}
}

// Drift detection's metrics: counters without object names.
var (
	driftPolls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nauthera", Name: "drift_polls_total",
		Help: "Reads of a realm's admin events (and events config) for drift detection, by result (ok, error).",
	}, []string{"result"})
	driftEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nauthera", Name: "drift_admin_events_total",
		Help: "Admin events read, by origin: own (the operator's writes, ignored) or other.",
	}, []string{"origin"})
	driftEnqueued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nauthera", Name: "drift_enqueued_total",
		Help: "Objects enqueued for a reconcile by drift detection, by kind.",
	}, []string{"kind"})
	driftResyncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nauthera", Name: "drift_full_resyncs_total",
		Help: "Full resyncs of a realm because admin events may have been missed, by cause (LostPage, Purged, Expired, EventsDisabled, SharedObject).",
	}, []string{"cause"})
)

func init() {
	metrics.Registry.MustRegister(driftPolls, driftEvents, driftEnqueued, driftResyncs)
}
