package controllers_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Adoption together with a bring-your-own secret (issue 23, items 1 and 2
// merged): the adopted client's secret is not kept but set from
// spec.clientSecretRef after the acknowledgement, and the diff to
// acknowledge says so (naming the Secret, never a value), as does the
// ClientAdopted Event.
func TestAdoptionWithClientSecretRefShowsTheSecretSet(t *testing.T) {
	integration(t)
	const realm, clientID, ns = "adopt-byo", "legacy-orders", "adopt-byo"
	old, own := randomSecret(t), randomSecret(t)
	ensureNamespace(t, ns, nil)
	serverWith(t, realm, `  adoption:
    clients:
    - namespaces: [adopt-byo]
      clientIds: ["legacy-*"]
`)
	handMadeClient(t, realm, clientID, old)
	putSourceSecret(t, ns, "orders-creds", "orders", map[string]string{"secret": own})

	ac := &authv1.AuthClient{}
	apply(t, authClient(ns, "orders", realm, `  clientId: legacy-orders
  adopt: true
  grantTypes: [client_credentials]
  clientSecretRef: {name: orders-creds, key: secret}`), ac)
	waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAdoptionPending, 60*time.Second)
	e, ok := diffEntry(ac.Status.Adoption, "secret")
	if !ok || e.Desired == "kept" || !strings.Contains(e.Desired, "orders-creds") || !strings.Contains(e.Desired, "spec.clientSecretRef") {
		t.Errorf("the diff shows the secret as %+v, not set from spec.clientSecretRef", e)
	}
	if got := currentKeycloakSecret(t, realm, clientID); got != old {
		t.Fatal("the secret changed before the acknowledgement")
	}

	annotate(t, ac, authv1.AnnotationAdopt, ac.Status.Adoption.Hash)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	waitMirrored(t, realm, clientID, ns, "orders", own)
	if err := tokenWith(realm, clientID, own); err != nil {
		t.Fatalf("a token request with the referenced value refused: %v", err)
	}
	adopted := events(t, ac, corev1.EventTypeNormal, authv1.ReasonClientAdopted)
	if len(adopted) != 1 || strings.Contains(adopted[0].Note, "secret was kept") {
		t.Errorf("ClientAdopted Events: %+v", adopted)
	}
	noSecretIn(t, ac, ac.Status, own)
	noSecretIn(t, ac, ac.Status, old)
	deleteAndWait(t, ac)
}
