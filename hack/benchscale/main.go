// Command benchscale measures Nauthera at scale against the physical limit
// of its test bed: N AuthClients applied at once to a real kube-apiserver,
// reconciled by the operator binary (its own process) into a real Keycloak.
// In the same run, with the same Keycloak and concurrency, it measures two
// baselines: (a) the minimal Keycloak sequence per client (create, read the
// secret) and (b) that plus the minimal Kubernetes writes (create the
// Secret, patch a status). It prints one table.
//
// Further modes, one file each: roles.go (client roles after the create
// run), steady.go (-steady: a day of steady state compressed), drift.go
// (-drift-edits: console edits timed until reverted), realms.go
// (-realms-scale: 1 to 1,000 realms, replacing the N-clients runs),
// profile.go (-profile: CPU profiles of the operator and the API server
// during the create run); procstat.go reads CPU and memory from /proc.
//
//	make bench-scale                 (BENCH_N=3000 make bench-scale)
//	go run ./hack/benchscale -n 1000 (with KUBEBUILDER_ASSETS set, after make build)
//
// Timing targets are not asserted anywhere: the benchmark reports.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"github.com/go-logr/logr/funcr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/policy"
)

var (
	n           = flag.Int("n", 1000, "AuthClients to create")
	concurrency = flag.Int("concurrency", 8, "Parallel workers of the baselines: as many as the operator has requests in flight to Keycloak at most (--keycloak-max-inflight, default 8)")
	appliers    = flag.Int("appliers", 8, "Parallel writers applying the AuthClients")
	opArgs      = flag.String("operator-args", "", "Extra operator flags, space-separated (e.g. --max-concurrent-reconciles=16)")
	baselines   = flag.Bool("baselines", true, "Measure the baselines")
	resyncWave  = flag.Bool("resync", true, "Measure a restart and one resync wave")
	servers     = flag.Int("servers", 1, "AuthServers (realms) present during the create run; the clients all use the first")
	warmup      = flag.Int("warmup", 2000, "Clients created and dropped before measuring, so that no run pays for Keycloak's JIT warm-up")
	listing     = flag.Bool("listing", true, "Compare reading the N clients one by one (what a resync does) with listing the realm's clients in pages")
)

func main() {
	flag.Parse()
	// controller-runtime's and client-go's logs (the informers' list and
	// watch errors) go to the benchmark's own log; info only at V(0).
	ctrl.SetLogger(funcr.New(func(prefix, args string) { log("%s %s", prefix, args) }, funcr.Options{}))
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

type bed struct {
	dir     string
	cluster *testbed.Cluster
	kc      *testbed.Keycloak
	k8s     client.Client
	op      *testbed.Operator
	metrics string // the operator's metrics URL
	probes  string
	stopped bool   // the operator was stopped (for the baselines after its run)
	flags   string // bin/nauthera -h: which flags this build of the operator has
	pprof   string // the running operator's --pprof-bind-address when -profile is set
}

func run() error {
	b := &bed{}
	var err error
	if b.flags, err = operatorFlags(); err != nil {
		return fmt.Errorf("reading the operator's flags: %w", err)
	}
	if err := checkOperatorArgs(b.flags); err != nil {
		return err
	}
	if err := checkProfile(b.flags); err != nil { // profile.go
		return err
	}
	if *steady > 0 && !*resyncWave {
		return fmt.Errorf("-steady needs the resync wave it spreads over the day: leave -resync on")
	}
	if b.dir, err = os.MkdirTemp("", "nauthera-bench-scale-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	log("starting kube-apiserver, etcd and Keycloak")
	if b.cluster, err = testbed.StartCluster(b.dir, true); err != nil {
		return err
	}
	defer func() { _ = b.cluster.Stop() }()
	if b.kc, err = testbed.StartKeycloak("bench-scale"); err != nil {
		return err
	}
	defer func() { _ = b.kc.Cleanup() }()
	scheme := k8sruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = authv1.AddToScheme(scheme)
	cfg := *b.cluster.Config
	cfg.QPS, cfg.Burst = 500, 1000 // the bench's own client must not be the bottleneck
	if b.k8s, err = client.New(&cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	ctx := context.Background()
	for _, ns := range []string{"nauthera-system", "security", "scale", "baseline"} {
		if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := b.k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "nauthera-system", Name: "keycloak-admin"},
		StringData: map[string]string{"username": b.kc.AdminUser, "password": b.kc.AdminPassword},
	}); err != nil {
		return err
	}

	if *warmup > 0 {
		if err := b.warmUp(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if *realmsScale != "" {
		return b.realmsMode(ctx)
	}
	return b.clientsMode(ctx)
}

// clientsMode is the N-clients run: baselines, create, roles, restart,
// resync wave, steady state and the listing comparison.
func (b *bed) clientsMode(ctx context.Context) error {
	var rows []row
	// The baselines run before and after Nauthera's create run (with the
	// operator stopped), and the ratios use their mean: on a shared machine
	// the minutes around a run differ more than the runs themselves.
	baselinePair := func(suffix string) error {
		a, err := b.baselineKeycloak(ctx, suffix, false)
		if err != nil {
			return fmt.Errorf("baseline (a): %w", err)
		}
		a2, err := b.baselineKeycloak(ctx, suffix, true)
		if err != nil {
			return fmt.Errorf("baseline (a'): %w", err)
		}
		bb, err := b.baselineWithKubernetes(ctx, suffix, false)
		if err != nil {
			return fmt.Errorf("baseline (b): %w", err)
		}
		c, err := b.baselineWithKubernetes(ctx, suffix, true)
		if err != nil {
			return fmt.Errorf("baseline (c): %w", err)
		}
		rows = append(rows, a, a2, bb, c)
		return nil
	}
	if *baselines {
		if err := baselinePair("before"); err != nil {
			return err
		}
	}

	// No resync during the create run: its requests are those of creation.
	if err := b.startOperator("--resync-interval=1h"); err != nil {
		return err
	}
	defer func() {
		if !b.stopped {
			_ = b.op.Stop()
		}
	}()
	if err := b.authServers(ctx); err != nil {
		return err
	}
	create, err := b.createRun(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, create)
	roleRows, err := b.rolesRuns(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, roleRows...)
	if *baselines {
		if err := b.op.Stop(); err != nil {
			return err
		}
		b.stopped = true
		if err := baselinePair("after"); err != nil {
			return err
		}
	}

	var steadyLines []string
	if *resyncWave {
		restart, wave, err := b.restartAndResync(ctx)
		if err != nil {
			return err
		}
		rows = append(rows, restart, wave)
		if *steady > 0 {
			res, err := b.steadyRun(ctx)
			if err != nil {
				return fmt.Errorf("steady state: %w", err)
			}
			steadyLines = steadyReport(res, wave)
		}
	}
	var reads []string
	if *listing {
		if reads, err = b.compareReads(ctx); err != nil {
			return err
		}
	}
	report(rows)
	for _, line := range slices.Concat(roleSummary(rows), reads, steadyLines) {
		fmt.Println(line)
	}
	return nil
}

// compareReads times the two ways a resync wave could read the realm's N
// clients: one look-up per client (what the operator does, with the
// baseline's concurrency), or the whole realm listed in pages.
func (b *bed) compareReads(ctx context.Context) ([]string, error) {
	gc := gocloak.NewClient(b.kc.URL)
	tok := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	start := time.Now()
	if err := parallel(*n, *concurrency, func(i int) error {
		t, err := tok.get(ctx)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("scale.app-%d", i)
		_, err = gc.GetClients(ctx, t, "scale", gocloak.GetClientsParams{ClientID: &id})
		return err
	}); err != nil {
		return nil, err
	}
	one := time.Since(start)
	out := []string{"", fmt.Sprintf("resync reads of %d clients: one look-up each, %d workers: %s", *n, *concurrency, one.Round(time.Millisecond))}
	for _, page := range []int{100, 500} {
		start := time.Now()
		got, requests := 0, 0
		for first := 0; ; first += page {
			t, err := tok.get(ctx)
			if err != nil {
				return nil, err
			}
			list, err := gc.GetClients(ctx, t, "scale", gocloak.GetClientsParams{First: gocloak.IntP(first), Max: gocloak.IntP(page)})
			if err != nil {
				return nil, err
			}
			requests++
			got += len(list)
			if len(list) < page {
				break
			}
		}
		out = append(out, fmt.Sprintf("resync reads of %d clients: realm listed in pages of %d: %s (%d requests)", got, page, time.Since(start).Round(time.Millisecond), requests))
	}
	return out, nil
}

// row is one line of the table.
type row struct {
	name      string
	wall      time.Duration
	latencies []time.Duration
	kcReqs    map[string]float64 // by operation
	k8sWrites float64
	rssPeak   int64   // KiB
	rssBase   int64   // KiB, before the run
	cpu       float64 // operator CPU seconds during the run (waves only)
	// cpuSplit is the CPU each process of the test bed used during the
	// run (create runs and baselines).
	cpuSplit string
	// applied is how long applying the baseline's AuthClients took, before
	// its clock started (baselines (b) and (c)).
	applied time.Duration
	n       int
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench-scale %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// parallel runs f(i) for i < count on workers goroutines; the first error wins.
func parallel(count, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// adminToken keeps one master-realm admin token and refreshes it before its
// 60 s life ends, as the operator does.
type adminToken struct {
	gc   *gocloak.GoCloak
	user string
	pass string
	mu   sync.Mutex
	tok  string
	at   time.Time
	n    atomic.Int64
}

func (a *adminToken) get(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != "" && time.Since(a.at) < 45*time.Second {
		return a.tok, nil
	}
	jwt, err := a.gc.LoginAdmin(ctx, a.user, a.pass, "master")
	if err != nil {
		return "", err
	}
	a.n.Add(1)
	a.tok, a.at = jwt.AccessToken, time.Now()
	return a.tok, nil
}

// keycloakMinimal creates one confidential client and reads its secret: the
// least any tool can do to hand out credentials.
func keycloakMinimal(ctx context.Context, gc *gocloak.GoCloak, tok *adminToken, realm, clientID string) (string, error) {
	t, err := tok.get(ctx)
	if err != nil {
		return "", err
	}
	id, err := gc.CreateClient(ctx, t, realm, gocloak.Client{
		ClientID: gocloak.StringP(clientID), Protocol: gocloak.StringP("openid-connect"),
		PublicClient: gocloak.BoolP(false), StandardFlowEnabled: gocloak.BoolP(true),
		RedirectURIs: []string{"https://" + clientID + ".example.com/callback"},
	})
	if err != nil {
		return "", err
	}
	cred, err := gc.GetClientSecret(ctx, t, realm, id)
	if err != nil {
		return "", err
	}
	return gocloak.PString(cred.Value), nil
}

func (b *bed) newRealm(ctx context.Context, tok *adminToken, gc *gocloak.GoCloak, realm string) error {
	t, err := tok.get(ctx)
	if err != nil {
		return err
	}
	_, err = gc.CreateRealm(ctx, t, gocloak.RealmRepresentation{Realm: gocloak.StringP(realm), Enabled: gocloak.BoolP(true)})
	return err
}

func (b *bed) dropRealm(ctx context.Context, tok *adminToken, gc *gocloak.GoCloak, realm string) {
	if t, err := tok.get(ctx); err == nil {
		_ = gc.DeleteRealm(ctx, t, realm)
	}
}

// baselineKeycloak is baseline (a): the minimal Keycloak sequence per
// client. With nautheraShape, (a'): the same two requests with the client
// Nauthera sends (its attributes, description and flags, from
// desired.GovernedClient) in a realm set up as Nauthera sets one up (admin
// events with details on), read back whole as the operator does: how much
// of the create ratio is what Keycloak is asked to do.
func (b *bed) baselineKeycloak(ctx context.Context, suffix string, nautheraShape bool) (row, error) {
	gc := gocloak.NewClient(b.kc.URL)
	tok := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	kind, name, read := "a", "baseline (a): Keycloak only, ", "client.secret.get"
	if nautheraShape {
		kind, name, read = "a2", "baseline (a'): Keycloak only, Nauthera's client and realm, ", "client.get"
	}
	realm := "baseline-" + kind + "-" + suffix
	if nautheraShape {
		// The realm as an AuthServer makes it: admin events with their
		// details, and login events, on (the audit trail).
		t, err := tok.get(ctx)
		if err != nil {
			return row{}, err
		}
		as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: realm, UID: "bench"}, Spec: authv1.AuthServerSpec{RealmName: realm, IssuerURL: "https://" + realm + ".example.com"}}
		if _, err := gc.CreateRealm(ctx, t, desired.Realm(as)); err != nil {
			return row{}, err
		}
	} else if err := b.newRealm(ctx, tok, gc, realm); err != nil {
		return row{}, err
	}
	defer b.dropRealm(ctx, tok, gc, realm)
	log("%s%d clients, create + read, %d workers", name, *n, *concurrency)
	lat := make([]time.Duration, *n)
	cpu0 := cpuSplit()
	start := time.Now()
	err := parallel(*n, *concurrency, func(i int) error {
		t0 := time.Now()
		var err error
		if nautheraShape {
			err = keycloakNautheraShape(ctx, gc, tok, realm, authClient("baseline", fmt.Sprintf("a2-%s-%d", suffix, i)))
		} else {
			_, err = keycloakMinimal(ctx, gc, tok, realm, fmt.Sprintf("a-%d", i))
		}
		lat[i] = time.Since(t0)
		return err
	})
	wall := time.Since(start)
	return row{name: name + suffix, wall: wall, latencies: lat, n: *n, cpuSplit: cpuSince(cpu0),
		kcReqs: map[string]float64{"client.create": float64(*n), read: float64(*n), "token.login": float64(tok.n.Load())}}, err
}

// keycloakNautheraShape creates the client the operator would create for
// ac (no policy, no requested scopes: the realm's defaults, as for the
// benchmark's AuthClients) and reads it back whole.
func keycloakNautheraShape(ctx context.Context, gc *gocloak.GoCloak, tok *adminToken, realm string, ac *authv1.AuthClient) error {
	t, err := tok.get(ctx)
	if err != nil {
		return err
	}
	ac.UID = types.UID(fmt.Sprintf("bench-%s", ac.Name))
	id, err := gc.CreateClient(ctx, t, realm, desired.GovernedClient(ac, policy.Effective{}, desired.RealmSessions{}))
	if err != nil {
		return err
	}
	_, err = gc.GetClient(ctx, t, realm, id)
	return err
}

// baselineWithKubernetes is baseline (b): the Keycloak sequence, the
// Secret and a status patch. With required, it is baseline (c): also the
// two writes Nauthera makes by design, the finalizer (before the Keycloak
// client exists, so that a deletion can never leak it) and the one Event
// per provisioning; the rest of the ratio is the operator itself.
func (b *bed) baselineWithKubernetes(ctx context.Context, suffix string, required bool) (row, error) {
	gc := gocloak.NewClient(b.kc.URL)
	tok := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	kind := "b"
	if required {
		kind = "c"
	}
	realm := "baseline-" + kind + "-" + suffix
	if err := b.newRealm(ctx, tok, gc, realm); err != nil {
		return row{}, err
	}
	defer b.dropRealm(ctx, tok, gc, realm)
	// The AuthClients exist before the clock starts (no operator runs yet,
	// so nothing reconciles them); the baseline writes what a minimal
	// operator must: the Secret and a status.
	log("baseline (%s): creating %d AuthClients to patch", kind, *n)
	objs := make([]*authv1.AuthClient, *n)
	applyCPU, applyStart := cpuSplit(), time.Now()
	if err := parallel(*n, *appliers, func(i int) error {
		objs[i] = authClient("baseline", fmt.Sprintf("%s-%s-%d", kind, suffix, i))
		return b.k8s.Create(ctx, objs[i])
	}); err != nil {
		return row{}, err
	}
	// Not in the baseline's time (the AuthClients exist before its clock
	// starts), but in Nauthera's: what applying them costs.
	applied := time.Since(applyStart)
	log("baseline (%s): the AuthClients applied (before the clock) in %s, CPU used: %s", kind, applied.Round(time.Millisecond), cpuSince(applyCPU))
	defer func() {
		if required {
			// The finalizers go first, or the AuthClients would stay.
			_ = parallel(*n, *appliers, func(i int) error {
				patch := client.MergeFrom(objs[i].DeepCopy())
				objs[i].Finalizers = nil
				return b.k8s.Patch(ctx, objs[i], patch)
			})
		}
		_ = b.k8s.DeleteAllOf(ctx, &authv1.AuthClient{}, client.InNamespace("baseline"))
		_ = b.k8s.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace("baseline"))
	}()
	log("baseline (%s): %d clients, create + secret read + Secret create + status patch, %d workers", kind, *n, *concurrency)
	lat := make([]time.Duration, *n)
	cpu0 := cpuSplit()
	start := time.Now()
	err := parallel(*n, *concurrency, func(i int) error {
		t0 := time.Now()
		ac := objs[i]
		if required {
			patch := client.MergeFrom(ac.DeepCopy())
			ac.Finalizers = append(ac.Finalizers, "baseline.example.com/finalizer")
			if err := b.k8s.Patch(ctx, ac, patch); err != nil {
				return err
			}
		}
		secret, err := keycloakMinimal(ctx, gc, tok, realm, "baseline."+ac.Name)
		if err != nil {
			return err
		}
		if err := b.k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ac.Namespace, Name: ac.Name + "-client-secret"},
			StringData: map[string]string{"client_id": "baseline." + ac.Name, "client_secret": secret},
		}); err != nil {
			return err
		}
		patch := client.MergeFrom(ac.DeepCopy())
		meta.SetStatusCondition(&ac.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "ClientProvisioned", Message: "baseline"})
		ac.Status.ClientID = "baseline." + ac.Name
		if err := b.k8s.Status().Patch(ctx, ac, patch); err != nil {
			return err
		}
		if required {
			if err := b.k8s.Create(ctx, &eventsv1.Event{
				ObjectMeta:          metav1.ObjectMeta{Namespace: ac.Namespace, Name: fmt.Sprintf("%s.%x", ac.Name, time.Now().UnixNano())},
				EventTime:           metav1.NowMicro(),
				ReportingController: "baseline.example.com/bench", ReportingInstance: "bench",
				Action: "Provision", Reason: "ClientProvisioned", Type: corev1.EventTypeNormal, Note: "baseline",
				Regarding: corev1.ObjectReference{APIVersion: authv1.GroupVersion.String(), Kind: "AuthClient", Namespace: ac.Namespace, Name: ac.Name, UID: ac.UID},
			}); err != nil {
				return err
			}
		}
		lat[i] = time.Since(t0)
		return nil
	})
	wall := time.Since(start)
	name, writes := "baseline (b): + Secret and status, "+suffix, 2.0
	if required {
		name, writes = "baseline (c): + finalizer and Event, "+suffix, 4.0
	}
	return row{name: name, wall: wall, latencies: lat, n: *n, k8sWrites: writes * float64(*n), cpuSplit: cpuSince(cpu0), applied: applied,
		kcReqs: map[string]float64{"client.create": float64(*n), "client.secret.get": float64(*n), "token.login": float64(tok.n.Load())}}, err
}

func authClient(ns, name string) *authv1.AuthClient {
	return &authv1.AuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: authv1.AuthClientSpec{
			AuthServerRef: authv1.ObjectReference{Name: "scale", Namespace: "security"},
			RedirectURIs:  []string{"https://" + name + ".example.com/callback"},
		},
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func (b *bed) startOperator(extra ...string) error {
	probes, err := freePort()
	if err != nil {
		return err
	}
	metrics, err := freePort()
	if err != nil {
		return err
	}
	b.metrics, b.probes = "http://127.0.0.1:"+metrics+"/metrics", "http://127.0.0.1:"+probes+"/readyz"
	args := []string{"--keycloak-url=" + b.kc.URL, "--keycloak-admin-secret=nauthera-system/keycloak-admin",
		"--log-format=json", "--log-level=error",
		"--health-probe-bind-address=127.0.0.1:" + probes, "--metrics-bind-address=127.0.0.1:" + metrics}
	args = append(args, extra...)
	wargs, err := b.installWebhooks(context.Background()) // -webhooks (webhooks.go)
	if err != nil {
		return err
	}
	args = append(args, wargs...)
	pargs, err := b.profileArgs() // -profile (profile.go)
	if err != nil {
		return err
	}
	args = append(args, pargs...)
	args = append(args, strings.Fields(*opArgs)...)
	logFile := filepath.Join(testbed.RepoRoot(), "bin", "bench-scale-operator.log")
	if b.op, err = testbed.StartOperator(b.cluster, logFile, args...); err != nil {
		return err
	}
	return until(60*time.Second, "the operator to be ready", func() error {
		resp, err := http.Get(b.probes)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
}

func until(timeout time.Duration, what string, f func() error) error {
	return untilEvery(timeout, 100*time.Millisecond, what, f)
}

// untilEvery is until with its own polling period: polling the operator's
// /metrics runs its status collector over every AuthClient, so the waves
// poll it slowly, not to slow down what they measure.
func untilEvery(timeout, every time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		time.Sleep(every)
	}
}

// idle waits until the operator's AuthClient controller has nothing queued
// and no reconcile running (controller-runtime's workqueue_depth and
// controller_runtime_active_workers), so the writes of a reconcile still
// running after its AuthClient turned Ready are in the counters read next.
// Events are sent from the recorder's own goroutine, which no gauge
// covers; a first provisioning emits none. A depth series appears at the
// first enqueue (none yet: nothing queued); the workers gauge is set at
// the controller's start, so its absence means a metric name is wrong.
func (b *bed) idle() error {
	return untilEvery(time.Minute, 250*time.Millisecond, "the operator to be idle", func() error {
		fams, err := b.scrape()
		if err != nil {
			return err
		}
		if fams["controller_runtime_active_workers"] == nil {
			return fmt.Errorf("no controller_runtime_active_workers in the operator's metrics")
		}
		for _, g := range []struct{ family, label string }{
			{"workqueue_depth", "name"}, {"controller_runtime_active_workers", "controller"},
		} {
			for _, m := range fams[g.family].GetMetric() {
				if label(m, g.label) == "authclient" && m.GetGauge().GetValue() > 0 {
					return fmt.Errorf("%s %v", g.family, m.GetGauge().GetValue())
				}
			}
		}
		return nil
	})
}

// authServers creates the AuthServer "scale" the clients use, and
// -servers minus one more, and waits until all are Ready.
func (b *bed) authServers(ctx context.Context) error {
	start := time.Now()
	for i := 0; i < max(1, *servers); i++ {
		name := "scale"
		if i > 0 {
			name = fmt.Sprintf("extra-%d", i)
		}
		as := &authv1.AuthServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: name},
			Spec:       authv1.AuthServerSpec{IssuerURL: "https://" + name + ".example.com", DeletionPolicy: authv1.DeletionPolicyDelete},
		}
		if err := b.k8s.Create(ctx, as); err != nil {
			return err
		}
	}
	err := until(time.Duration(max(1, *servers))*10*time.Second+time.Minute, "every AuthServer to be Ready", func() error {
		var list authv1.AuthServerList
		if err := b.k8s.List(ctx, &list, client.InNamespace("security")); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, authv1.ReadyCondition) {
				ready++
			}
		}
		if ready < max(1, *servers) {
			return fmt.Errorf("%d of %d Ready", ready, max(1, *servers))
		}
		return nil
	})
	log("%d AuthServers (realms) Ready in %s", max(1, *servers), time.Since(start).Round(time.Millisecond))
	return err
}

// warmUp creates and drops -warmup clients in a throwaway realm: a fresh
// Keycloak is several times slower until its JIT has compiled the hot
// paths, which would favour whichever run comes last.
func (b *bed) warmUp(ctx context.Context) error {
	gc := gocloak.NewClient(b.kc.URL)
	tok := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	if err := b.newRealm(ctx, tok, gc, "warm-up"); err != nil {
		return err
	}
	defer b.dropRealm(ctx, tok, gc, "warm-up")
	start := time.Now()
	err := parallel(*warmup, *concurrency, func(i int) error {
		_, err := keycloakMinimal(ctx, gc, tok, "warm-up", fmt.Sprintf("w-%d", i))
		return err
	})
	log("warm-up: %d clients in %s", *warmup, time.Since(start).Round(time.Millisecond))
	return err
}

// scrape reads the operator's metrics.
func (b *bed) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(b.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// counters sums what the operator counted so far: Keycloak requests by
// operation, Kubernetes writes, and AuthClient reconciles.
type counters struct {
	kc         map[string]float64
	kcVerb     map[string]float64 // Keycloak requests by HTTP method
	kcSeconds  map[string]float64 // Keycloak request time by operation (histogram sums)
	kcTimed    map[string]float64 // Keycloak requests timed by operation (histogram counts)
	writes     float64
	reconciles float64
}

func (b *bed) counters() (counters, error) {
	fams, err := b.scrape()
	if err != nil {
		return counters{}, err
	}
	c := newCounters()
	if f := fams["nauthera_keycloak_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			c.kc[label(m, "operation")] += m.GetCounter().GetValue()
			c.kcVerb[label(m, "method")] += m.GetCounter().GetValue()
		}
	}
	if f := fams["nauthera_keycloak_request_duration_seconds"]; f != nil {
		for _, m := range f.GetMetric() {
			c.kcSeconds[label(m, "operation")] += m.GetHistogram().GetSampleSum()
			c.kcTimed[label(m, "operation")] += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if f := fams["rest_client_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			switch label(m, "method") {
			case "POST", "PUT", "PATCH", "DELETE":
				c.writes += m.GetCounter().GetValue()
			}
		}
	}
	if f := fams["controller_runtime_reconcile_total"]; f != nil {
		for _, m := range f.GetMetric() {
			if label(m, "controller") == "authclient" {
				c.reconciles += m.GetCounter().GetValue()
			}
		}
	}
	return c, nil
}

func newCounters() counters {
	return counters{kc: map[string]float64{}, kcVerb: map[string]float64{}, kcSeconds: map[string]float64{}, kcTimed: map[string]float64{}}
}

func (c counters) minus(o counters) counters {
	out := newCounters()
	out.writes, out.reconciles = c.writes-o.writes, c.reconciles-o.reconciles
	for _, m := range []struct{ dst, a, b map[string]float64 }{
		{out.kc, c.kc, o.kc}, {out.kcVerb, c.kcVerb, o.kcVerb}, {out.kcSeconds, c.kcSeconds, o.kcSeconds}, {out.kcTimed, c.kcTimed, o.kcTimed},
	} {
		for k, v := range m.a {
			if d := v - m.b[k]; d > 0 {
				m.dst[k] = d
			}
		}
	}
	return out
}

// rss returns the operator's current and peak resident memory (KiB).
func (b *bed) rss() (cur, peak int64) { return memory(b.op.PID()) }

func (b *bed) createRun(ctx context.Context) (row, error) {
	var mu sync.Mutex
	created := map[string]time.Time{}
	allReady := make(chan struct{})
	ready, stopWatch, err := b.watchReady(ctx, "scale", &authv1.AuthClient{}, func(count int) {
		if count == *n {
			close(allReady)
		}
	})
	if err != nil {
		return row{}, err
	}
	defer stopWatch()
	before, err := b.counters()
	if err != nil {
		return row{}, err
	}
	timesBefore, err := b.timings()
	if err != nil {
		return row{}, err
	}
	rssBase, _ := b.rss()
	cpu0 := cpuSplit()
	log("Nauthera: applying %d AuthClients with %d writers", *n, *appliers)
	start := time.Now()
	profiled := b.startProfiles(ctx) // -profile (profile.go)
	ended := false
	defer func() { profiled(ended) }()
	if err := parallel(*n, *appliers, func(i int) error {
		ac := authClient("scale", fmt.Sprintf("app-%d", i))
		if err := b.k8s.Create(ctx, ac); err != nil {
			return err
		}
		mu.Lock()
		created[ac.Name] = time.Now()
		mu.Unlock()
		return nil
	}); err != nil {
		return row{}, err
	}
	applied := time.Since(start)
	log("Nauthera: applied in %s; waiting for all to be Ready", applied.Round(time.Millisecond))
	select {
	case <-allReady:
	case <-time.After(30 * time.Minute):
		return row{}, fmt.Errorf("only %d of %d AuthClients Ready after 30 minutes", ready.count.Load(), *n)
	}
	wall := time.Since(start)
	cpu := cpuSince(cpu0)
	ended = true
	var secrets corev1.SecretList
	if err := b.k8s.List(ctx, &secrets, client.InNamespace("scale")); err != nil {
		return row{}, err
	}
	withSecret := 0
	for _, s := range secrets.Items {
		if len(s.Data["client_secret"]) > 0 {
			withSecret++
		}
	}
	if withSecret < *n {
		return row{}, fmt.Errorf("%d AuthClients Ready but only %d Secrets hold a client_secret", *n, withSecret)
	}
	if err := b.idle(); err != nil { // the counters include the last reconciles' writes
		log("Nauthera: %v; its counters may miss the last writes", err) // the run is measured: keep it
	}
	after, err := b.counters()
	if err != nil {
		return row{}, err
	}
	_, peak := b.rss()
	d := after.minus(before)
	mu.Lock()
	lat := ready.since(created)
	mu.Unlock()
	log("Nauthera: %d Ready with Secrets in %s (%d reconciles)", *n, wall.Round(time.Millisecond), int(d.reconciles))
	if timesAfter, err := b.timings(); err == nil {
		log("Nauthera: where the create time went (operator's histograms, count x mean): %s", timesAfter.minus(timesBefore))
	}
	return row{name: "Nauthera: create", wall: wall, latencies: lat, kcReqs: d.kc, cpuSplit: cpu, k8sWrites: d.writes, rssPeak: peak, rssBase: rssBase, n: *n}, nil
}

// restartAndResync restarts the operator (with a short resync), times the
// start-up wave (every AuthClient reconciled once) and then one resync wave.
func (b *bed) restartAndResync(_ context.Context) (row, row, error) {
	if !b.stopped {
		if err := b.op.Stop(); err != nil {
			return row{}, row{}, err
		}
	}
	b.stopped = false
	const resync = 45 * time.Second
	start := time.Now()
	if err := b.startOperator("--resync-interval=" + resync.String()); err != nil {
		return row{}, row{}, err
	}
	wave := func(name string, target float64, from time.Time, base counters, baseCPU float64) (row, error) {
		var c counters
		err := untilEvery(30*time.Minute, 250*time.Millisecond, name, func() error {
			var err error
			if c, err = b.counters(); err != nil {
				return err
			}
			if c.reconciles < target {
				return fmt.Errorf("%.0f of %.0f reconciles", c.reconciles, target)
			}
			return nil
		})
		if err != nil {
			return row{}, err
		}
		_, peak := b.rss()
		d := c.minus(base)
		log("%s: %d reconciles in %s", name, int(d.reconciles), time.Since(from).Round(time.Millisecond))
		return row{name: name, wall: time.Since(from), kcReqs: d.kc, k8sWrites: d.writes, rssPeak: peak, cpu: cpuSeconds(b.op.PID()) - baseCPU, n: *n}, nil
	}
	restart, err := wave("Nauthera: restart", float64(*n), start, newCounters(), 0)
	if err != nil {
		return row{}, row{}, err
	}
	// The resync wave starts one resync interval (plus up to 10% jitter)
	// after each client's start-up reconcile.
	base, err := b.counters()
	if err != nil {
		return row{}, row{}, err
	}
	baseCPU := cpuSeconds(b.op.PID())
	for {
		c, err := b.counters()
		if err != nil {
			return row{}, row{}, err
		}
		if c.reconciles > base.reconciles {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	resyncStart := time.Now()
	resynced, err := wave("Nauthera: resync wave", base.reconciles+float64(*n), resyncStart, base, baseCPU)
	return restart, resynced, err
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func report(rows []row) {
	host, _ := os.Hostname()
	fmt.Printf("\nbench-scale: N=%d AuthClients, %d AuthServers, baseline workers %d, operator flags %q; %d CPUs, %s/%s, host %s, %s\n\n",
		*n, max(1, *servers), *concurrency, *opArgs, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, host, time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\twall\tclients/s\tp50\tp90\tp99\tKeycloak req/client\tK8s writes/client\tpeak RSS\t")
	var a, a2, bb, cc []*row
	var create *row
	for i := range rows {
		r := &rows[i]
		switch {
		case strings.HasPrefix(r.name, "baseline (a)"):
			a = append(a, r)
		case strings.HasPrefix(r.name, "baseline (a')"):
			a2 = append(a2, r)
		case strings.HasPrefix(r.name, "baseline (b)"):
			bb = append(bb, r)
		case strings.HasPrefix(r.name, "baseline (c)"):
			cc = append(cc, r)
		case r.name == "Nauthera: create":
			create = r
		}
		lat := func(p float64) string {
			if len(r.latencies) == 0 {
				return "-"
			}
			return pct(r.latencies, p).Round(time.Millisecond).String()
		}
		rss := "-"
		if r.rssPeak > 0 {
			rss = fmt.Sprintf("%d MiB", r.rssPeak/1024)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.2f\t%s\t\n", r.name, r.wall.Round(10*time.Millisecond),
			float64(r.n)/r.wall.Seconds(), lat(.5), lat(.9), lat(.99), perClient(r.kcReqs, r.n), r.k8sWrites/float64(r.n), rss)
	}
	_ = tw.Flush()
	if create != nil {
		fmt.Println()
		// meanOf is the mean over rs of the time each row gives; mean, of
		// their wall times.
		meanOf := func(rs []*row, time func(*row) float64) float64 {
			sum := 0.0
			for _, r := range rs {
				sum += time(r)
			}
			return sum / float64(len(rs))
		}
		mean := func(rs []*row) float64 { return meanOf(rs, func(r *row) float64 { return r.wall.Seconds() }) }
		if len(a) > 0 {
			fmt.Printf("ratio Nauthera / baseline (a): %.2fx (mean of the baseline runs before and after: %.2fs)\n", create.wall.Seconds()/mean(a), mean(a))
		}
		if len(a) > 0 && len(a2) > 0 {
			fmt.Printf("Keycloak's cost of Nauthera's client: baseline (a') / (a) %.2fx (%.2fs against %.2fs)\n", mean(a2)/mean(a), mean(a2), mean(a))
		}
		if len(bb) > 0 {
			fmt.Printf("ratio Nauthera / baseline (b): %.2fx (mean of the baseline runs before and after: %.2fs)\n", create.wall.Seconds()/mean(bb), mean(bb))
		}
		if len(cc) > 0 {
			fmt.Printf("ratio Nauthera / baseline (c): %.2fx (mean of the baseline runs before and after: %.2fs)\n", create.wall.Seconds()/mean(cc), mean(cc))
		}
		// Nauthera's wall includes applying its AuthClients (through the
		// admission webhooks); the baselines' does not. Shown apart, not in
		// the ratios above.
		withApply := func(rs []*row) float64 {
			return meanOf(rs, func(r *row) float64 { return (r.wall + r.applied).Seconds() })
		}
		if len(bb) > 0 && len(cc) > 0 {
			fmt.Printf("the same with each baseline's own apply of its AuthClients added to its time (as Nauthera's includes its apply): (b) %.2fx, (c) %.2fx\n",
				create.wall.Seconds()/withApply(bb), create.wall.Seconds()/withApply(cc))
		}
		if create.rssPeak > 0 && create.rssBase > 0 {
			fmt.Printf("operator memory: %d MiB before the run, %d MiB peak: %.1f KiB per AuthClient\n",
				create.rssBase/1024, create.rssPeak/1024, float64(create.rssPeak-create.rssBase)/float64(create.n))
		}
	}
	fmt.Println()
	for _, r := range rows {
		fmt.Printf("%s: Keycloak requests by operation: %s\n", r.name, byOperation(r.kcReqs))
	}
	fmt.Println()
	for _, r := range rows {
		if r.cpuSplit != "" {
			fmt.Printf("%s: CPU used: %s\n", r.name, r.cpuSplit)
		}
	}
}

// perClient is the Keycloak requests per client, admin logins left out
// (they are per process, not per client).
func perClient(reqs map[string]float64, n int) string {
	total := 0.0
	for op, v := range reqs {
		if !strings.HasPrefix(op, "token.") {
			total += v
		}
	}
	return fmt.Sprintf("%.2f", total/float64(n))
}

func byOperation(reqs map[string]float64) string {
	ops := make([]string, 0, len(reqs))
	for op := range reqs {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %.0f", op, reqs[op]))
	}
	return strings.Join(parts, ", ")
}

// timings are the operator's latency histograms that say where a create
// run's time goes, as count and sum by series: its Keycloak requests by
// operation, the AuthClient work queue (waiting, and reconciling) and the
// admission webhooks by path.
type timings map[string][2]float64

func (b *bed) timings() (timings, error) {
	fams, err := b.scrape()
	if err != nil {
		return nil, err
	}
	out := timings{}
	add := func(family, prefix string, match func(*dto.Metric) bool, key func(*dto.Metric) string) {
		f := fams[family]
		if f == nil {
			return
		}
		for _, m := range f.GetMetric() {
			if match != nil && !match(m) {
				continue
			}
			k := prefix + key(m)
			v := out[k]
			v[0] += float64(m.GetHistogram().GetSampleCount())
			v[1] += m.GetHistogram().GetSampleSum()
			out[k] = v
		}
	}
	authclient := func(m *dto.Metric) bool {
		return label(m, "name") == "authclient" || label(m, "controller") == "authclient"
	}
	add("nauthera_keycloak_request_duration_seconds", "keycloak ", nil, func(m *dto.Metric) string { return label(m, "operation") })
	add("workqueue_queue_duration_seconds", "", authclient, func(*dto.Metric) string { return "queued" })
	add("workqueue_work_duration_seconds", "", authclient, func(*dto.Metric) string { return "reconcile" })
	add("controller_runtime_webhook_latency_seconds", "webhook ", nil, func(m *dto.Metric) string { return label(m, "webhook") })
	return out, nil
}

func (t timings) minus(o timings) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		count, sum := t[k][0]-o[k][0], t[k][1]-o[k][1]
		if count < 1 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f x %s", k, count, time.Duration(sum/count*float64(time.Second)).Round(100*time.Microsecond)))
	}
	return strings.Join(parts, "; ")
}
