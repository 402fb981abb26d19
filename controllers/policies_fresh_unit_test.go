package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// An AuthPolicy and a client applied in one sync: the cache may not hold
// the policy yet when the client is first reconciled. A client never
// provisioned reads the policies from the API server (APIReader); later
// reconciles read the cache. (Fake readers: this tests which reader the
// decision picks; the readers themselves are controller-runtime's.)
func TestFreshClientReadsPoliciesFromTheAPIServer(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := authv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pol := &authv1.AuthPolicy{ObjectMeta: metav1.ObjectMeta{Name: "secrets-only", Namespace: "security"},
		Spec: authv1.AuthPolicySpec{ClientAuthentication: &authv1.ClientAuthenticationPolicy{Method: authv1.ClientAuthSecretBasic}}}
	lagging := fake.NewClientBuilder().WithScheme(scheme).Build()
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pol).Build()
	r := &AuthClientReconciler{Client: lagging, APIReader: apiServer}
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "security"}}
	as.Spec.PolicySelector = &authv1.LabelSelector{}
	got, err := r.policiesOf(context.Background(), as, true)
	if err != nil || len(got) != 1 || got[0].Name != "secrets-only" {
		t.Errorf("a fresh client got policies %v (%v), want the one the API server has", got, err)
	}
	if got, err := r.policiesOf(context.Background(), as, false); err != nil || len(got) != 0 {
		t.Errorf("a provisioned client read %v (%v), want the cache's (none)", got, err)
	}
}
