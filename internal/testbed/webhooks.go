package testbed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// WebhookConfigurations reads the generated webhook configurations,
// config/webhook/manifests.yaml: the mutating one (the finalizer of a new
// AuthClient) and the validating one. The file holds both documents;
// picking each by its kind keeps a test from reading one as the other.
func WebhookConfigurations() (*admissionv1.MutatingWebhookConfiguration, *admissionv1.ValidatingWebhookConfiguration, error) {
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "config", "webhook", "manifests.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var mwc *admissionv1.MutatingWebhookConfiguration
	var vwc *admissionv1.ValidatingWebhookConfiguration
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, nil, err
		}
		switch head.Kind {
		case "MutatingWebhookConfiguration":
			mwc = &admissionv1.MutatingWebhookConfiguration{}
			err = yaml.UnmarshalStrict(doc, mwc)
		case "ValidatingWebhookConfiguration":
			vwc = &admissionv1.ValidatingWebhookConfiguration{}
			err = yaml.UnmarshalStrict(doc, vwc)
		case "":
			continue
		default:
			err = fmt.Errorf("unexpected kind %q", head.Kind)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("config/webhook/manifests.yaml: %w", err)
		}
	}
	if mwc == nil || vwc == nil {
		return nil, nil, errors.New("config/webhook/manifests.yaml: want a MutatingWebhookConfiguration and a ValidatingWebhookConfiguration (make manifests)")
	}
	return mwc, vwc, nil
}
