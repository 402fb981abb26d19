package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// The certificate of spec.tls.certSecretRef (issue 14, item 5), with real
// certificates in real Secrets: a good one, one expiring in a week, an
// expired one, one for another host, a Secret of the wrong type, none.
func TestAuthServerCertificate(t *testing.T) {
	integration(t)
	theOperator(t)
	ensureNamespace(t, "security", nil)
	now := time.Now()
	mk := func(name string, hosts []string, from, to time.Time) {
		s, err := testbed.TLSSecret(name, "security", hosts, from, to)
		if err != nil {
			t.Fatal(err)
		}
		_ = k8s.Delete(context.Background(), s)
		if err := k8s.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
	}
	mk("cert-good", []string{"cert-good.example.com"}, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	mk("cert-soon", []string{"*.example.com"}, now.AddDate(0, -2, 0), now.AddDate(0, 0, 7))
	mk("cert-past", []string{"cert-past.example.com"}, now.AddDate(-1, 0, 0), now.Add(-24*time.Hour))
	mk("cert-other", []string{"elsewhere.example.org"}, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert-opaque", Namespace: "security"}, StringData: map[string]string{"tls.crt": "x"}}
	_ = k8s.Delete(context.Background(), opaque)
	if err := k8s.Create(context.Background(), opaque); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), opaque) })

	for _, c := range []struct {
		server, secret, reason string
		status                 metav1.ConditionStatus
		warning                bool
	}{
		{"cert-good", "cert-good", "CertificateValid", metav1.ConditionTrue, false},
		{"cert-soon", "cert-soon", "CertificateExpiringSoon", metav1.ConditionTrue, true},
		{"cert-past", "cert-past", "CertificateExpired", metav1.ConditionFalse, true},
		{"cert-other", "cert-other", "CertificateHostMismatch", metav1.ConditionFalse, true},
		{"cert-opaque", "cert-opaque", "CertificateInvalid", metav1.ConditionFalse, true},
		{"cert-none", "no-such-secret", "CertificateNotFound", metav1.ConditionFalse, true},
	} {
		t.Run(c.server, func(t *testing.T) {
			as := serverWith(t, c.server, fmt.Sprintf("  tls: {certSecretRef: {name: %s}}", c.secret))
			var cond *metav1.Condition
			eventually(t, 30*time.Second, "CertificateReady "+c.reason, func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
					return err
				}
				cond = meta.FindStatusCondition(as.Status.Conditions, authv1.CertificateCondition)
				if cond == nil || cond.Reason != c.reason || cond.Status != c.status {
					return fmt.Errorf("condition %+v", cond)
				}
				return nil
			})
			if !reconcilerReady(t, as) {
				t.Error("a certificate problem must not make the realm un-Ready")
			}
			if c.warning && occurrences(events(t, as, corev1.EventTypeWarning, c.reason)) == 0 {
				t.Errorf("no Warning %s", c.reason)
			}
			if c.reason == "CertificateNotFound" || c.reason == "CertificateInvalid" {
				return
			}
			if as.Status.Certificate == nil || as.Status.Certificate.NotAfter == nil {
				t.Fatalf("status.certificate %+v", as.Status.Certificate)
			}
			if got := expiryMetric(t, as); got != float64(as.Status.Certificate.NotAfter.Unix()) {
				t.Errorf("expiry metric %v, status %v", got, as.Status.Certificate.NotAfter.Unix())
			}
			if c.reason == "CertificateExpiringSoon" && !strings.Contains(cond.Message, "renew") {
				t.Errorf("message %q", cond.Message)
			}
		})
	}
}

func expiryMetric(t *testing.T, as *authv1.AuthServer) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "nauthera_authserver_certificate_expiration_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == as.Namespace && labels["name"] == as.Name {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}
