package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// secretRotations counts the rotations the operator made, by reason
// (Scheduled, Requested, Expiring) and whether an interrupted one was
// completed. No label names an object.
var secretRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "nauthera",
	Name:      "secret_rotations_total",
	Help:      "Client secret rotations by reason (Scheduled, Requested, Expiring) and resumed (an interrupted rotation completed).",
}, []string{"reason", "resumed"})

// certificateExpiry is the expiry of each AuthServer's certificate, for
// alerts (like cert-manager's certmanager_certificate_expiration_timestamp_seconds).
// One series per AuthServer with spec.tls: AuthServers are few, and an
// alert must name the one to renew.
var certificateExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: "nauthera",
	Name:      "authserver_certificate_expiration_timestamp_seconds",
	Help:      "When the certificate of an AuthServer's spec.tls.certSecretRef expires (Unix seconds).",
}, []string{"namespace", "name"})

func init() {
	metrics.Registry.MustRegister(secretRotations, certificateExpiry)
}
