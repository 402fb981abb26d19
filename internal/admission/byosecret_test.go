package admission_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// asUser is a client of the test API server that acts as user (with the
// groups every authenticated user has), through real impersonation: the
// webhook sees that user in the admission request.
func asUser(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated", "team-x"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func byoClient(t *testing.T, namespace, name, secretName string) *authv1.AuthClient {
	t.Helper()
	ac := &authv1.AuthClient{}
	doc := `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: ` + name + `, namespace: ` + namespace + `}
spec:
  authServerRef: {name: absent-server, namespace: security}
  grantTypes: [client_credentials]
  clientSecretRef: {name: ` + secretName + `, key: secret}`
	if err := yaml.UnmarshalStrict([]byte(doc), ac); err != nil {
		t.Fatal(err)
	}
	return ac
}

// An AuthClient naming a Secret is admitted only for a user the API
// server's RBAC allows to get that Secret (a real SubjectAccessReview for
// the impersonated requester): mallory, who may create AuthClients but not
// read the Secret, is refused on create and on an update that points an
// admitted client at it; alice, who may read it, is admitted.
func TestBYOSecretRefusedAtAdmissionWithoutGet(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	ctx := context.Background()
	const namespace = "byo-admission"
	ns(t, namespace)
	for _, name := range []string{"vault-synced", "mallory-own"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, StringData: map[string]string{"secret": "0123456789abcdefXYZ"}}
		if err := k8s.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// Both may write AuthClients; only alice may get vault-synced, and
	// mallory only her own Secret.
	roles := []*rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Name: "authclient-editor", Namespace: namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{authv1.GroupVersion.Group}, Resources: []string{"authclients"}, Verbs: []string{"get", "list", "create", "update", "patch"}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "vault-synced-reader", Namespace: namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"vault-synced"}, Verbs: []string{"get"}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "mallory-own-reader", Namespace: namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"mallory-own"}, Verbs: []string{"get"}},
		}},
	}
	bind := func(role, user string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role + "-" + user, Namespace: namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		}
	}
	objs := []client.Object{bind("authclient-editor", "alice"), bind("authclient-editor", "mallory"), bind("vault-synced-reader", "alice"), bind("mallory-own-reader", "mallory")}
	for _, r := range roles {
		objs = append(objs, r)
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	alice, mallory := asUser(t, "alice"), asUser(t, "mallory")

	err := mallory.Create(ctx, byoClient(t, namespace, "stolen", "vault-synced"))
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("mallory names a Secret she cannot get: want refused at admission, got %v", err)
	}
	for _, want := range []string{"spec.clientSecretRef.name", `user "mallory" may not get Secret vault-synced`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q:\n%v", want, err)
		}
	}
	if err := alice.Create(ctx, byoClient(t, namespace, "allowed", "vault-synced")); err != nil {
		t.Fatalf("alice may get the Secret: want admitted, got %v", err)
	}

	// An admitted client of mallory's own Secret, then pointed at the
	// other one: refused. Edits that leave the reference alone pass.
	own := byoClient(t, namespace, "own", "mallory-own")
	if err := mallory.Create(ctx, own); err != nil {
		t.Fatalf("mallory names her own Secret: want admitted, got %v", err)
	}
	own.Spec.DisplayName = "renamed"
	if err := mallory.Update(ctx, own); err != nil {
		t.Fatalf("an update that keeps the reference: want admitted, got %v", err)
	}
	own.Spec.ClientSecretRef.Name = "vault-synced"
	if err := mallory.Update(ctx, own); err == nil || !strings.Contains(err.Error(), "spec.clientSecretRef.name") {
		t.Fatalf("mallory repoints her client at a Secret she cannot get: want refused naming spec.clientSecretRef.name, got %v", err)
	}
	// Even alice's admitted client may not be edited by mallory to keep
	// using that Secret under another key (the reference changed).
	allowed := &authv1.AuthClient{}
	if err := mallory.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "allowed"}, allowed); err != nil {
		t.Fatal(err)
	}
	allowed.Spec.ClientSecretRef.Key = "other"
	if err := mallory.Update(ctx, allowed); err == nil || !strings.Contains(err.Error(), "may not get Secret vault-synced") {
		t.Fatalf("mallory changes the key of alice's reference: want refused, got %v", err)
	}
}

// The API server's schema refuses clientSecretRef where there is no
// client secret, and a reference to the AuthClient's own output Secret.
func TestBYOSecretSchemaRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest")
	}
	const namespace = "byo-schema"
	ns(t, namespace)
	for _, c := range []struct{ name, extra, want string }{
		{"public", "\n  clientType: Public\n  redirectUris: [\"https://spa.example.com/cb\"]\n  clientSecretRef: {name: s, key: k}", "spec.clientSecretRef: Invalid value"},
		{"secretless", "\n  serviceAccount: {name: worker}\n  grantTypes: [client_credentials]\n  clientSecretRef: {name: s, key: k}", "clientSecretRef is for a Confidential client with a client secret"},
		{"loop", "\n  grantTypes: [client_credentials]\n  clientSecretRef: {name: loop-client-secret, key: client_secret}", "names this AuthClient's own credentials Secret"},
		{"badkey", "\n  grantTypes: [client_credentials]\n  clientSecretRef: {name: s, key: \"a/b\"}", "spec.clientSecretRef.key"},
	} {
		err := create(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: `+c.name+`, namespace: `+namespace+`}
spec:
  authServerRef: {name: absent-server, namespace: security}`+c.extra, &authv1.AuthClient{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want refused with %q, got %v", c.name, c.want, err)
		}
	}
}
