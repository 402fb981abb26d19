package controllers

import (
	"context"
	"fmt"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/certs"
)

// reconcileCertificate reads the certificate spec.tls names and reports on
// it: CertificateReady, status.certificate, the expiry metric, and a
// Warning when it expires within two weeks, has expired or does not cover
// the issuer's host. It never fails the realm. It returns when to look
// again (the moment it starts expiring soon, or expires), 0 for the resync.
func (r *AuthServerReconciler) reconcileCertificate(ctx context.Context, as *authv1.AuthServer, rep reconciler.Reporter) time.Duration {
	if as.Spec.TLS == nil {
		forgetCertificate(as)
		return 0
	}
	name := as.Spec.TLS.CertSecretRef.Name
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: as.Namespace, Name: name}, s); err != nil {
		noCertificate(as)
		if apierrors.IsNotFound(err) {
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.CertificateCondition, metav1.ConditionFalse, certs.NotFound, fmt.Sprintf("Secret %s/%s named by spec.tls.certSecretRef does not exist", as.Namespace, name)))
		} else {
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.CertificateCondition, metav1.ConditionFalse, authv1.ReasonKubernetesRejected, fmt.Sprintf("Secret %s/%s cannot be read: %v", as.Namespace, name, err)))
		}
		return time.Minute
	}
	host := ""
	if u, err := url.Parse(as.Spec.IssuerURL); err == nil {
		host = u.Hostname()
	}
	now := time.Now()
	info, reason, msg := certs.Inspect(s, host, now)
	if info == nil {
		noCertificate(as)
	} else {
		as.Status.Certificate = &authv1.CertificateStatus{SecretName: name, NotAfter: &metav1.Time{Time: info.NotAfter}, DNSNames: info.DNSNames}
		certificateExpiry.WithLabelValues(as.Namespace, as.Name).Set(float64(info.NotAfter.Unix()))
	}
	status := metav1.ConditionFalse
	if reason == certs.Valid || reason == certs.ExpiringSoon {
		status = metav1.ConditionTrue
	}
	if reason == certs.ExpiringSoon {
		// Usable, and a Warning, once.
		rep.Caution(ctx, as, reconciler.NewCondition(authv1.CertificateCondition, status, reason, msg))
	} else {
		rep.Condition(ctx, as, reconciler.NewCondition(authv1.CertificateCondition, status, reason, msg))
	}
	if info == nil {
		return 0
	}
	// Look again when it starts expiring soon, and when it expires.
	for _, at := range []time.Time{info.NotAfter.Add(-certs.ExpiryWarning), info.NotAfter} {
		if d := time.Until(at); d > 0 {
			return d + time.Second
		}
	}
	return 0
}

// noCertificate clears what an AuthServer reports of a certificate it
// could not read.
func noCertificate(as *authv1.AuthServer) {
	as.Status.Certificate = nil
	certificateExpiry.DeleteLabelValues(as.Namespace, as.Name)
}

// forgetCertificate clears that and the condition (no spec.tls any more).
func forgetCertificate(as *authv1.AuthServer) {
	noCertificate(as)
	reconciler.RemoveCondition(as, authv1.CertificateCondition)
}
