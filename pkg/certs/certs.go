// Package certs inspects the TLS certificate an AuthServer names
// (spec.tls.certSecretRef): is it a kubernetes.io/tls Secret, does it cover
// the issuer's host, when does it expire. Pure logic: the caller reads the
// Secret.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ExpiryWarning is how long before expiry a certificate is reported as
// expiring soon (cert-manager users expect two weeks).
const ExpiryWarning = 14 * 24 * time.Hour

// Problem kinds, each a condition reason.
const (
	Invalid      = "CertificateInvalid"
	Expired      = "CertificateExpired"
	NotYetValid  = "CertificateNotYetValid"
	HostMismatch = "CertificateHostMismatch"
	ExpiringSoon = "CertificateExpiringSoon"
	Valid        = "CertificateValid"
	// NotFound: the Secret spec.tls.certSecretRef names does not exist
	// (reported by the AuthServer reconciler; Inspect never returns it).
	NotFound = "CertificateNotFound"
)

// Info is what the certificate says.
type Info struct {
	NotBefore, NotAfter time.Time
	DNSNames            []string
	Subject             string
}

// Inspect checks a TLS Secret for host at now. It returns the leaf
// certificate's details (when it could be parsed) and a reason with a
// message: Valid or ExpiringSoon when it can be used, another reason when
// it cannot.
func Inspect(s *corev1.Secret, host string, now time.Time) (*Info, string, string) {
	if s.Type != corev1.SecretTypeTLS {
		return nil, Invalid, fmt.Sprintf("Secret %s is of type %q, not %s", s.Name, s.Type, corev1.SecretTypeTLS)
	}
	certPEM, keyPEM := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	// The first CERTIFICATE block is the leaf (other blocks, such as EC
	// PARAMETERS, are skipped as TLS servers skip them).
	var block *pem.Block
	for rest := certPEM; ; {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return nil, Invalid, fmt.Sprintf("Secret %s: %s holds no PEM certificate", s.Name, corev1.TLSCertKey)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, Invalid, fmt.Sprintf("Secret %s: %s cannot be parsed: %v", s.Name, corev1.TLSCertKey, err)
	}
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	info := &Info{NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(), DNSNames: names, Subject: leaf.Subject.String()}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return info, Invalid, fmt.Sprintf("Secret %s: the key in %s does not go with the certificate: %v", s.Name, corev1.TLSPrivateKeyKey, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return info, Expired, fmt.Sprintf("the certificate in Secret %s expired at %s", s.Name, info.NotAfter.Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return info, NotYetValid, fmt.Sprintf("the certificate in Secret %s is valid only from %s", s.Name, info.NotBefore.Format(time.RFC3339))
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return info, HostMismatch, fmt.Sprintf("the certificate in Secret %s does not cover %q, the host of issuerUrl (it covers %v)", s.Name, host, names)
	}
	if left := leaf.NotAfter.Sub(now); left < ExpiryWarning {
		return info, ExpiringSoon, fmt.Sprintf("the certificate in Secret %s for %q expires at %s, in %d days: renew it", s.Name, host, info.NotAfter.Format(time.RFC3339), int(left.Hours()/24))
	}
	return info, Valid, fmt.Sprintf("the certificate in Secret %s covers %q until %s", s.Name, host, info.NotAfter.Format(time.RFC3339))
}
