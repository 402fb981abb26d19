package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nauthera/nauthera/internal/testbed"
)

// webhooks is -webhooks, checked as it is parsed (not after the warm-up).
var webhooks = webhooksMode("both")

func init() {
	flag.Var(&webhooks, "webhooks", "Admission webhooks the operator serves and the API server calls: none, validating, or both (validating + the mutating one that adds the finalizer at create; the Helm chart's default)")
}

type webhooksMode string

func (m *webhooksMode) String() string { return string(*m) }

func (m *webhooksMode) Set(v string) error {
	switch v {
	case "none", "validating", "both":
		*m = webhooksMode(v)
		return nil
	}
	return fmt.Errorf("%q: want none, validating or both", v)
}

// webhookConfigName names the bench's webhook configurations.
const webhookConfigName = "bench"

// installWebhooks points the API server at the operator's admission webhooks
// as the Helm chart does (-webhooks), served with a self-signed certificate,
// and returns the operator flags that serve them. It replaces the
// configurations of an earlier start (the operator restarts on a new port).
//
// They cover every namespace but "baseline": the baselines stand for the
// least work Kubernetes must do, and run while the operator is stopped.
// The failure policy is Fail (the chart's mutating one is Ignore): a bench
// whose webhook does not answer must fail, not measure a run without it.
func (b *bed) installWebhooks(ctx context.Context) ([]string, error) {
	if err := b.deleteWebhooks(ctx); err != nil {
		return nil, err
	}
	if webhooks == "none" {
		return nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, "webhook-certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sec, err := testbed.TLSSecret("webhook", "bench", []string{"localhost"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, k), sec.Data[k], 0o600); err != nil {
			return nil, err
		}
	}
	mwc, vwc, err := testbed.WebhookConfigurations()
	if err != nil {
		return nil, err
	}
	// The self-signed certificate is its own CA.
	point := func(cc *admissionv1.WebhookClientConfig) {
		u := "https://localhost:" + port + *cc.Service.Path
		*cc = admissionv1.WebhookClientConfig{URL: &u, CABundle: sec.Data["tls.crt"]}
	}
	notBaseline := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"baseline"}},
	}}
	vwc.ObjectMeta = metav1.ObjectMeta{Name: webhookConfigName}
	for i := range vwc.Webhooks {
		point(&vwc.Webhooks[i].ClientConfig)
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
		vwc.Webhooks[i].NamespaceSelector = notBaseline
	}
	if err := b.k8s.Create(ctx, vwc); err != nil {
		return nil, err
	}
	if webhooks == "both" {
		mwc.ObjectMeta = metav1.ObjectMeta{Name: webhookConfigName}
		for i := range mwc.Webhooks {
			point(&mwc.Webhooks[i].ClientConfig)
			mwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
			mwc.Webhooks[i].NamespaceSelector = notBaseline
		}
		if err := b.k8s.Create(ctx, mwc); err != nil {
			return nil, err
		}
	}
	log("webhooks: %s, served on port %s", webhooks, port)
	return []string{"--webhook-port=" + port, "--webhook-cert-management=external", "--webhook-cert-dir=" + dir}, nil
}

// deleteWebhooks removes the configurations installWebhooks made, if any.
func (b *bed) deleteWebhooks(ctx context.Context) error {
	for _, obj := range []client.Object{
		&admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhookConfigName}},
		&admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhookConfigName}},
	} {
		if err := b.k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
