package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/nauthera/nauthera/internal/admission"
)

type webhookOptions struct {
	port                                     int
	certDir, certManagement, secret, service string
	extraDNSNames, configuration             string
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
// the CA into the ValidatingWebhookConfiguration), or provided by someone
// else (cert-manager) as files. The webhook server starts only then, so the
// operator never serves (or crashes on) a missing certificate.
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
			Webhooks:       []rotator.WebhookInfo{{Name: w.configuration, Type: rotator.Validating}},
			FieldOwner:     "nauthera",
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
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-certsReady:
		}
		log.Info("Serving the AuthClient admission webhook", "port", w.port, "path", admission.Path)
		if err := admission.Register(mgr); err != nil {
			log.Error(err, "Failed to register the admission webhook")
		}
	}()
	return nil
}
