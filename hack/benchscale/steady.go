package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nauthera/nauthera/internal/testbed"
)

// Steady state (issue 25): after the create, restart and resync runs, the
// operator runs for -steady with the resync interval it has in production
// (-steady-resync, 24h by default), and the benchmark counts what the
// window costs: Keycloak requests (the operator's own counters), operator
// CPU (/proc/<pid>/stat) and peak RSS (VmHWM). A day is compressed
// honestly: what runs every few seconds (drift polls, at the operator's own
// --drift-interval) is measured directly over the window and scaled to an
// hour; the full resync wave, measured once above, is spread over its
// interval.

var (
	steady       = flag.Duration("steady", 0, "After the create, restart and resync runs, run the operator in steady state this long and report Keycloak requests, CPU and memory per hour (0: no steady run)")
	steadyResync = flag.Duration("steady-resync", 24*time.Hour, "--resync-interval of the operator during the steady window (the default resync interval after issue 25)")
	driftEvery   = flag.Duration("drift-interval", 10*time.Second, "The operator's --drift-interval, passed when the operator has that flag (drift detection from admin events)")
)

// beforeResync is the resync interval before issue 25: the "before" figure.
const beforeResync = 10 * time.Minute

// operatorFlags is the help text of bin/nauthera, to tell which flags this
// build of the operator has.
func operatorFlags() (string, error) {
	out, err := exec.Command(filepath.Join(testbed.RepoRoot(), "bin", "nauthera"), "-h").CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) { // -h exits non-zero; only a failure to run counts
		return "", err
	}
	return string(out), nil
}

func hasFlag(help, name string) bool {
	return strings.Contains(help, "-"+name+" ") || strings.Contains(help, "-"+name+"\n") || strings.Contains(help, "-"+name+"=")
}

// checkOperatorArgs refuses -operator-args that this operator build does
// not know, before anything starts: the operator would exit at start-up
// and the benchmark would only see it never become ready.
func checkOperatorArgs(help string) error {
	for _, arg := range strings.Fields(*opArgs) {
		name := strings.TrimLeft(strings.SplitN(arg, "=", 2)[0], "-")
		if strings.HasPrefix(arg, "-") && !hasFlag(help, name) {
			return fmt.Errorf("-operator-args: this operator build (bin/nauthera) has no flag --%s (not merged yet? run make build)", name)
		}
	}
	return nil
}

// steadyResult is what the steady window measured.
type steadyResult struct {
	window  time.Duration
	d       counters
	cpu     float64 // operator CPU seconds in the window
	rssPeak int64   // KiB, the process's peak since its start
	rssCur  int64
	drift   bool // the operator polls admin events (--drift-interval)
	edits   []editResult
	polls   int64 // the benchmark's own revert polls, not the operator's
}

// steadyRun restarts the operator with the production resync interval,
// waits for its start-up wave, then measures the window.
func (b *bed) steadyRun(ctx context.Context) (steadyResult, error) {
	res := steadyResult{window: *steady, drift: hasFlag(b.flags, "drift-interval")}
	args := []string{"--resync-interval=" + steadyResync.String()}
	if res.drift {
		args = append(args, "--drift-interval="+driftEvery.String())
	}
	if !b.stopped {
		if err := b.op.Stop(); err != nil {
			return res, err
		}
	}
	if err := b.startOperator(args...); err != nil {
		return res, err
	}
	b.stopped = false
	log("steady: operator restarted with %s; waiting for its start-up wave", strings.Join(args, " "))
	if err := b.waitReconciles(float64(*n)); err != nil {
		return res, err
	}
	var console *consoleEditor
	if *driftEdits > 0 {
		var err error
		if console, err = b.newConsoleEditor(ctx); err != nil {
			return res, fmt.Errorf("console admin: %w", err)
		}
	}
	base, err := b.counters()
	if err != nil {
		return res, err
	}
	cpu0 := cpuSeconds(b.op.PID())
	log("steady: measuring for %s (%d console edits)", *steady, *driftEdits)
	edits := make(chan []editResult, 1)
	if console != nil {
		go func() { edits <- console.run(ctx, *driftEdits, *steady) }()
	}
	time.Sleep(*steady) // the measurement window itself, not a wait for something
	end, err := b.counters()
	if err != nil {
		return res, err
	}
	res.d, res.cpu = end.minus(base), cpuSeconds(b.op.PID())-cpu0
	res.rssCur, res.rssPeak = b.rss()
	if console != nil {
		log("steady: window over; waiting for the console edits to be reverted (at most %s each)", *driftTimeout)
		res.edits = <-edits
		res.polls = console.polls.Load()
	}
	return res, nil
}

// waitReconciles waits until the operator counted target AuthClient reconciles.
func (b *bed) waitReconciles(target float64) error {
	return untilEvery(30*time.Minute, time.Second, "the start-up wave", func() error {
		c, err := b.counters()
		if err != nil {
			return err
		}
		if c.reconciles < target {
			return fmt.Errorf("%.0f of %.0f reconciles", c.reconciles, target)
		}
		return nil
	})
}

func total(m map[string]float64, skipTokens bool) float64 {
	sum := 0.0
	for k, v := range m {
		if !skipTokens || !strings.HasPrefix(k, "token.") {
			sum += v
		}
	}
	return sum
}

// steadyReport prints the per-hour figures, with the formula and its
// figures, and the figure before issue 25.
func steadyReport(res steadyResult, wave row) []string {
	h := res.window.Hours()
	perHour := total(res.d.kc, false) / h
	waveReqs := total(wave.kcReqs, false)
	perResync := time.Hour.Hours() / steadyResync.Hours()
	if *steadyResync <= res.window {
		// The window holds its own resync waves: adding the wave term
		// would count them twice.
		perResync = 0
	}
	drift := fmt.Sprintf("drift detection from admin events: yes, --drift-interval=%s", *driftEvery)
	if !res.drift {
		drift = "drift detection from admin events: not in this operator build (no --drift-interval): the window holds only what runs besides the resync"
	}
	out := []string{"",
		fmt.Sprintf("steady state, N=%d, window %s, --resync-interval=%s; %s", *n, res.window, *steadyResync, drift),
		fmt.Sprintf("  window: Keycloak requests %.0f (by operation: %s; by verb: %s), K8s writes %.0f, reconciles %.0f",
			total(res.d.kc, false), byOperation(res.d.kc), byOperation(res.d.kcVerb), res.d.writes, res.d.reconciles),
		fmt.Sprintf("  resync wave (measured above): %.0f Keycloak requests, %.1f CPU s", waveReqs, wave.cpu),
		fmt.Sprintf("  Keycloak requests/hour = window %.0f / %.4f h + wave %.0f x %.4f resyncs/h = %.0f + %.0f = %.0f",
			total(res.d.kc, false), h, waveReqs, perResync, perHour, waveReqs*perResync, perHour+waveReqs*perResync),
		fmt.Sprintf("  operator CPU s/hour = window %.1f / %.4f h + wave %.1f x %.4f = %.1f + %.1f = %.1f",
			res.cpu, h, wave.cpu, perResync, res.cpu/h, wave.cpu*perResync, res.cpu/h+wave.cpu*perResync),
		fmt.Sprintf("  operator RSS: %s now, %s peak since its start (VmHWM)", mib(res.rssCur), mib(res.rssPeak)),
		fmt.Sprintf("  before (resync every %s, 1 read per client, no drift polls): wave %.0f x %.0f resyncs/h = %.0f Keycloak requests/hour; CPU %.1f x %.0f = %.1f s/hour",
			beforeResync, waveReqs, time.Hour.Hours()/beforeResync.Hours(), waveReqs*time.Hour.Hours()/beforeResync.Hours(),
			wave.cpu, time.Hour.Hours()/beforeResync.Hours(), wave.cpu*time.Hour.Hours()/beforeResync.Hours()),
	}
	if *steadyResync < res.window {
		out = append(out, fmt.Sprintf("  note: --resync-interval %s is not longer than the window: the window holds its resync waves, so the wave term is left out (x 0)", *steadyResync))
	}
	return append(out, driftReport(res)...)
}
