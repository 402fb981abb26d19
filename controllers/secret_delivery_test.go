package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Issue 21, item 2: a template whose output cannot fit a Secret (1 MiB,
// the client secret counted at its largest) is a template problem, found
// before any Keycloak client is made.
func TestSecretTemplateTooBigForASecret(t *testing.T) {
	integration(t)
	as := realmServer(t, "tpl-big")
	ensureNamespace(t, "team-tplbig", nil)
	// 17 keys of 64000 bytes and a secret: each within the CRD's limits.
	var data strings.Builder
	for i := range 17 {
		fmt.Fprintf(&data, "      K%02d: '{{ replace \"x\" \"%s\" \"xxxxxxxxxxxxxxxx\" }}{{ .client_secret }}'\n", i, strings.Repeat("x", 4000))
	}
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-tplbig", "huge", "tpl-big", "  grantTypes: [client_credentials]\n  secretTemplate:\n    data:\n"+data.String()), ac)
	refusedBeforeKeycloak(t, as.Status.RealmName, ac, authv1.ReasonSecretTemplateInvalid, "spec.secretTemplate:", "more than the 1048576 bytes a Secret holds")
	deleteAndWait(t, ac)
}

// forbidden is a Kubernetes API answer refusing a write, as RBAC or an
// admission policy would.
func forbidden(what string) string {
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonForbidden, Code: 403, Message: what + " is forbidden: injected by the test"})
	return string(b)
}

// secretsAgree fails unless the Secret holds Keycloak's current secret:
// no secret was made that the Secret did not get.
func secretsAgree(t *testing.T, ns, name, realm, clientID string) string {
	t.Helper()
	got := currentSecret(t, ns, name)
	if kc := currentKeycloakSecret(t, realm, clientID); got != kc {
		t.Fatalf("Keycloak holds a secret that Secret %s/%s-client-secret does not", ns, name)
	}
	if err := tokenWith(realm, clientID, got); err != nil {
		t.Fatalf("the Secret's secret is refused: %v", err)
	}
	return got
}

// Issue 21, item 3: a requested rotation asks Keycloak for a new secret
// only when the Secret can take it. A template that does not render with
// the real values, or a Secret the API server will not let the operator
// write, holds the rotation back (Keycloak untouched, the Secret working);
// a write that fails after the secret was made is retried until the Secret
// holds it.
func TestRotationWaitsForADeliverableSecret(t *testing.T) {
	integration(t)
	ac, _, as := rotatingClient(t, "rot-dlv", "team-dlv", "@yearly", "1h")
	realm, clientID := as.Status.RealmName, "team-dlv.worker"
	t.Cleanup(faults.Clear)
	s0, n0 := secretsAgree(t, "team-dlv", "worker", realm, clientID), regenerates(t, realm, clientID)

	// A template that renders for the placeholder issuer (what admission
	// renders with when it cannot read the AuthServer) but is over 64 KiB
	// with the real issuer, sent with a rotation request in one edit. This
	// test bed runs no webhook; with it, and the AuthServer readable,
	// admission would refuse this template. It stands for a template that
	// stops rendering after admission: an issuer that changes, or a policy
	// that tightens (TestPolicyTightenedUnderATemplate).
	i := strings.IndexFunc(as.Status.Issuer, func(r rune) bool { return !strings.ContainsRune("https://issuer.example.com/realms/r", r) })
	if i < 0 {
		t.Fatalf("issuer %s has only characters of the placeholder", as.Status.Issuer)
	}
	d := as.Status.Issuer[i : i+1]
	bad := ".issuer_url"
	for range 4 {
		bad = fmt.Sprintf("replace %q %q (%s)", d, strings.Repeat(d, 16), bad)
	}
	bad = "{{ " + bad + " }}"
	probe := ac.DeepCopy()
	probe.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"BAD": bad}}
	if err := desired.CheckSecretTemplate(context.Background(), probe, ""); err != nil {
		t.Fatalf("the template is refused with the placeholder issuer: %v", err)
	}
	before := secretOf(t, "team-dlv", "worker-client-secret")
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{authv1.AnnotationRotateSecret: "tpl"}},
		"spec":     map[string]any{"secretTemplate": map[string]any{"mergePolicy": "Merge", "data": map[string]string{"BAD": bad}}},
	})
	if err := k8s.Patch(context.Background(), ac, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.secretTemplate.data[BAD]") {
		t.Errorf("message %q", cond.Message)
	}
	if n := regenerates(t, realm, clientID) - n0; n != 0 {
		t.Errorf("%d secrets were made for a Secret whose template does not render", n)
	}
	if secretsAgree(t, "team-dlv", "worker", realm, clientID) != s0 || secretOf(t, "team-dlv", "worker-client-secret").ResourceVersion != before.ResourceVersion {
		t.Error("the Secret changed although its template does not render")
	}
	// Fixed: the rotation goes ahead.
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.SecretTemplate = nil })
	s1 := waitNewSecret(t, "team-dlv", "worker", s0, "the rotation once the template renders", 30*time.Second)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if secretsAgree(t, "team-dlv", "worker", realm, clientID) != s1 || regenerates(t, realm, clientID)-n0 != 1 {
		t.Errorf("%d regenerations for one request", regenerates(t, realm, clientID)-n0)
	}

	// The API server refuses to let the operator write the Secret (a
	// policy, RBAC, an immutable Secret): no new secret is made.
	n1 := regenerates(t, realm, clientID)
	faults.Set("kubernetes.secrets.patch", testbed.Fault{Status: 403, Body: forbidden(`secrets "worker-client-secret"`), PathContains: "/namespaces/team-dlv/secrets/"})
	annotate(t, ac, authv1.AnnotationRotateSecret, "k8s")
	cond = waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretNotWritable, 30*time.Second)
	if !strings.Contains(cond.Message, "worker-client-secret") || !strings.Contains(cond.Message, "forbidden") || !strings.Contains(cond.Message, "Keycloak is not asked for a new secret") {
		t.Errorf("message %q", cond.Message)
	}
	if faults.Hits("kubernetes.secrets.patch") == 0 {
		t.Fatal("the fault was not injected")
	}
	if n := regenerates(t, realm, clientID) - n1; n != 0 {
		t.Errorf("%d secrets were made that the Secret could not take", n)
	}
	secretsAgree(t, "team-dlv", "worker", realm, clientID)
	faults.Clear()
	s2 := waitNewSecret(t, "team-dlv", "worker", s1, "the rotation once the Secret can be written", 30*time.Second)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if secretsAgree(t, "team-dlv", "worker", realm, clientID) != s2 || regenerates(t, realm, clientID)-n1 != 1 {
		t.Errorf("%d regenerations for one request", regenerates(t, realm, clientID)-n1)
	}

	// The dry run passes, the real write fails once: the secret Keycloak
	// made reaches the Secret on the retry, and the rotation is done.
	n2 := regenerates(t, realm, clientID)
	faults.Set("kubernetes.secrets.patch", testbed.Fault{Status: 500, PathContains: "/namespaces/team-dlv/secrets/", SkipDryRun: true, Times: 1})
	hits := faults.Hits("kubernetes.secrets.patch")
	annotate(t, ac, authv1.AnnotationRotateSecret, "after")
	waitNewSecret(t, "team-dlv", "worker", s2, "the rotated secret after a failed write", 30*time.Second)
	eventually(t, 30*time.Second, "the rotation done", func() error {
		if st := rotationStatus(t, ac); st.Pending != nil || st.LastRequest != "after" {
			return fmt.Errorf("status.secretRotation %+v", st)
		}
		return nil
	})
	if faults.Hits("kubernetes.secrets.patch") != hits+1 {
		t.Fatal("the fault was not injected")
	}
	secretsAgree(t, "team-dlv", "worker", realm, clientID)
	if n := regenerates(t, realm, clientID) - n2; n != 1 {
		t.Errorf("%d regenerations for one request", n)
	}
	deleteAndWait(t, ac)
}

// Issue 21, item 3, on schedule: a slot whose secret the Secret could not
// take is not rotated until it can.
func TestScheduledRotationWaitsForADeliverableSecret(t *testing.T) {
	integration(t)
	ac, _, as := rotatingClient(t, "rot-dlvs", "team-dlvs", "@every 20s", "15s")
	realm, clientID := as.Status.RealmName, "team-dlvs.worker"
	t.Cleanup(faults.Clear)
	faults.Set("kubernetes.secrets.patch", testbed.Fault{Status: 403, Body: forbidden(`secrets "worker-client-secret"`), PathContains: "/namespaces/team-dlvs/secrets/"})
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretNotWritable, 45*time.Second)
	if !strings.Contains(cond.Message, "a secret rotation is due") {
		t.Errorf("message %q", cond.Message)
	}
	// Blocked: Keycloak has made no secret the Secret lacks.
	s0 := secretsAgree(t, "team-dlvs", "worker", realm, clientID)
	faults.Clear()
	waitNewSecret(t, "team-dlvs", "worker", s0, "the scheduled rotation once the Secret can be written", 45*time.Second)
	eventually(t, 30*time.Second, "the Secret holds Keycloak's secret", func() error {
		if currentSecret(t, "team-dlvs", "worker") != currentKeycloakSecret(t, realm, clientID) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	deleteAndWait(t, ac)
}
