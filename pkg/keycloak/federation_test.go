package keycloak_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The UserStore mapping against the real Keycloak and a real slapd: the
// connection and bind tests tell an unreachable server from a refused
// bind; the component imports the directory's users, the group mapper its
// groups and memberships.
func TestLDAPFederation(t *testing.T) {
	integration(t)
	ldap := testbed.LDAPFor(t, "keycloak-pkg")
	c, _ := newAdmin(t)
	ctx := context.Background()
	realm := testRealm(t, c)

	test := func(url, dn, pw string) error {
		return c.TestLDAPConnection(ctx, realm, keycloak.NewLDAPTest(url, dn, pw, 5*time.Second))
	}
	if err := test(ldap.URL, ldap.ServiceDN, ldap.ServicePassword); err != nil {
		t.Fatalf("bind with the service account: %v", err)
	}
	errBind := test(ldap.URL, ldap.ServiceDN, "wrong")
	errConn := test("ldap://127.0.0.1:1", ldap.ServiceDN, ldap.ServicePassword)
	t.Logf("wrong password: %v", errBind)
	t.Logf("unreachable: %v", errConn)
	if errBind == nil || errConn == nil {
		t.Fatal("a refused bind and an unreachable server must fail the test")
	}

	us := &authv1.UserStore{ObjectMeta: metav1.ObjectMeta{Name: "corporate-ldap", Namespace: "security"}, Spec: authv1.UserStoreSpec{
		Type: authv1.UserStoreTypeLDAP, LDAP: &authv1.LDAPSpec{
			Server: ldap.URL, BindDN: ldap.ServiceDN,
			UserSearch:  authv1.LDAPUserSearch{BaseDN: "ou=users," + ldap.BaseDN, Filter: "(objectClass=inetOrgPerson)", UsernameAttribute: "uid"},
			GroupSearch: &authv1.LDAPGroupSearch{BaseDN: "ou=groups," + ldap.BaseDN, Filter: "(objectClass=groupOfNames)", NameAttribute: "cn"},
		}}}
	rep, err := c.GetRealm(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateComponent(ctx, realm, desired.LDAPComponent(us, gocloak.PString(rep.ID), ldap.ServicePassword))
	if err != nil {
		t.Fatalf("create LDAP component: %v", err)
	}
	got, err := c.GetComponent(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := desired.ComponentDiff(desired.LDAPComponent(us, gocloak.PString(rep.ID), ""), *got); len(d) > 0 {
		t.Errorf("Keycloak keeps the component differently in %v: %v", d, got.ComponentConfig)
	}
	t.Logf("bindCredential as read: %v", got.ComponentConfig[desired.ConfigBindCredential])
	mappers, err := c.ListComponents(ctx, realm, id, desired.ProviderTypeLDAPMapper)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mappers {
		names = append(names, gocloak.PString(m.Name))
	}
	t.Logf("mappers Keycloak added: %v", names)
	mapperID, err := c.CreateComponent(ctx, realm, desired.GroupMapper(us, id))
	if err != nil {
		t.Fatalf("create group mapper: %v", err)
	}
	res, err := c.SyncUsers(ctx, realm, id, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sync: %+v", res)
	if res.Added != 2 || res.Failed != 0 {
		t.Errorf("sync result %+v, want 2 added", res)
	}
	gres, err := c.SyncMapper(ctx, realm, id, mapperID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("group sync: %+v", gres)

	gc, tok := console(t)
	users, err := gc.GetUsers(ctx, tok, realm, gocloak.GetUsersParams{Username: gocloak.StringP("alice"), Exact: gocloak.BoolP(true)})
	if err != nil || len(users) != 1 || gocloak.PString(users[0].FederationLink) != id {
		t.Fatalf("alice: %v %+v", err, users)
	}
	groups, err := gc.GetUserGroups(ctx, tok, realm, gocloak.PString(users[0].ID), gocloak.GetGroupsParams{})
	if err != nil {
		t.Fatal(err)
	}
	var gnames []string
	for _, g := range groups {
		gnames = append(gnames, gocloak.PString(g.Name))
	}
	if strings.Join(gnames, ",") != "admins,developers" {
		t.Errorf("alice's groups %v, want admins and developers", gnames)
	}
}

// BenchmarkLDAPSync1000Users measures a full sync of 1,000 directory users
// (and their group) into a fresh realm: the first sync imports them all,
// the next updates them. `go test ./pkg/keycloak -run - -bench LDAPSync -benchtime 3x`.
func BenchmarkLDAPSync1000Users(b *testing.B) {
	ldap := testbed.LDAPFor(b, "keycloak-bench")
	var ldif strings.Builder
	ldif.WriteString("dn: ou=many,dc=example,dc=com\nchangetype: add\nobjectClass: organizationalUnit\nou: many\n\n")
	members := ""
	for i := range 1000 {
		fmt.Fprintf(&ldif, "dn: uid=user%04d,ou=many,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\nuid: user%04d\ncn: User %d\nsn: %d\nmail: user%04d@example.com\nuserPassword: pw-%d\n\n", i, i, i, i, i, i)
		members += fmt.Sprintf("member: uid=user%04d,ou=many,dc=example,dc=com\n", i)
	}
	ldif.WriteString("dn: cn=everyone,ou=groups,dc=example,dc=com\nchangetype: add\nobjectClass: groupOfNames\ncn: everyone\n" + members + "\n")
	if err := ldap.Modify(ldif.String()); err != nil {
		b.Fatal(err)
	}
	c, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}, Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	us := &authv1.UserStore{ObjectMeta: metav1.ObjectMeta{Name: "many", Namespace: "bench"}, Spec: authv1.UserStoreSpec{
		Type: authv1.UserStoreTypeLDAP, LDAP: &authv1.LDAPSpec{Server: ldap.URL, BindDN: ldap.ServiceDN,
			UserSearch:  authv1.LDAPUserSearch{BaseDN: "ou=many," + ldap.BaseDN, UsernameAttribute: "uid"},
			GroupSearch: &authv1.LDAPGroupSearch{BaseDN: "ou=groups," + ldap.BaseDN, NameAttribute: "cn"},
		}}}
	var first, again time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		realm := fmt.Sprintf("bench-ldap-%d", i)
		if err := c.CreateRealm(ctx, gocloak.RealmRepresentation{Realm: &realm, Enabled: gocloak.BoolP(true)}); err != nil {
			b.Fatal(err)
		}
		rep, err := c.GetRealm(ctx, realm)
		if err != nil {
			b.Fatal(err)
		}
		id, err := c.CreateComponent(ctx, realm, desired.LDAPComponent(us, gocloak.PString(rep.ID), ldap.ServicePassword))
		if err != nil {
			b.Fatal(err)
		}
		mapper, err := c.CreateComponent(ctx, realm, desired.GroupMapper(us, id))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		res, err := c.SyncUsers(ctx, realm, id, true)
		if err != nil || res.Added != 1000 || res.Failed != 0 {
			b.Fatalf("first sync: %v %+v", err, res)
		}
		if _, err := c.SyncMapper(ctx, realm, id, mapper); err != nil {
			b.Fatal(err)
		}
		first += time.Since(t0)
		t1 := time.Now()
		if res, err = c.SyncUsers(ctx, realm, id, true); err != nil || res.Updated+res.Added != 1000 {
			b.Fatalf("second sync: %v %+v", err, res)
		}
		again += time.Since(t1)
		b.StopTimer()
		_ = c.DeleteRealm(ctx, realm)
		b.StartTimer()
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "s/first-sync")
	b.ReportMetric(again.Seconds()/float64(b.N), "s/resync")
}
