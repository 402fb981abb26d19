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

func init() {
	metrics.Registry.MustRegister(secretRotations)
}
