package v1alpha1_test

import (
	"context"
	"fmt"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func adoptionServer(clientIDs string) string {
	return authServerDoc("adopting", fmt.Sprintf(`  issuerUrl: "https://auth.example.com"
  adoption:
    realm: true
    clients:
    - namespaces: [team-a]
      clientIds: %s`, clientIDs))
}

// A bad allow-list entry is refused with a message that says what an entry
// may be; a `*` may only end a prefix.
func TestAdoptionAllowListIsCheckedAtAdmission(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	for _, bad := range []string{`["*"]`, `["legacy*x"]`, `["*legacy"]`, `["le*gacy*"]`, `["legacy**"]`, `["has space"]`, `["quote\""]`, `["back\\slash"]`} {
		t.Run(bad, func(t *testing.T) {
			assertRefused(t, adoptionServer(bad), "spec.adoption.clients[0].clientIds", "an exact clientId", "one trailing *")
		})
	}
	assertRefused(t, adoptionServer(`[]`), "spec.adoption.clients[0].clientIds")
	assertRefused(t, authServerDoc("adopting", `  issuerUrl: "https://auth.example.com"
  adoption:
    clients:
    - namespaces: [Team_A]
      clientIds: [legacy]`), "spec.adoption.clients[0].namespaces[0]")
	assertRefused(t, authServerDoc("adopting", `  issuerUrl: "https://auth.example.com"
  adoption:
    clients:
    - clientIds: [legacy]`), "spec.adoption.clients[0].namespaces")
	for _, good := range []string{`["legacy-portal", "billing-*", "a*"]`, `["com.example.app", "x!#$%&'()+,-./:;<=>?@[]^_{|}~*"]`} {
		if err := k8s.Create(context.Background(), parse(t, adoptionServer(good)), client.DryRunAll); err != nil {
			t.Errorf("%s refused: %v", good, err)
		}
	}
	ensureNamespace(t, "my-app-dev")
	if err := k8s.Create(context.Background(), parse(t, authClientDoc("adopter", redirect("https://a.example.com/cb")+"\n  adopt: true")), client.DryRunAll); err != nil {
		t.Errorf("spec.adopt refused: %v", err)
	}
}
