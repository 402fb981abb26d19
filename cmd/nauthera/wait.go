package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// waitForAPIServer blocks until the Kubernetes API server answers a
// discovery request, retrying with backoff (up to 30 s apart) and logging
// why. Without it the manager fails at start when the API server is briefly
// unreachable (a control-plane upgrade, a restarted kind cluster), and the
// pod crash-loops instead of waiting. Meanwhile probeAddr answers /healthz
// (alive: the liveness probe must not restart a process that is only
// waiting) and /readyz with 503 (not ready); the manager takes the address
// over once the wait ends.
func waitForAPIServer(ctx context.Context, cfg *rest.Config, log logr.Logger, probeAddr string) error {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	if probeAddr != "" && probeAddr != "0" {
		stop := serveWaitingProbes(probeAddr, log)
		defer stop()
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

// serveWaitingProbes serves the probe endpoints while the operator waits,
// and returns a function that stops serving (and frees the address).
func serveWaitingProbes(addr string, log logr.Logger) func() {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "waiting for the Kubernetes API server", http.StatusServiceUnavailable)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Info("Cannot serve probes while waiting for the API server", "address", addr, "error", err.Error())
		return func() {}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
