package reconciler

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// A change set longer than a condition holds is recognised once reported
// (so it is not written again at every resync), and a list that differs
// only past the cut is not mistaken for it.
func TestStillNotAppliedSurvivesTruncation(t *testing.T) {
	var changes []string
	for i := range 200 {
		changes = append(changes, fmt.Sprintf("redirectUris (https://app-%03d.example.com/callback)", i))
	}
	rep := Reporter{Recorder: events.NewFakeRecorder(10), Kind: "AuthClient"}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", UID: "u-notapplied", Generation: 3}}
	const what = `client "n.a"`
	want := map[string]string{"redirectUris": "the desired list"}
	still := func(changes []string) bool { return StillNotApplied(ac, what, changes, want) }
	err := NotApplied(what, changes, want, "AuthClient")
	if len(Classify(err).Msg) <= MaxConditionMessage {
		t.Fatalf("the test needs a message longer than %d bytes", MaxConditionMessage)
	}
	if still(changes) {
		t.Fatal("nothing reported yet")
	}
	rep.Stalled(context.Background(), ac, Classify(err).Reason, Classify(err).Msg)

	if !still(changes) {
		t.Error("the same long change set, reported before, is not recognised: it would be written at every resync")
	}
	reordered := append([]string{changes[len(changes)-1]}, changes[:len(changes)-1]...)
	if !still(reordered) {
		t.Error("the same changes in another order are another change set")
	}
	tail := append(append([]string{}, changes[:len(changes)-1]...), "webOrigins (https://other.example.com)")
	if still(tail) {
		t.Error("a change set that differs past the truncation is mistaken for the reported one")
	}
	ac.Generation++
	if still(changes) {
		t.Error("a new generation must be tried again")
	}
}

// On another condition, the failure may be quoted after words of its own.
func TestStillNotAppliedOnAnotherCondition(t *testing.T) {
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Generation: 2}}
	changes := []string{"config.fedClientAssertionMaxExp"}
	const what = `identity provider "nauthera-kubernetes"`
	want := map[string]string{"config.fedClientAssertionMaxExp": "600"}
	SetCondition(as, authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, authv1.ReasonChangeNotApplied,
		"The identity provider could not be set up in realm r: "+Classify(NotApplied(what, changes, want, "AuthServer")).Msg)
	if !StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, changes, want) {
		t.Error("the reported change set is not recognised")
	}
	if StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, []string{"config.issuer"}, want) {
		t.Error("another change set is mistaken for the reported one")
	}
	if StillNotApplied(as, what, changes, want) {
		t.Error("Ready does not report it")
	}
}

// The same fields with other desired values (a value that changed without
// a new generation: a newly discovered issuer) are another change set,
// tried again.
func TestStillNotAppliedComparesValues(t *testing.T) {
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Generation: 2}}
	changes := []string{"config.issuer"}
	const what = `identity provider "nauthera-kubernetes"`
	SetCondition(as, authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, authv1.ReasonChangeNotApplied,
		Classify(NotApplied(what, changes, map[string]string{"issuer": "https://a.example"}, "AuthServer")).Msg)
	if !StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, changes, map[string]string{"issuer": "https://a.example"}) {
		t.Error("the reported change is not recognised")
	}
	if StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, changes, map[string]string{"issuer": "https://b.example"}) {
		t.Error("the same field with another desired value is mistaken for the reported change")
	}
}
