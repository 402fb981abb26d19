package main

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// waitForAPIServer blocks until the Kubernetes API server answers a
// discovery request, retrying with backoff (up to 30 s apart) and logging
// why. Without it the manager fails at start when the API server is briefly
// unreachable (a control-plane upgrade, a restarted kind cluster), and the
// pod crash-loops instead of waiting.
func waitForAPIServer(ctx context.Context, cfg *rest.Config, log logr.Logger) error {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	delay := time.Second
	for attempt := 1; ; attempt++ {
		v, err := dc.ServerVersion()
		if err == nil {
			if attempt > 1 {
				log.Info("Kubernetes API server is reachable", "host", cfg.Host, "version", v.GitVersion)
			}
			return nil
		}
		log.Info("Waiting for the Kubernetes API server", "host", cfg.Host, "attempt", attempt, "retryIn", delay.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
