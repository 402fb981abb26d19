package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/nauthera/nauthera/internal/admission"
)

type webhookOptions struct {
	port                                     int
	certDir, certManagement, secret, service string
	extraDNSNames, configuration             string
	failClosed                               bool
}

func (w webhookOptions) validate() error {
	if w.port == 0 {
		return nil
	}
	switch w.certManagement {
	case "external":
		return nil
	case "operator":
		if ns, name, ok := strings.Cut(w.secret, "/"); !ok || ns == "" || name == "" {
			return fmt.Errorf("--webhook-secret must be namespace/name when the operator manages the webhook certificate, got %q", w.secret)
		}
		if w.service == "" {
			return fmt.Errorf("--webhook-service is required when the operator manages the webhook certificate")
		}
		return nil
	default:
		return fmt.Errorf("--webhook-cert-management must be operator or external, got %q", w.certManagement)
	}
}

// setupWebhook serves the AuthClient admission webhook once its certificate
// is in place: generated and rotated by cert-controller (which also injects
// the CA into the Validating- and MutatingWebhookConfiguration), or provided by someone
// else (cert-manager) as files. The webhook server starts only then, so the
// operator never serves (or crashes on) a missing certificate.
//
// A registration that fails stops the manager, and so the operator, with
// the error: an operator that runs without its webhook would let through
// everything the webhook exists to refuse. The readiness check "webhook"
// fails until the webhook server answers TLS on its port, so a Service
// (and the API server behind it) never sends reviews to a replica that
// cannot answer them.
func setupWebhook(ctx context.Context, mgr ctrl.Manager, o *options, log logr.Logger) error {
	w := o.webhook
	if w.port == 0 {
		return nil
	}
	certsReady := make(chan struct{})
	if w.certManagement == "operator" {
		ns, name, _ := strings.Cut(w.secret, "/")
		var extra []string
		for _, n := range strings.Split(w.extraDNSNames, ",") {
			if n = strings.TrimSpace(n); n != "" {
				extra = append(extra, n)
			}
		}
		if err := rotator.AddRotator(mgr, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: ns, Name: name},
			CertDir:        w.certDir,
			CAName:         "nauthera-webhook-ca",
			CAOrganization: "nauthera",
			DNSName:        w.service,
			ExtraDNSNames:  extra,
			IsReady:        certsReady,
			// The validating and the mutating (finalizer) configurations share the name.
			Webhooks:   []rotator.WebhookInfo{{Name: w.configuration, Type: rotator.Validating}, {Name: w.configuration, Type: rotator.Mutating}},
			FieldOwner: "nauthera",
		}); err != nil {
			return fmt.Errorf("webhook certificate rotator: %w", err)
		}
	} else {
		go func() {
			defer close(certsReady)
			for {
				if _, err := os.Stat(filepath.Join(w.certDir, "tls.crt")); err == nil {
					return
				}
				log.Info("Waiting for the webhook certificate", "certDir", w.certDir)
				select {
				case <-ctx.Done():
					return
				case <-time.After(5 * time.Second):
				}
			}
		}()
	}
	wr := &webhookRegistration{
		certsReady: certsReady,
		register: func() error {
			log.Info("Serving the AuthClient admission webhook", "port", w.port, "path", admission.Path)
			return admission.Register(mgr, w.failClosed)
		},
		server: mgr.GetWebhookServer,
	}
	if err := mgr.Add(wr); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("webhook", wr.ready)
}

// webhookRegistration registers the admission webhook with the manager
// once the certificate is in place. It is a runnable of the manager, so a
// failure to register is the manager's failure, not a line in the log.
type webhookRegistration struct {
	certsReady <-chan struct{}
	register   func() error
	// server returns the manager's webhook server. Called only once the
	// webhook is registered: the first call adds the server to the
	// manager, which starts it, and it must not start without its
	// certificate.
	server     func() webhook.Server
	registered atomic.Bool
}

// Start implements manager.Runnable.
func (r *webhookRegistration) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-r.certsReady:
	}
	select {
	case <-ctx.Done(): // both were ready: stopping wins, and is not an error
		return nil
	default:
	}
	if err := r.register(); err != nil {
		return fmt.Errorf("register the admission webhook: %w", err)
	}
	r.registered.Store(true)
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica serves the webhook, the leader or not.
func (r *webhookRegistration) NeedLeaderElection() bool { return false }

// ready is the readiness check: the webhook is registered and its server
// answers TLS on its port.
func (r *webhookRegistration) ready(req *http.Request) error {
	if !r.registered.Load() {
		return errors.New("the admission webhook is not registered yet (waiting for its certificate)")
	}
	return r.server().StartedChecker()(req)
}
