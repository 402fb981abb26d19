package testbed

import (
	"strings"
	"testing"
)

// Under -short (make test-unit) the real parts refuse to start, so a test
// that forgets to skip fails instead of quietly starting Keycloak; in a
// full run nothing is refused.
func TestRealPartsRefuseToStartUnderShort(t *testing.T) {
	if !testing.Short() {
		if err := refuseUnderShort("Keycloak"); err != nil {
			t.Fatalf("refused without -short: %v", err)
		}
		return
	}
	if _, err := StartKeycloak("short-check"); err == nil || !strings.Contains(err.Error(), "-short") {
		t.Errorf("StartKeycloak under -short: err = %v, want a refusal naming -short", err)
	}
	if _, err := ControlPlane(true); err == nil || !strings.Contains(err.Error(), "-short") {
		t.Errorf("ControlPlane under -short: err = %v, want a refusal naming -short", err)
	}
	if _, err := StartLDAP("short-check"); err == nil || !strings.Contains(err.Error(), "-short") {
		t.Errorf("StartLDAP under -short: err = %v, want a refusal naming -short", err)
	}
}
