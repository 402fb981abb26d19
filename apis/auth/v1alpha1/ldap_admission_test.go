package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/ldapfilter"
)

// Issue 21, admission gaps of the UserStore: a port outside 1-65535 in the
// LDAP server URL, and filters that are not well-formed (balanced
// parentheses are not enough).

func userStoreWith(server, userFilter, groupFilter string) *unstructured.Unstructured {
	ldap := map[string]any{
		"server":     server,
		"userSearch": map[string]any{"baseDN": "ou=users,dc=example,dc=com"},
	}
	if userFilter != "" {
		ldap["userSearch"].(map[string]any)["filter"] = userFilter
	}
	if groupFilter != "" {
		ldap["groupSearch"] = map[string]any{"baseDN": "ou=groups,dc=example,dc=com", "filter": groupFilter}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.nauthera.io/v1alpha1", "kind": "UserStore",
		"metadata": map[string]any{"name": "u", "namespace": "security"},
		"spec":     map[string]any{"type": "ldap", "ldap": ldap},
	}}
}

func TestLDAPServerPortIsInRange(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	for _, server := range []string{"ldap://ldap.example.com:0", "ldaps://ldap.example.com:65536", "ldap://ldap.example.com:99999", "ldap://ldap.example.com:389x",
		"ldap://ldap.example.com:", "ldaps://[::1]:70000", "ldap://ldap.example.com:0389", "ldap://a:389:389",
		"ldap://h[x]:99999", "ldap://[::1]x:99999", "ldap://h]:70000"} {
		err := k8s.Create(context.Background(), userStoreWith(server, "", ""), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "spec.ldap.server") || !strings.Contains(err.Error(), "from 1 to 65535") {
			t.Errorf("%s: %v", server, err)
		}
	}
	for _, server := range []string{"ldap://ldap.example.com", "ldap://ldap.example.com:1", "ldaps://ldap.example.com:636", "ldap://ldap.example.com:65535",
		"ldaps://[::1]:636", "ldap://[::1]", "ldap://ldap.example.com:389/dc=example,dc=com"} {
		if err := k8s.Create(context.Background(), userStoreWith(server, "", ""), client.DryRunAll); err != nil {
			t.Errorf("%s refused: %v", server, err)
		}
	}
}

// The API server (the CRD's CEL rules) and ldapfilter.Validate (the
// reconciler's full parse) decide alike, for user and group filters, and
// a refusal names the field.
func TestLDAPFilterAdmissionAgreesWithTheParser(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	filters := []string{
		"(objectClass=inetOrgPerson)", "(objectClass=*)", "(cn=J*n*Doe)", "(cn=)", "(sn~=smyth)", "(uidNumber>=1000)",
		"(cn=Sales\\2c EMEA)", "(cn=Ωmega)", "(cn;lang-de=x)", "(2.5.4.3=x)", "(cn:caseExactMatch:=Fred)", "(:dn:2.4.6.8.10:=Dino)",
		"(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
		"(&(a=1)(&(b=2)(&(c=3)(&(d=4)(&(e=5)(&(f=6)(g=7)))))))",
		// refused
		"objectClass=person", "()", "(a=1))((b=2)", "(a=1)(b=2)", "((a=1))", "(&)", "(!(a=1)(b=2))", "(=x)", "(a b=x)",
		"(a=(x)", "(a=\\zz)", "(a~=x*)", "(:=x)", "(01.2=x)", "(& (a=1))", "(a=1) ",
		"(&(a=1)(&(b=2)(&(c=3)(&(d=4)(&(e=5)(&(f=6)(&(g=7)(h=8))))))))",
		"(&(objectClass=person)(|(cn=a)(cn=b))", "(|(cn=a)(cn=b)))(",
	}
	refused := 0
	for _, f := range filters {
		valid := ldapfilter.Validate(f) == nil
		for _, field := range []string{"userSearch", "groupSearch"} {
			us := userStoreWith("ldap://ldap.example.com", f, "")
			if field == "groupSearch" {
				us = userStoreWith("ldap://ldap.example.com", "", f)
			}
			err := k8s.Create(context.Background(), us, client.DryRunAll)
			switch {
			case valid && err != nil:
				t.Errorf("%s.filter %q: refused at admission, valid for the parser: %v", field, f, err)
			case !valid && err == nil:
				t.Errorf("%s.filter %q: admitted, refused by the parser: %v", field, f, ldapfilter.Validate(f))
			case !valid && !strings.Contains(err.Error(), "spec.ldap."+field+".filter"):
				t.Errorf("%s.filter %q: the refusal does not name the field: %v", field, f, err)
			case !valid:
				refused++
			}
		}
	}
	if refused == 0 {
		t.Error("no filter was refused")
	}
}

// The CRD's CEL rules hold ldapfilter's patterns as they are now (a change
// to one without the other would make admission and the reconciler differ).
func TestLDAPFilterRulesMatchTheParser(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "apis", "auth", "v1alpha1", "userstore_types.go"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := "self.matches(r'^(?:" + ldapfilter.TokenPattern + ")+$')"
	nesting := "self.matches(r'^" + ldapfilter.NestingPattern + "$')"
	// Both rules of the LDAPFilter type tokenize; the second nests. Both
	// filter fields are of that type (the build checks that).
	for want, times := range map[string]int{tokens: 2, nesting: 1} {
		if n := strings.Count(string(src), want); n != times {
			t.Errorf("the filter rules hold %.60q %d times, want %d", want, n, times)
		}
	}
}
