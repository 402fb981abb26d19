package testbed_test

import (
	"testing"

	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// The UserStore fixture is a well-formed UserStore (strict: no unknown or
// misplaced field) carrying exactly what it was given: the spec's
// corporate-ldap bound as the directory's service account, or an anonymous
// one without groups.
func TestUserStoreDoc(t *testing.T) {
	l := &testbed.LDAP{URL: "ldap://127.0.0.1:3890", ServiceDN: "cn=keycloak,ou=services,dc=example,dc=com"}
	var bound authv1.UserStore
	if err := yaml.UnmarshalStrict([]byte(l.UserStore("corporate-ldap", "security", "ldap-bind-password").YAML()), &bound); err != nil {
		t.Fatal(err)
	}
	s := bound.Spec.LDAP
	if bound.Name != "corporate-ldap" || bound.Namespace != "security" || bound.Spec.Type != authv1.UserStoreTypeLDAP || s == nil {
		t.Fatalf("bound UserStore: %+v", bound)
	}
	if s.Server != l.URL || s.BindDN != l.ServiceDN || s.BindPasswordSecretRef == nil || s.BindPasswordSecretRef.Name != "ldap-bind-password" || s.BindPasswordSecretRef.Key != "password" {
		t.Errorf("bound UserStore's connection: %+v", s)
	}
	if s.UserSearch.BaseDN != "ou=users,dc=example,dc=com" || s.UserSearch.UsernameAttribute != "uid" || s.GroupSearch == nil || s.GroupSearch.BaseDN != "ou=groups,dc=example,dc=com" {
		t.Errorf("bound UserStore's searches: %+v %+v", s.UserSearch, s.GroupSearch)
	}

	var anonymous authv1.UserStore
	if err := yaml.UnmarshalStrict([]byte(testbed.UserStoreDoc{Name: "anon", Namespace: "security", Server: "ldap://127.0.0.1:1"}.YAML()), &anonymous); err != nil {
		t.Fatal(err)
	}
	if a := anonymous.Spec.LDAP; a == nil || a.Server != "ldap://127.0.0.1:1" || a.BindDN != "" || a.BindPasswordSecretRef != nil || a.GroupSearch != nil {
		t.Errorf("anonymous UserStore: %+v", a)
	}
}
