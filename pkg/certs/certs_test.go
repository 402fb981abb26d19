package certs

import (
	"strings"
	"testing"
	"time"

	"github.com/nauthera/nauthera/internal/testbed"
	corev1 "k8s.io/api/core/v1"
)

func tlsSecret(t testing.TB, name string, hosts []string, notBefore, notAfter time.Time) *corev1.Secret {
	t.Helper()
	s, err := testbed.TLSSecret(name, "", hosts, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInspect(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	year := tlsSecret(t, "good", []string{"auth.example.com"}, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	soon := tlsSecret(t, "soon", []string{"*.example.com"}, now.AddDate(0, -3, 0), now.AddDate(0, 0, 7))
	past := tlsSecret(t, "past", []string{"auth.example.com"}, now.AddDate(-1, 0, 0), now.AddDate(0, 0, -1))
	opaque := year.DeepCopy()
	opaque.Type = corev1.SecretTypeOpaque
	mismatched := year.DeepCopy()
	mismatched.Data[corev1.TLSPrivateKeyKey] = soon.Data[corev1.TLSPrivateKeyKey]
	for _, c := range []struct {
		s          *corev1.Secret
		host, want string
	}{
		{year, "auth.example.com", Valid},
		{soon, "auth.example.com", ExpiringSoon},
		{past, "auth.example.com", Expired},
		{year, "other.example.org", HostMismatch},
		{opaque, "auth.example.com", Invalid},
		{mismatched, "auth.example.com", Invalid},
	} {
		info, reason, msg := Inspect(c.s, c.host, now)
		if reason != c.want {
			t.Errorf("%s for %s: %s (%s), want %s", c.s.Name, c.host, reason, msg, c.want)
		}
		if reason != Invalid && (info == nil || info.NotAfter.IsZero()) {
			t.Errorf("%s: no expiry read", c.s.Name)
		}
		if !strings.Contains(msg, c.s.Name) {
			t.Errorf("message %q does not name the Secret", msg)
		}
	}
}
