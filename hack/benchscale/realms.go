package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Many realms (issue 25): -realms-scale 1,10,100,300,1000 grows the estate
// in steps to R realms (AuthServers) with -realm-clients AuthClients each.
// Per step it times the new realms until Ready and then their clients until
// Ready, and reads Keycloak's own latency at that realm count two ways: the
// operator's request histograms over the step, and one realm and one client
// created directly (timed by the benchmark, then deleted). Comparing
// Keycloak's time with the operator's wall time says which one bends.

var (
	realmsScale   = flag.String("realms-scale", "", "Realm counts to grow to, in steps (e.g. 1,10,100,300,1000), each realm an AuthServer with -realm-clients AuthClients; replaces the N-clients runs")
	realmClients  = flag.Int("realm-clients", 10, "AuthClients per realm in -realms-scale")
	realmsTimeout = flag.Duration("realms-timeout", 90*time.Minute, "Give up -realms-scale after this long in all, and report the steps done")
)

const realmsNS = "realms"

type realmStep struct {
	realms, newRealms, newClients int
	realmWall, clientWall         time.Duration
	realmsReady, clientsReady     int
	d                             counters // the operator's counters over the step
	directRealm, directClient     time.Duration
	opCPU                         float64
	opRSS, opPeak, kcRSS          int64
}

// waitCount waits until c reaches target or the deadline passes.
func waitCount(c *readyCounter, target int, deadline time.Time) (int, error) {
	err := untilEvery(time.Until(deadline), 200*time.Millisecond, "Ready objects", func() error {
		if got := int(c.count.Load()); got < target {
			return fmt.Errorf("%d of %d Ready", got, target)
		}
		return nil
	})
	return int(c.count.Load()), err
}

func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || (len(out) > 0 && v <= out[len(out)-1]) {
			return nil, fmt.Errorf("-realms-scale %q: want increasing positive counts, as 1,10,100", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// realmsMode runs the steps and prints their table.
func (b *bed) realmsMode(ctx context.Context) error {
	steps, err := parseSteps(*realmsScale)
	if err != nil {
		return err
	}
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: realmsNS}}); err != nil {
		return err
	}
	if err := b.startOperator("--resync-interval=24h"); err != nil {
		return err
	}
	defer func() { _ = b.op.Stop() }()
	servers, stopS, err := b.watchReady(ctx, realmsNS, &authv1.AuthServer{}, nil)
	if err != nil {
		return err
	}
	defer stopS()
	clients, stopC, err := b.watchReady(ctx, realmsNS, &authv1.AuthClient{}, nil)
	if err != nil {
		return err
	}
	defer stopC()
	deadline := time.Now().Add(*realmsTimeout)
	var done []realmStep
	prev := 0
	for _, r := range steps {
		st, err := b.realmStep(ctx, prev, r, servers, clients, deadline)
		done = append(done, st)
		if err != nil {
			log("realms: stopped at the step to %d realms: %v", r, err)
			break
		}
		prev = r
	}
	realmsReport(done)
	return nil
}

// realmStep grows the estate from prev to r realms.
func (b *bed) realmStep(ctx context.Context, prev, r int, servers, clients *readyCounter, deadline time.Time) (realmStep, error) {
	st := realmStep{realms: r, newRealms: r - prev, newClients: (r - prev) * *realmClients}
	base, err := b.counters()
	if err != nil {
		return st, err
	}
	cpu0 := cpuSeconds(b.op.PID())
	log("realms: %d -> %d realms", prev, r)
	start := time.Now()
	if err := parallel(r-prev, *appliers, func(i int) error {
		name := fmt.Sprintf("realm-%d", prev+i)
		return b.k8s.Create(ctx, &authv1.AuthServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: realmsNS, Name: name},
			Spec:       authv1.AuthServerSpec{IssuerURL: "https://" + name + ".example.com", DeletionPolicy: authv1.DeletionPolicyDelete},
		})
	}); err != nil {
		return st, err
	}
	st.realmsReady, err = waitCount(servers, r, deadline)
	st.realmWall = time.Since(start)
	if err != nil {
		return b.finishStep(st, base, cpu0), err
	}
	start = time.Now()
	if err := parallel(st.newClients, *appliers, func(i int) error {
		realm := prev + i / *realmClients
		ac := authClient(realmsNS, fmt.Sprintf("r%d-c%d", realm, i%*realmClients))
		ac.Spec.AuthServerRef = authv1.ObjectReference{Name: fmt.Sprintf("realm-%d", realm), Namespace: realmsNS}
		return b.k8s.Create(ctx, ac)
	}); err != nil {
		return st, err
	}
	st.clientsReady, err = waitCount(clients, r**realmClients, deadline)
	st.clientWall = time.Since(start)
	st = b.finishStep(st, base, cpu0)
	if err != nil {
		return st, err
	}
	st.directRealm, st.directClient, err = b.directCalls(ctx, r)
	log("realms: %d realms: %s per realm, %s per client", r, per(st.realmWall, st.newRealms), per(st.clientWall, st.newClients))
	return st, err
}

func (b *bed) finishStep(st realmStep, base counters, cpu0 float64) realmStep {
	if c, err := b.counters(); err == nil {
		st.d = c.minus(base)
	}
	st.opCPU = cpuSeconds(b.op.PID()) - cpu0
	st.opRSS, st.opPeak = b.rss()
	st.kcRSS = b.keycloakRSS()
	return st
}

// directCalls times one realm creation and one client creation at this
// realm count, made by the benchmark itself (then deleted).
func (b *bed) directCalls(ctx context.Context, r int) (time.Duration, time.Duration, error) {
	gc := gocloak.NewClient(b.kc.URL)
	tok := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	t, err := tok.get(ctx)
	if err != nil {
		return 0, 0, err
	}
	probe := fmt.Sprintf("probe-%d", r)
	t0 := time.Now()
	if _, err := gc.CreateRealm(ctx, t, gocloak.RealmRepresentation{Realm: gocloak.StringP(probe), Enabled: gocloak.BoolP(true)}); err != nil {
		return 0, 0, err
	}
	realm := time.Since(t0)
	_ = gc.DeleteRealm(ctx, t, probe)
	t0 = time.Now()
	id, err := gc.CreateClient(ctx, t, "realm-0", gocloak.Client{ClientID: gocloak.StringP(probe), Protocol: gocloak.StringP("openid-connect")})
	if err != nil {
		return realm, 0, err
	}
	cl := time.Since(t0)
	_ = gc.DeleteClient(ctx, t, "realm-0", id)
	return realm, cl, nil
}

func per(d time.Duration, count int) string {
	if count == 0 {
		return "-"
	}
	return (d / time.Duration(count)).Round(100 * time.Microsecond).String()
}

// meanLatency is the mean latency of one operation over the step, from the
// operator's histograms.
func meanLatency(d counters, op string) string {
	if d.kcTimed[op] == 0 {
		return "-"
	}
	return time.Duration(d.kcSeconds[op] / d.kcTimed[op] * float64(time.Second)).Round(100 * time.Microsecond).String()
}

func realmsReport(steps []realmStep) {
	fmt.Printf("\nbench-scale -realms-scale %s: %d AuthClients per realm, operator flags %q, %s\n\n", *realmsScale, *realmClients, *opArgs, time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "realms\tnew realms Ready\tper realm\tnew clients Ready\tper client\trealm.create (operator mean / direct)\tclient.create (operator mean / direct)\tKeycloak busy\top CPU s\top RSS / peak\tKeycloak RSS\t")
	for _, s := range steps {
		// Keycloak busy: the operator's summed request time over the step's
		// wall time; near --keycloak-max-inflight (8) means the operator
		// waits on Keycloak, far below means the time goes elsewhere.
		busy := total(s.d.kcSeconds, false) / (s.realmWall + s.clientWall).Seconds()
		// A step cut short by -realms-timeout counts what became Ready.
		realms, clients := s.realmsReady-(s.realms-s.newRealms), max(0, s.clientsReady-(s.realms-s.newRealms)**realmClients)
		fmt.Fprintf(tw, "%d\t%d of %d in %s\t%s\t%d of %d in %s\t%s\t%s / %s\t%s / %s\t%.2f in flight\t%.1f\t%s / %s\t%s\t\n",
			s.realms, realms, s.newRealms, s.realmWall.Round(10*time.Millisecond), per(s.realmWall, realms),
			clients, s.newClients, s.clientWall.Round(10*time.Millisecond), per(s.clientWall, clients),
			meanLatency(s.d, "realm.create"), s.directRealm.Round(100*time.Microsecond), meanLatency(s.d, "client.create"), s.directClient.Round(100*time.Microsecond),
			busy, s.opCPU, mib(s.opRSS), mib(s.opPeak), mib(s.kcRSS))
	}
	_ = tw.Flush()
	fmt.Println()
	for _, s := range steps {
		ops := make([]string, 0, len(s.d.kcTimed))
		for op := range s.d.kcTimed {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		parts := make([]string, 0, len(ops))
		for _, op := range ops {
			parts = append(parts, fmt.Sprintf("%s %.0f x %s", op, s.d.kcTimed[op], meanLatency(s.d, op)))
		}
		fmt.Printf("step to %d realms: Keycloak requests by operation (count x mean latency): %s\n", s.realms, strings.Join(parts, ", "))
	}
}
