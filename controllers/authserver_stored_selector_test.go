package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// withoutCRDRules plays an older CRD: the x-kubernetes-validations at path
// (under the first version) are removed until the returned restore runs
// (also at cleanup).
func withoutCRDRules(t *testing.T, crdName string, path ...string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	rules, found, _ := unstructured.NestedSlice(versions[0].(map[string]any), path...)
	if !found {
		t.Fatalf("the CRD %s has no rules at %v", crdName, path)
	}
	setRules := func(rules []any) {
		eventually(t, 10*time.Second, "CRD updated", func() error {
			cur := crd.DeepCopy()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(cur), cur); err != nil {
				return err
			}
			vs, _, _ := unstructured.NestedSlice(cur.Object, "spec", "versions")
			v := vs[0].(map[string]any)
			if rules == nil {
				unstructured.RemoveNestedField(v, path...)
			} else if err := unstructured.SetNestedSlice(v, rules, path...); err != nil {
				return err
			}
			vs[0] = v
			if err := unstructured.SetNestedSlice(cur.Object, vs, "spec", "versions"); err != nil {
				return err
			}
			return k8s.Update(ctx, cur)
		})
	}
	setRules(nil)
	restored := false
	restore = func() {
		if !restored {
			restored = true
			setRules(rules)
		}
	}
	t.Cleanup(restore)
	return restore
}

// An AuthServer stored before admission checked selector labels (the rule
// removed from the CRD for one create) gets InvalidSpec from its
// reconciler, naming the field, with a Warning Event (checkSelectors).
func TestStoredBrokenSelectorIsReportedOnTheAuthServer(t *testing.T) {
	integration(t)
	theOperator(t)
	ensureNamespace(t, "security", nil)
	restore := withoutCRDRules(t, "authservers.auth.nauthera.io",
		"schema", "openAPIV3Schema", "properties", "spec", "properties", "clientNamespaceSelector", "properties", "matchLabels", "x-kubernetes-validations")
	as := &authv1.AuthServer{}
	eventually(t, 30*time.Second, "the AuthServer stored under the older rules", func() error {
		if err := yaml.UnmarshalStrict([]byte(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: stored-broken-selector, namespace: security}
spec:
  issuerUrl: "https://stored-broken.example.com"
  clientNamespaceSelector:
    matchLabels: {"bad key!": x}`), as); err != nil {
			return err
		}
		return k8s.Create(context.Background(), as)
	})
	restore()
	t.Cleanup(func() { deleteAndWait(t, as) })
	cond := waitReady(t, as, metav1.ConditionFalse, authv1.ReasonInvalidSpec, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.clientNamespaceSelector is invalid") {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, as, authv1.ReasonInvalidSpec)
}
