package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Client roles (issue 22): after the create run, every AuthClient is given
// -roles roles (one spec edit each), then the description of one of them
// is changed on each. The Keycloak requests on roles are compared with the
// minimum, one write per role that changed: the target is at most one
// extra request per role change. The resync wave that follows measures
// what roles cost in steady state.

var rolesPer = flag.Int("roles", 3, "Client roles given to each AuthClient after the create run, then one of them changed on each (0: no roles runs)")

// roleOps are the Keycloak operations on a client's roles.
var roleOps = []string{"client.roles.list", "client.role.create", "client.role.update", "client.role.delete"}

// benchRoles are k roles; changed is appended to the first one's description.
func benchRoles(k int, changed string) []authv1.ClientRole {
	out := make([]authv1.ClientRole, 0, k)
	for j := 0; j < k; j++ {
		out = append(out, authv1.ClientRole{Name: fmt.Sprintf("orders:r%d", j), Description: fmt.Sprintf("Role %d", j)})
	}
	if changed != "" && k > 0 {
		out[0].Description += " " + changed
	}
	return out
}

// rolesRuns runs the two roles runs, with the operator running.
func (b *bed) rolesRuns(ctx context.Context) ([]row, error) {
	if *rolesPer <= 0 {
		return nil, nil
	}
	add, err := b.rolesRun(ctx, fmt.Sprintf("Nauthera: %d roles added", *rolesPer), benchRoles(*rolesPer, ""))
	if err != nil {
		return nil, err
	}
	change, err := b.rolesRun(ctx, "Nauthera: 1 role changed", benchRoles(*rolesPer, "(changed)"))
	if err != nil {
		return nil, err
	}
	return []row{add, change}, nil
}

// rolesRun sets spec.roles on every AuthClient and waits until each is
// Ready for its new generation with status.roles as set.
func (b *bed) rolesRun(ctx context.Context, name string, roles []authv1.ClientRole) (row, error) {
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"roles": roles}})
	if err != nil {
		return row{}, err
	}
	want := make([]string, 0, len(roles))
	for _, r := range roles {
		want = append(want, r.Name)
	}
	slices.Sort(want)
	before, err := b.counters()
	if err != nil {
		return row{}, err
	}
	log("%s: patching %d AuthClients", name, *n)
	start := time.Now()
	if err := parallel(*n, *appliers, func(i int) error {
		ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "scale", Name: fmt.Sprintf("app-%d", i)}}
		return b.k8s.Patch(ctx, ac, client.RawPatch(types.MergePatchType, body))
	}); err != nil {
		return row{}, err
	}
	// Keycloak's role writes come before the status patch that makes a
	// client Ready for its generation: once all are, the counts are whole.
	err = untilEvery(30*time.Minute, 500*time.Millisecond, name, func() error {
		var list authv1.AuthClientList
		if err := b.k8s.List(ctx, &list, client.InNamespace("scale")); err != nil {
			return err
		}
		done := 0
		for i := range list.Items {
			ac := &list.Items[i]
			if ac.Status.ObservedGeneration == ac.Generation && meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.ReadyCondition) && slices.Equal(ac.Status.Roles, want) {
				done++
			}
		}
		if done < *n {
			return fmt.Errorf("%d of %d done", done, *n)
		}
		return nil
	})
	if err != nil {
		return row{}, err
	}
	wall := time.Since(start)
	after, err := b.counters()
	if err != nil {
		return row{}, err
	}
	_, peak := b.rss()
	d := after.minus(before)
	log("%s: %d done in %s (%d reconciles)", name, *n, wall.Round(time.Millisecond), int(d.reconciles))
	return row{name: name, wall: wall, kcReqs: d.kc, k8sWrites: d.writes, rssPeak: peak, n: *n}, nil
}

// roleSummary compares the roles requests of the roles runs with the
// minimum, and says what roles cost per client in the resync wave.
func roleSummary(rows []row) []string {
	if *rolesPer <= 0 {
		return nil
	}
	var out []string
	for _, r := range rows {
		changes := 0
		switch {
		case strings.HasSuffix(r.name, "roles added"):
			changes = *rolesPer
		case strings.HasSuffix(r.name, "1 role changed"):
			changes = 1
		case r.name == "Nauthera: resync wave":
		default:
			continue
		}
		var total, writes float64
		for _, op := range roleOps {
			total += r.kcReqs[op]
			if op != "client.roles.list" {
				writes += r.kcReqs[op]
			}
		}
		perClient := total / float64(r.n)
		if changes == 0 {
			out = append(out, fmt.Sprintf("%s: roles cost %.2f requests per client (%.2f lists, %.2f writes)", r.name, perClient, r.kcReqs["client.roles.list"]/float64(r.n), writes/float64(r.n)))
			continue
		}
		extra := (perClient - float64(changes)) / float64(changes)
		verdict := "within"
		if extra > 1 {
			verdict = "OVER"
		}
		out = append(out, fmt.Sprintf("%s: %.2f roles requests per client for %d role changes (minimum %d writes): %.2f extra per change, %s the target of at most 1",
			r.name, perClient, changes, changes, extra, verdict))
	}
	return out
}
