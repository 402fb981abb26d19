package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// Console edits (issue 25): during the steady window, a second Keycloak
// admin (its own user in master with the admin role, not the operator's
// identity) edits -drift-edits managed clients at random times, as someone
// in the console would: one more redirect URI and a new description. Each
// edited client is then read every 250 ms through a separate gocloak client
// (those reads are counted apart, they are not the operator's) until the
// operator has put the redirect URIs back; the time from the edit to that
// read is the revert time.

var (
	driftEdits   = flag.Int("drift-edits", 0, "Console edits on random managed clients during the -steady window, each timed until the operator reverts it")
	driftTimeout = flag.Duration("drift-timeout", 5*time.Minute, "How long after an edit the benchmark waits for its revert before counting it as not reverted")
)

const (
	consoleUser = "bench-console"
	pollEvery   = 250 * time.Millisecond
)

type editResult struct {
	clientID string
	revert   time.Duration // 0: not reverted within -drift-timeout
	err      error
}

type consoleEditor struct {
	edit  *adminToken // the console admin's session
	poll  *adminToken // the revert polls' own session
	polls atomic.Int64
}

// newConsoleEditor creates the second admin user in master and logs in as it.
func (b *bed) newConsoleEditor(ctx context.Context) (*consoleEditor, error) {
	gc := gocloak.NewClient(b.kc.URL)
	boot := &adminToken{gc: gc, user: b.kc.AdminUser, pass: b.kc.AdminPassword}
	t, err := boot.get(ctx)
	if err != nil {
		return nil, err
	}
	pass := fmt.Sprintf("console-%x", rand.Uint64())
	id, err := gc.CreateUser(ctx, t, "master", gocloak.User{Username: gocloak.StringP(consoleUser), Enabled: gocloak.BoolP(true)})
	if err != nil {
		return nil, err
	}
	if err := gc.SetPassword(ctx, t, id, "master", pass, false); err != nil {
		return nil, err
	}
	role, err := gc.GetRealmRole(ctx, t, "master", "admin")
	if err != nil {
		return nil, err
	}
	if err := gc.AddRealmRoleToUser(ctx, t, "master", id, []gocloak.Role{*role}); err != nil {
		return nil, err
	}
	return &consoleEditor{
		edit: &adminToken{gc: gocloak.NewClient(b.kc.URL), user: consoleUser, pass: pass},
		poll: &adminToken{gc: gocloak.NewClient(b.kc.URL), user: consoleUser, pass: pass},
	}, nil
}

// run makes k edits at random times within the first 80% of window (so
// that the last ones can still be reverted by a poll-driven operator within
// the window) and returns each one's revert time.
func (c *consoleEditor) run(ctx context.Context, k int, window time.Duration) []editResult {
	targets := rand.Perm(*n)[:min(k, *n)]
	out := make([]editResult, len(targets))
	var wg sync.WaitGroup
	for j, i := range targets {
		at := time.Duration(rand.Int64N(int64(window) * 8 / 10))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(at): // a random moment in the window: a schedule, not a synchronisation
			case <-ctx.Done():
				return
			}
			out[j] = c.editAndTime(ctx, fmt.Sprintf("scale.app-%d", i), j)
		}()
	}
	wg.Wait()
	return out
}

// editAndTime edits one client as the console would, then polls it until
// its redirect URIs are back as they were.
func (c *consoleEditor) editAndTime(ctx context.Context, clientID string, j int) editResult {
	res := editResult{clientID: clientID}
	t, err := c.edit.get(ctx)
	if err != nil {
		res.err = err
		return res
	}
	found, err := c.edit.gc.GetClients(ctx, t, "scale", gocloak.GetClientsParams{ClientID: &clientID})
	if err != nil {
		res.err = fmt.Errorf("finding %s: %w", clientID, err)
		return res
	}
	if len(found) != 1 {
		res.err = fmt.Errorf("finding %s: %d found", clientID, len(found))
		return res
	}
	cl := *found[0]
	want := slices.Clone(cl.RedirectURIs)
	slices.Sort(want)
	cl.RedirectURIs = append(slices.Clone(want), fmt.Sprintf("https://console-edit-%d.example.com/*", j))
	cl.Description = gocloak.StringP(fmt.Sprintf("edited in the console (%d)", j))
	if res.err = c.edit.gc.UpdateClient(ctx, t, "scale", cl); res.err != nil {
		return res
	}
	edited := time.Now()
	deadline := edited.Add(*driftTimeout)
	for time.Now().Before(deadline) {
		time.Sleep(pollEvery) // the 250 ms poll period the measurement is taken at
		pt, err := c.poll.get(ctx)
		if err != nil {
			continue
		}
		c.polls.Add(1)
		got, err := c.poll.gc.GetClient(ctx, pt, "scale", *cl.ID)
		if err != nil {
			continue
		}
		have := slices.Clone(got.RedirectURIs)
		slices.Sort(have)
		if slices.Equal(have, want) {
			res.revert = time.Since(edited)
			return res
		}
	}
	return res
}

// driftReport prints the revert times: p50, p95, p99 and max.
func driftReport(res steadyResult) []string {
	if len(res.edits) == 0 {
		return nil
	}
	var lat []time.Duration
	failed, open := 0, 0
	for _, e := range res.edits {
		switch {
		case e.err != nil:
			failed++
		case e.revert == 0:
			open++
		default:
			lat = append(lat, e.revert)
		}
	}
	out := []string{fmt.Sprintf("console edits: %d made by %q (an admin of master, not the operator), %d reverted, %d not reverted within %s, %d failed to edit; %d revert polls every %s (the benchmark's, not counted above)",
		len(res.edits), consoleUser, len(lat), open, *driftTimeout, failed, res.polls, pollEvery)}
	if len(lat) > 0 {
		out = append(out, fmt.Sprintf("  revert time: p50 %s, p95 %s, p99 %s, max %s (with --resync-interval=%s)",
			pct(lat, .5).Round(10*time.Millisecond), pct(lat, .95).Round(10*time.Millisecond), pct(lat, .99).Round(10*time.Millisecond), slices.Max(lat).Round(10*time.Millisecond), *steadyResync))
	}
	for _, e := range res.edits {
		if e.err != nil {
			out = append(out, fmt.Sprintf("  edit of %s failed: %v", e.clientID, e.err))
		}
	}
	return out
}
