package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// startedServer stands in for the manager's webhook server in a test of
// the registration's own plumbing: only its readiness answer matters.
type startedServer struct {
	webhook.Server
	err error
}

func (s startedServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error { return s.err }
}

// A failure to register the webhook is returned from the runnable, so the
// manager stops with it, rather than only logged.
func TestWebhookRegistrationFailureStopsTheManager(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	wr := &webhookRegistration{certsReady: ready, register: func() error { return errors.New("path already registered") }}
	err := wr.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "register the admission webhook: path already registered") {
		t.Fatalf("Start = %v, want the registration error", err)
	}
	if err := wr.ready(nil); err == nil {
		t.Error("ready after a failed registration")
	}
}

// Readiness follows the webhook: not ready while it waits for its
// certificate, nor while its server does not answer; ready once both hold.
func TestWebhookReadiness(t *testing.T) {
	certs := make(chan struct{})
	srv := &startedServer{err: errors.New("webhook server is not reachable")}
	var registered bool
	wr := &webhookRegistration{
		certsReady: certs,
		register:   func() error { registered = true; return nil },
		server:     func() webhook.Server { return srv },
	}
	if err := wr.ready(nil); err == nil || !strings.Contains(err.Error(), "not registered yet") {
		t.Fatalf("ready before the certificate: %v", err)
	}
	close(certs)
	if err := wr.Start(t.Context()); err != nil || !registered {
		t.Fatalf("Start = %v, registered %v", err, registered)
	}
	if err := wr.ready(nil); err == nil {
		t.Fatal("ready while the webhook server does not answer")
	}
	srv.err = nil
	if err := wr.ready(nil); err != nil {
		t.Fatalf("not ready with the webhook registered and answering: %v", err)
	}
	if wr.NeedLeaderElection() {
		t.Error("every replica must serve the webhook, not only the leader")
	}
}

// A shutdown before the certificate arrives is not an error.
func TestWebhookRegistrationStopsWithTheManager(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	wr := &webhookRegistration{certsReady: make(chan struct{}), register: func() error { t.Error("registered after shutdown"); return nil }}
	if err := wr.Start(ctx); err != nil {
		t.Fatal(err)
	}
}
