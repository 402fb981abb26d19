package testbed

import (
	"context"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Eventually retries f every 100ms until it returns nil, and fails the test
// with f's last error after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
}

// Console logs in to the master realm as the bootstrap admin, as a person in
// the Keycloak admin console would, and returns a plain gocloak client with
// the token: the tests' way to look at (or tamper with) Keycloak directly.
func (k *Keycloak) Console(t testing.TB) (*gocloak.GoCloak, string) {
	t.Helper()
	gc := gocloak.NewClient(k.URL)
	jwt, err := gc.LoginAdmin(context.Background(), k.AdminUser, k.AdminPassword, "master")
	if err != nil {
		t.Fatal(err)
	}
	return gc, jwt.AccessToken
}

// KeycloakRequests sums the requests m counted whose labels (operation,
// method, code) satisfy match: the tests' way to count what an operator or
// a client sent to Keycloak.
func KeycloakRequests(m *keycloak.Metrics, match func(labels map[string]string) bool) int {
	ch := make(chan prometheus.Metric, 256)
	go func() { m.Requests.Collect(ch); close(ch) }()
	n := 0.0
	for metric := range ch {
		var d dto.Metric
		_ = metric.Write(&d)
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if match(labels) {
			n += d.GetCounter().GetValue()
		}
	}
	return int(n)
}
