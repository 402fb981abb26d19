package controllers_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// BenchmarkAuthClientToSecret measures the time from creating an AuthClient
// to its Secret being readable, one client at a time, against the real
// Keycloak and API server, and the Keycloak requests each creation costs.
//
//	make bench   (or: go test ./controllers -run '^$' -bench AuthClientToSecret -benchtime 20x)
func BenchmarkAuthClientToSecret(b *testing.B) {
	integration(b)
	// No resyncs during the run: the request count is then the cost of creation alone.
	saved := resync
	resync = time.Hour
	op := restartOperator(b)
	b.Cleanup(func() { resync = saved; restartOperator(b) })
	ensureNamespace(b, "security", nil)
	ensureNamespace(b, "bench", nil)
	as := &authv1.AuthServer{}
	apply(b, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: bench-server, namespace: security}
spec:
  issuerUrl: "https://bench.example.com"
  deletionPolicy: Delete`, as)
	waitReady(b, as, "True", authv1.ReasonRealmProvisioned, 60*time.Second)
	// One warm-up client creates the realm's custom scope and opens connections.
	warm := &authv1.AuthClient{}
	apply(b, authClient("bench", "warm-up", "bench-server", `  scopes: [openid, profile, email, "api:read"]`), warm)
	waitReady(b, warm, "True", authv1.ReasonClientProvisioned, 30*time.Second)

	ctx := context.Background()
	before := op.count(func(op, _ string) bool { return op != "token.login" && op != "token.refresh" })
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("app-%d-%d", time.Now().UnixNano()%1e6, i)
		ac := &authv1.AuthClient{}
		start := time.Now()
		apply(b, authClient("bench", name, "bench-server", `  scopes: [openid, profile, email, "api:read"]`), ac)
		key := types.NamespacedName{Namespace: "bench", Name: name + "-client-secret"}
		for {
			var s corev1.Secret
			if err := k8s.Get(ctx, key, &s); err == nil && len(s.Data["client_secret"]) > 0 {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("no Secret for %s after 30s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	calls := op.count(func(op, _ string) bool { return op != "token.login" && op != "token.refresh" }) - before
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Milliseconds()), "p90-ms")
	b.ReportMetric(float64(calls)/float64(len(lat)), "keycloak-calls/client")
	b.Logf("%d clients: median %s, p90 %s, max %s; %d Keycloak requests", len(lat), lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1], calls)
}

// BenchmarkPolicyEdit measures how long an AuthPolicy edit takes to reach
// every client it governs in Keycloak: N clients (NAUTHERA_BENCH_CLIENTS,
// default 200) under one AuthServer and policy; the policy's access-token
// TTL changes; the clock stops when Keycloak has received one update per
// client (counted in front of the real Keycloak).
//
//	make bench-policy                  (or NAUTHERA_BENCH_CLIENTS=1000 make bench-policy)
func BenchmarkPolicyEdit(b *testing.B) {
	integration(b)
	n := 200
	if v, err := strconv.Atoi(os.Getenv("NAUTHERA_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	saved := resync
	resync = time.Hour
	restartOperator(b)
	b.Cleanup(func() { resync = saved; restartOperator(b) })
	ensureNamespace(b, "security", nil)
	ensureNamespace(b, "bench-policy", nil)
	as := &authv1.AuthServer{}
	apply(b, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: policy-bench, namespace: security}
spec:
  issuerUrl: "https://policy-bench.example.com"
  deletionPolicy: Delete
  policySelector: {matchLabels: {bench: policy}}`, as)
	waitReady(b, as, "True", authv1.ReasonRealmProvisioned, 60*time.Second)
	p := &authv1.AuthPolicy{}
	apply(b, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: bench, namespace: security, labels: {bench: policy}}
spec:
  token: {accessTokenTTL: 10m}`, p)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		apply(b, authClient("bench-policy", fmt.Sprintf("app-%d", i), "policy-bench", ""), &authv1.AuthClient{})
	}
	eventually(b, 10*time.Minute, fmt.Sprintf("%d clients Ready", n), func() error {
		var list authv1.AuthClientList
		if err := k8s.List(ctx, &list, client.InNamespace("bench-policy")); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if c := meta.FindStatusCondition(list.Items[i].Status.Conditions, authv1.ReadyCondition); c != nil && c.Status == "True" {
				ready++
			}
		}
		if ready < n {
			return fmt.Errorf("%d of %d Ready", ready, n)
		}
		return nil
	})
	b.Logf("%d governed clients created and Ready in %s", n, time.Since(start).Round(time.Millisecond))

	updates := func() int { return faults.Requests("/realms/policy-bench/clients/", "PUT") }
	for b.Loop() {
		before := updates()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			b.Fatal(err)
		}
		p.Spec.Token.AccessTokenTTL.Duration += time.Minute
		start := time.Now()
		if err := k8s.Update(ctx, p); err != nil {
			b.Fatal(err)
		}
		for updates()-before < n {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("only %d of %d clients updated after 10 minutes", updates()-before, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.ReportMetric(elapsed.Seconds(), "s/policy-edit")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "clients/s")
		b.Logf("policy edit reached %d clients in Keycloak in %s (%.0f clients/s)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	}
	b.StopTimer()
	var list authv1.AuthClientList
	_ = k8s.List(ctx, &list, client.InNamespace("bench-policy"))
	for i := range list.Items {
		_ = k8s.Delete(ctx, &list.Items[i])
	}
	_ = k8s.Delete(ctx, p)
}
