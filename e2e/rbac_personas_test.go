package e2e

import (
	"context"
	"slices"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// aggregate plays kube-controller-manager's ClusterRole aggregation
// controller, which the test control plane does not run: each aggregated
// built-in role (view, then edit, then admin: they build on each other)
// gets the rules of every ClusterRole its aggregationRule selects.
func aggregate(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"view", "edit", "admin"} {
		role, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if role.AggregationRule == nil {
			t.Fatalf("ClusterRole %s has no aggregationRule", name)
		}
		var rules []rbacv1.PolicyRule
		for _, sel := range role.AggregationRule.ClusterRoleSelectors {
			list, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(&sel)})
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(list.Items, func(a, b rbacv1.ClusterRole) int {
				if a.Name < b.Name {
					return -1
				}
				return 1
			})
			for _, r := range list.Items {
				if r.Name != name {
					rules = append(rules, r.Rules...)
				}
			}
		}
		role.Rules = rules
		if _, err := cs.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// The chart's persona ClusterRoles, proven with SubjectAccessReviews: a
// namespace's edit user commits AuthClients and cannot write AuthServers,
// AuthPolicies or UserStores; view reads all four kinds, not Secrets.
func TestPersonaRBAC(t *testing.T) {
	needsControlPlane(t)
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var personas []string
	for _, o := range objects(t, render(t, "personas", "r-personas", nil)) {
		if isPersonaObject(o) {
			personas = append(personas, o.GetName())
			kubectlApply(t, yamlStream(t, []*unstructured.Unstructured{o}))
		}
	}
	if len(personas) != 4 {
		t.Fatalf("persona ClusterRoles %v", personas)
	}
	t.Cleanup(func() {
		for _, n := range personas {
			_ = cs.RbacV1().ClusterRoles().Delete(ctx, n, metav1.DeleteOptions{})
		}
		aggregate(t, cs)
	})
	aggregate(t, cs)
	if _, err := tool(t, nil, "kubectl", "create", "namespace", "team-rbac"); err != nil {
		t.Log(err)
	}
	for user, role := range map[string]string{"dev": "edit", "lead": "admin", "auditor": "view"} {
		mustTool(t, nil, "kubectl", "-n", "team-rbac", "create", "rolebinding", user+"-"+role, "--clusterrole="+role, "--user="+user)
	}

	can := func(user, verb, resource string) bool {
		t.Helper()
		group := "auth.nauthera.io"
		if resource == "secrets" {
			group = ""
		}
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: user, ResourceAttributes: &authzv1.ResourceAttributes{Namespace: "team-rbac", Verb: verb, Group: group, Resource: resource},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	for _, c := range []struct {
		user, verb, resource string
		want                 bool
	}{
		{"dev", "create", "authclients", true},
		{"dev", "update", "authclients", true},
		{"dev", "delete", "authclients", true},
		{"lead", "create", "authclients", true},
		{"dev", "create", "authservers", false},
		{"dev", "update", "authservers", false},
		{"dev", "create", "authpolicies", false},
		{"dev", "patch", "authpolicies", false},
		{"dev", "create", "userstores", false},
		{"lead", "create", "authservers", false},
		{"lead", "create", "authpolicies", false},
		{"lead", "update", "userstores", false},
		{"dev", "get", "authservers", true},
		{"auditor", "get", "authservers", true},
		{"auditor", "list", "authclients", true},
		{"auditor", "watch", "authpolicies", true},
		{"auditor", "get", "userstores", true},
		{"auditor", "get", "secrets", false},
		{"auditor", "create", "authclients", false},
		{"stranger", "get", "authclients", false},
	} {
		if got := can(c.user, c.verb, c.resource); got != c.want {
			t.Errorf("%s may %s %s: %v, want %v", c.user, c.verb, c.resource, got, c.want)
		}
	}
	t.Logf("persona ClusterRoles: %v", personas)
}
