package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

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
