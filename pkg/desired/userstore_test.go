package desired

import (
	"slices"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func specUserStore() *authv1.UserStore {
	return &authv1.UserStore{ObjectMeta: metav1.ObjectMeta{Name: "corporate-ldap", Namespace: "security"}, Spec: authv1.UserStoreSpec{
		Type: authv1.UserStoreTypeLDAP, LDAP: &authv1.LDAPSpec{
			Server: "ldaps://ldap.example.com:636", BindDN: "cn=admin,dc=example,dc=com",
			BindPasswordSecretRef: &authv1.SecretKeySelector{Name: "ldap-bind-password", Key: "password"},
			UserSearch:            authv1.LDAPUserSearch{BaseDN: "ou=users,dc=example,dc=com", Filter: "(objectClass=inetOrgPerson)", UsernameAttribute: "uid"},
			GroupSearch:           &authv1.LDAPGroupSearch{BaseDN: "ou=groups,dc=example,dc=com", Filter: "(objectClass=groupOfNames)", NameAttribute: "cn"},
		}}}
}

func TestLDAPComponentFromTheSpecShape(t *testing.T) {
	c := LDAPComponent(specUserStore(), "realm-id", "pw")
	cfg := c.ComponentConfig
	for k, want := range map[string]string{
		"connectionUrl": "ldaps://ldap.example.com:636", "bindDn": "cn=admin,dc=example,dc=com", "bindCredential": "pw", "authType": "simple",
		"usersDn": "ou=users,dc=example,dc=com", "customUserSearchFilter": "(objectClass=inetOrgPerson)",
		"usernameLDAPAttribute": "uid", "rdnLDAPAttribute": "uid", "uuidLDAPAttribute": "entryUUID",
		"userObjectClasses": "inetOrgPerson, organizationalPerson", "editMode": "READ_ONLY", "pagination": "true",
		"fullSyncPeriod": "86400", "changedSyncPeriod": "900", "searchScope": "2",
	} {
		if got := cfg[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
	if gocloak.PString(c.ParentID) != "realm-id" || gocloak.PString(c.ProviderID) != "ldap" || gocloak.PString(c.Name) != "nauthera:security/corporate-ldap" {
		t.Errorf("component %+v", c)
	}

	us := specUserStore()
	us.Spec.LDAP.BindDN, us.Spec.LDAP.BindPasswordSecretRef = "", nil
	us.Spec.LDAP.FullSyncPeriod = &metav1.Duration{Duration: time.Hour}
	us.Spec.LDAP.UserSearch.UUIDAttribute, us.Spec.LDAP.UserSearch.ObjectClasses = "objectGUID", []string{"person", "user"}
	cfg = LDAPComponent(us, "r", "").ComponentConfig
	if cfg["authType"][0] != "none" || cfg["fullSyncPeriod"][0] != "3600" || cfg["uuidLDAPAttribute"][0] != "objectGUID" || cfg["userObjectClasses"][0] != "person, user" {
		t.Errorf("anonymous, 1h full sync, AD attributes: %v", cfg)
	}

	g := GroupMapper(specUserStore(), "parent").ComponentConfig
	if g["groups.dn"][0] != "ou=groups,dc=example,dc=com" || g["group.name.ldap.attribute"][0] != "cn" || g["mode"][0] != "READ_ONLY" || g["membership.user.ldap.attribute"][0] != "uid" {
		t.Errorf("group mapper %v", g)
	}
}

func TestComponentDiffIgnoresTheMaskedPassword(t *testing.T) {
	want := LDAPComponent(specUserStore(), "r", "secret")
	actual := LDAPComponent(specUserStore(), "r", "**********")
	delete(actual.ComponentConfig, "customUserSearchFilter") // Keycloak drops empty values; here one that is set
	actual.ComponentConfig["connectionUrl"] = []string{"ldap://elsewhere:389"}
	actual.ComponentConfig["someoneElses"] = []string{"x"}
	if d := ComponentDiff(want, actual); !slices.Equal(d, []string{"connectionUrl", "customUserSearchFilter"}) {
		t.Errorf("diff %v", d)
	}
	merged := MergeComponent(want, actual, false)
	if merged.ComponentConfig["bindCredential"][0] != "**********" || merged.ComponentConfig["someoneElses"][0] != "x" || merged.ComponentConfig["connectionUrl"][0] != "ldaps://ldap.example.com:636" {
		t.Errorf("merge without password %v", merged.ComponentConfig)
	}
	if MergeComponent(want, actual, true).ComponentConfig["bindCredential"][0] != "secret" {
		t.Error("merge with password does not send it")
	}
	// An empty wanted value equals an absent one.
	us := specUserStore()
	us.Spec.LDAP.UserSearch.Filter = ""
	w := LDAPComponent(us, "r", "")
	a := LDAPComponent(us, "r", "")
	delete(a.ComponentConfig, "customUserSearchFilter")
	if d := ComponentDiff(w, a); len(d) != 0 {
		t.Errorf("diff %v", d)
	}
}
