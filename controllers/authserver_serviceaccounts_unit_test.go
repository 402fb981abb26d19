package controllers

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
)

// A change to the identity provider that Keycloak did not apply is
// recognised on the next reconcile even with the longest issuer the API
// allows (2048 bytes): the fingerprint comes before the issuer in the
// message, so the condition's cut does not take it. Another issuer (one
// discovered anew) is another change, tried again.
func TestIdentityProviderNotAppliedWithALongIssuer(t *testing.T) {
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Generation: 2}}
	realm := strings.Repeat("r", 200)
	issuer := "https://k8s.example.com/" + strings.Repeat("x", 2048-len("https://k8s.example.com/"))
	what := `identity provider "` + desired.IdentityProviderAlias + `"`
	diff := []string{"config.issuer", "config.jwksUrl", "config.fedClientAssertionMaxExp"}
	want := desired.IdentityProvider(as, issuer)
	f := reconciler.Classify(reconciler.NotApplied(what, diff, want, "AuthServer"))
	rep := reconciler.Reporter{Recorder: events.NewFakeRecorder(10), Kind: "AuthServer"}
	rep.Condition(context.Background(), as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, f.Reason, identityProviderFailure(f, issuer, realm)))

	if !reconciler.StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, diff, want) {
		t.Errorf("the reported change is not recognised: it would be written at every resync; message %q", as.Status.Conditions[0].Message)
	}
	other := desired.IdentityProvider(as, "https://other.example.com")
	if reconciler.StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, diff, other) {
		t.Error("the same fields for another issuer are mistaken for the reported change")
	}
	if msg := as.Status.Conditions[0].Message; strings.Contains(msg, issuer) || !strings.Contains(msg, issuer[:200]) {
		t.Errorf("the issuer is not quoted capped: %d bytes of message", len(msg))
	}
}
