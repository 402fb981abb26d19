package policy

import (
	"strings"
	"testing"
	"time"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// A grace period the API accepts but a kubelet cannot follow with a mounted
// Secret is warned about; one it can follow, an invalid rotation (refused
// elsewhere) and a disabled one are not.
func TestGraceWarning(t *testing.T) {
	rot := func(enabled bool, schedule string, grace time.Duration) *authv1.AuthPolicy {
		r := &authv1.SecretRotationPolicy{Enabled: enabled, Schedule: schedule}
		if grace > 0 {
			r.GracePeriod = dur(grace)
		}
		p := pol("security", "p", nil, authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{SecretRotation: r}})
		return &p
	}
	for _, c := range []struct {
		name string
		p    *authv1.AuthPolicy
		want string
	}{
		{"short grace set", rot(true, "@every 5m", 30*time.Second), "stops working 30s after a rotation"},
		{"default grace capped by a short schedule", rot(true, "@every 40s", 0), "stops working 40s after a rotation"},
		{"just enough", rot(true, "@every 5m", 2*time.Minute), ""},
		{"default grace", rot(true, "0 0 * * *", 0), ""},
		{"grace longer than the schedule (refused, not warned)", rot(true, "@every 1m", 5*time.Minute), ""},
		{"disabled", rot(false, "@every 20s", 10*time.Second), ""},
	} {
		got := GraceWarning(c.p)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: warning %q, want one containing %q", c.name, got, c.want)
		}
		if got != "" && !strings.Contains(got, "spec.clientAuthentication.secretRotation.gracePeriod") {
			t.Errorf("%s: warning does not name the field: %q", c.name, got)
		}
	}
}
