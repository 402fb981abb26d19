package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// spec.secretTemplate (issue 14, item 3) into a real Secret: the keys an
// app reads, the real credentials in them, rotation following them, a
// broken template refused without touching the Secret, and back to the
// default shape.
func TestSecretTemplate(t *testing.T) {
	integration(t)
	theOperator(t)
	realmServer(t, "tpl-server")
	ensureNamespace(t, "team-tpl", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-tpl", "orders", "tpl-server", `  grantTypes: [client_credentials]
  secretTemplate:
    labels: {app.kubernetes.io/name: orders}
    data:
      APP_CLIENT_ID: "{{ .client_id }}"
      APP_CLIENT_SECRET: "{{ .client_secret }}"
      APP_ISSUER: "{{ .issuer_url }}"
      APP_MODE: confidential`), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	clientID := "team-tpl.orders"
	s := secretOf(t, "team-tpl", "orders-client-secret")
	if len(s.Data) != 4 || string(s.Data["APP_CLIENT_ID"]) != clientID || string(s.Data["APP_MODE"]) != "confidential" ||
		!strings.HasSuffix(string(s.Data["APP_ISSUER"]), "/realms/tpl-server") || s.Labels["app.kubernetes.io/name"] != "orders" {
		t.Fatalf("templated Secret: keys %v, labels %v", keysOf(s.Data), s.Labels)
	}
	if got := string(s.Data["APP_CLIENT_SECRET"]); got != currentKeycloakSecret(t, "tpl-server", clientID) || tokenWith("tpl-server", clientID, got) != nil {
		t.Fatal("APP_CLIENT_SECRET is not Keycloak's secret")
	}

	// A rotation lands in the templated key.
	old := string(s.Data["APP_CLIENT_SECRET"])
	annotate(t, ac, authv1.AnnotationRotateSecret, "1")
	eventually(t, 30*time.Second, "the rotated secret in the templated key", func() error {
		got := string(secretOf(t, "team-tpl", "orders-client-secret").Data["APP_CLIENT_SECRET"])
		if got == old || got != currentKeycloakSecret(t, "tpl-server", clientID) {
			return fmt.Errorf("not rotated into the Secret")
		}
		return nil
	})
	if w := settledEvents(t, ac, corev1.EventTypeWarning, authv1.ReasonCredentialsChanged); len(w) != 0 {
		t.Errorf("a rotation is not a change from outside: %v", w)
	}

	// A broken template: refused, the Secret left as it was.
	before := secretOf(t, "team-tpl", "orders-client-secret")
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.SecretTemplate.Data["APP_CLIENT_SECRET"] = "{{ .clientSecret }}" })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.secretTemplate.data[APP_CLIENT_SECRET]") || !strings.Contains(cond.Message, "clientSecret") {
		t.Errorf("message %q", cond.Message)
	}
	if after := secretOf(t, "team-tpl", "orders-client-secret"); after.ResourceVersion != before.ResourceVersion {
		t.Error("a template that does not render changed the Secret")
	}

	// Template removed: the default shape, the template's label gone.
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.SecretTemplate = nil })
	eventually(t, 30*time.Second, "the default shape", func() error {
		s := secretOf(t, "team-tpl", "orders-client-secret")
		if string(s.Data["client_id"]) != clientID || len(s.Data["client_secret"]) == 0 || s.Data["APP_CLIENT_ID"] != nil || s.Labels["app.kubernetes.io/name"] != "" {
			return fmt.Errorf("keys %v, labels %v", keysOf(s.Data), s.Labels)
		}
		return nil
	})
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	deleteAndWait(t, ac)
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
