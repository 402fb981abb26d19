package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nauthera/nauthera/internal/testbed"
)

// The operator binary serves the admission webhook with a certificate it
// generated itself (cert-controller), and injects the CA into the
// ValidatingWebhookConfiguration; the real kube-apiserver then calls it.
// There is no kubelet here to project the Secret into the operator's cert
// folder, so the test plays that part: it copies the Secret's files into the
// folder the operator reads (as a mounted Secret volume would).
func TestAdmissionWebhookWithOperatorCertificates(t *testing.T) {
	needsControlPlane(t)
	root := testbed.RepoRoot()
	mustTool(t, nil, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "config", "crd", "bases"))
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	k, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{"nauthera-system", "security", "webhook-e2e"} {
		if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// The empty Secret the chart ships, which the operator fills.
	certSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nauthera-webhook-cert", Namespace: "nauthera-system"}}
	if err := k.Create(ctx, certSecret); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	port := freePort(t)
	// The generated webhook configuration, pointed at the local process
	// (the chart points it at a Service), failing closed for the test.
	mwc, vwc, err := testbed.WebhookConfigurations()
	if err != nil {
		t.Fatal(err)
	}
	vwc.Name = "nauthera-e2e"
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig = admissionv1.WebhookClientConfig{URL: ptr.To("https://localhost:" + port + *vwc.Webhooks[i].ClientConfig.Service.Path)}
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
		// Only this test's namespace: the other tests' objects never meet it.
		vwc.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "webhook-e2e"}}
	}
	if err := k.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(ctx, vwc) })
	// The finalizer webhook, of the same name: the operator injects the CA
	// into both.
	mwc.Name = vwc.Name
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig = admissionv1.WebhookClientConfig{URL: ptr.To("https://localhost:" + port + *mwc.Webhooks[i].ClientConfig.Service.Path)}
		mwc.Webhooks[i].FailurePolicy = ptr.To(admissionv1.Fail)
		mwc.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "webhook-e2e"}}
	}
	if err := k.Create(ctx, mwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(ctx, mwc) })

	certDir := filepath.Join(workDir, "webhook-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	probes, metrics := freePort(t), freePort(t)
	logFile := filepath.Join(workDir, "operator-webhook.log")
	op, err := testbed.StartOperator(cluster, logFile,
		"--keycloak-url="+kc.URL, "--watch-namespaces=security,webhook-e2e,nauthera-system", "--log-format=json",
		"--health-probe-bind-address=127.0.0.1:"+probes, "--metrics-bind-address=127.0.0.1:"+metrics,
		"--webhook-port="+port, "--webhook-cert-dir="+certDir,
		"--webhook-secret=nauthera-system/nauthera-webhook-cert", "--webhook-service=nauthera-webhook.nauthera-system.svc",
		"--webhook-extra-dns-names=localhost", "--webhook-configuration=nauthera-e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.Delete(ctx, vwc)
		if err := op.Stop(); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log tail:\n%s", testbed.Tail(logFile, 40))
		}
	})

	// Alive but not ready: the webhook has no certificate to serve with yet.
	probe := func(path string) (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + probes + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	eventually(t, 60*time.Second, "the operator answers /healthz", func() error {
		if code, body := probe("/healthz"); code != http.StatusOK {
			return fmt.Errorf("/healthz: %d %s", code, body)
		}
		return nil
	})
	if code, body := probe("/readyz?verbose"); code == http.StatusOK || !strings.Contains(body, "[-]webhook failed") {
		t.Errorf("/readyz before the webhook has a certificate: %d\n%s", code, body)
	}

	// Play kubelet: project the Secret into the cert folder once it is filled.
	eventually(t, 60*time.Second, "the operator fills the webhook Secret", func() error {
		if err := k.Get(ctx, client.ObjectKeyFromObject(certSecret), certSecret); err != nil {
			return err
		}
		for _, key := range []string{"ca.crt", "tls.crt", "tls.key"} {
			if len(certSecret.Data[key]) == 0 {
				return fmt.Errorf("no %s yet", key)
			}
		}
		return nil
	})
	for _, key := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(certDir, key), certSecret.Data[key], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, "the operator is ready once its webhook serves", func() error {
		if code, body := probe("/readyz?verbose"); code != http.StatusOK {
			return fmt.Errorf("/readyz: %d\n%s", code, body)
		}
		return nil
	})
	eventually(t, 60*time.Second, "the CA is injected into the webhook configuration", func() error {
		if err := k.Get(ctx, client.ObjectKeyFromObject(vwc), vwc); err != nil {
			return err
		}
		if err := k.Get(ctx, client.ObjectKeyFromObject(mwc), mwc); err != nil {
			return err
		}
		if string(vwc.Webhooks[0].ClientConfig.CABundle) != string(certSecret.Data["ca.crt"]) ||
			string(mwc.Webhooks[0].ClientConfig.CABundle) != string(certSecret.Data["ca.crt"]) {
			return fmt.Errorf("caBundle not injected yet")
		}
		return nil
	})

	kubectlApply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: webhook-server, namespace: security}
spec:
  issuerUrl: "https://webhook.example.com"
  policySelector: {matchLabels: {tier: webhook-e2e}}
---
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: webhook-policy, namespace: security, labels: {tier: webhook-e2e}}
spec:
  allowedScopes: [openid, profile, "api:read"]`)
	bad := `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: greedy, namespace: webhook-e2e}
spec:
  authServerRef: {name: webhook-server, namespace: security}
  redirectUris: ["https://greedy.example.com/cb"]
  scopes: [openid, "api:admin"]`
	var out string
	eventually(t, 60*time.Second, "kubectl apply refused by the webhook", func() error {
		var err error
		out, err = tool(t, strings.NewReader(bad), "kubectl", "apply", "-f", "-")
		if err == nil {
			_, _ = tool(t, nil, "kubectl", "-n", "webhook-e2e", "delete", "authclient", "greedy", "--wait=false")
			return fmt.Errorf("accepted (the webhook or its cache is not ready yet): %s", out)
		}
		// Only the webhook knows AuthPolicies: the CRD cannot say this.
		out = err.Error()
		if !strings.Contains(out, "AuthPolicy security/webhook-policy") {
			return fmt.Errorf("refused, but not by the webhook: %s", out)
		}
		return nil
	})
	for _, want := range []string{`spec.scopes[1]`, `"api:admin" is not allowed by AuthPolicy security/webhook-policy (allowed: openid, profile, api:read)`} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, out)
		}
	}
	// Created with the finalizer by the mutating webhook, which the API
	// server reached with the CA the operator injected (failurePolicy Fail
	// here: without it the create would fail): the create response, before
	// any reconcile, holds it.
	modest := `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: modest, namespace: webhook-e2e}
spec:
  authServerRef: {name: webhook-server, namespace: security}
  redirectUris: ["https://modest.example.com/cb"]
  scopes: [openid, "api:read"]`
	if f := mustTool(t, strings.NewReader(modest), "kubectl", "create", "-f", "-", "-o", "jsonpath={.metadata.finalizers}"); !strings.Contains(f, "auth.nauthera.io/finalizer") {
		t.Errorf("AuthClient modest was created with finalizers %q, want the operator's from admission", f)
	}
}
