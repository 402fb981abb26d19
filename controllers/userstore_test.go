package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// UserStore (issue 12), with a real slapd and the real Keycloak.

// userStore applies a UserStore in namespace security shaped like the
// spec's corporate-ldap, pointed at the test LDAP server, with ldap lines
// replaced or added by edit.
func userStore(t *testing.T, name, secret, extra string) *authv1.UserStore {
	t.Helper()
	ensureNamespace(t, "security", nil)
	us := &authv1.UserStore{}
	apply(t, ldapSrv.UserStore(name, "security", secret).YAML()+extra, us)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), us) })
	return us
}

func bindSecret(t *testing.T, name string, data map[string]string) *corev1.Secret {
	t.Helper()
	ensureNamespace(t, "security", nil)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "security"}, StringData: data}
	_ = k8s.Delete(context.Background(), s)
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
	return s
}

// waitUserStoreCondition waits for the AuthServer's UserStoreReady.
func waitUserStoreCondition(t *testing.T, as *authv1.AuthServer, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	eventually(t, 60*time.Second, fmt.Sprintf("UserStoreReady %s/%s on %s", status, reason, as.Name), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		c = meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	assertConditions(t, as)
	return c
}

func realmUsers(t *testing.T, realm string) []*gocloak.User {
	t.Helper()
	gc, tok := console(t)
	users, err := gc.GetUsers(context.Background(), tok, realm, gocloak.GetUsersParams{Max: gocloak.IntP(5000)})
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// passwordLogin signs a user in with their directory password, through a
// public client with direct access grants made in the console for the test.
func passwordLogin(t *testing.T, realm, user, password string) (*gocloak.JWT, error) {
	t.Helper()
	gc, tok := console(t)
	ctx := context.Background()
	if cs, _ := gc.GetClients(ctx, tok, realm, gocloak.GetClientsParams{ClientID: gocloak.StringP("password-probe")}); len(cs) == 0 {
		if _, err := gc.CreateClient(ctx, tok, realm, gocloak.Client{ClientID: gocloak.StringP("password-probe"), PublicClient: gocloak.BoolP(true),
			DirectAccessGrantsEnabled: gocloak.BoolP(true), StandardFlowEnabled: gocloak.BoolP(false)}); err != nil {
			t.Fatal(err)
		}
	}
	return gocloak.NewClient(kc.URL).Login(ctx, "password-probe", "", realm, user, password)
}

// The spec's corporate-ldap shape federates the test directory into a
// realm: users and groups imported, an LDAP user signs in with the LDAP
// password, status shows the sync; a console edit is reverted; a new bind
// password is applied; deleting the UserStore removes the federation.
func TestUserStoreFederatesLDAP(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "ldap-bind-password", map[string]string{"password": ldapSrv.ServicePassword})
	us := userStore(t, "directory", "ldap-bind-password", "")
	as := serverWith(t, "ldap-realm", "  userStoreRef: {name: directory}")
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	st := as.Status.UserStore
	if st == nil || st.ComponentID == "" || st.LastSync == nil || st.LastSync.Added != 2 || st.LastSync.Failed != 0 {
		t.Fatalf("status.userStore = %+v", st)
	}
	var names []string
	for _, u := range realmUsers(t, "ldap-realm") {
		if gocloak.PString(u.FederationLink) == st.ComponentID {
			names = append(names, gocloak.PString(u.Username))
		}
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "alice,bob" {
		t.Errorf("federated users %v, want alice and bob", names)
	}
	gc, tok := console(t)
	ctx := context.Background()
	alice, err := gc.GetUsers(ctx, tok, "ldap-realm", gocloak.GetUsersParams{Username: gocloak.StringP("alice"), Exact: gocloak.BoolP(true)})
	if err != nil || len(alice) != 1 {
		t.Fatalf("alice: %v", err)
	}
	groups, err := gc.GetUserGroups(ctx, tok, "ldap-realm", gocloak.PString(alice[0].ID), gocloak.GetGroupsParams{})
	if err != nil {
		t.Fatal(err)
	}
	var gnames []string
	for _, g := range groups {
		gnames = append(gnames, gocloak.PString(g.Name))
	}
	slices.Sort(gnames)
	if strings.Join(gnames, ",") != "admins,developers" {
		t.Errorf("alice's groups %v, want the LDAP groups admins and developers", gnames)
	}
	jwt, err := passwordLogin(t, "ldap-realm", "alice", "alice-password")
	if err != nil {
		t.Fatalf("alice cannot sign in with her LDAP password: %v", err)
	}
	if _, err := passwordLogin(t, "ldap-realm", "alice", "wrong"); err == nil {
		t.Error("a wrong LDAP password was accepted")
	}
	_ = jwt
	eventually(t, 30*time.Second, "UserStore status", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(us), us); err != nil {
			return err
		}
		c := meta.FindStatusCondition(us.Status.Conditions, authv1.ReadyCondition)
		if c == nil || c.Status != metav1.ConditionTrue || us.Status.Realms == nil || *us.Status.Realms != 1 || us.Status.LastSync == nil ||
			strings.Join(us.Status.AuthServers, ",") != "security/ldap-realm" {
			return fmt.Errorf("status %+v", us.Status)
		}
		return nil
	})

	// Drift: an admin points the federation elsewhere in the console.
	comp, err := gc.GetComponent(ctx, tok, "ldap-realm", st.ComponentID)
	if err != nil {
		t.Fatal(err)
	}
	comp.ComponentConfig["connectionUrl"] = []string{"ldap://elsewhere.example.com:389"}
	if err := gc.UpdateComponent(ctx, tok, "ldap-realm", *comp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the console edit reverted", func() error {
		c, err := gc.GetComponent(ctx, tok, "ldap-realm", st.ComponentID)
		if err != nil {
			return err
		}
		if got := c.ComponentConfig["connectionUrl"]; len(got) != 1 || got[0] != ldapSrv.URL {
			return fmt.Errorf("connectionUrl %v", got)
		}
		for _, e := range events(t, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted) {
			if strings.Contains(e.Note, "connectionUrl") {
				return nil
			}
		}
		return fmt.Errorf("no DriftReverted Event naming connectionUrl")
	})

	// A new bind password: set in the directory, then in the Secret; the
	// next sync binds with it.
	if err := ldapSrv.Modify("dn: " + ldapSrv.ServiceDN + "\nchangetype: modify\nreplace: userPassword\nuserPassword: rotated-bind-secret\n"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ldapSrv.Modify("dn: " + ldapSrv.ServiceDN + "\nchangetype: modify\nreplace: userPassword\nuserPassword: " + ldapSrv.ServicePassword + "\n")
	})
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "security", Name: "ldap-bind-password"}, s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"password": []byte("rotated-bind-secret")}
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the new bind password applied", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		if as.Status.UserStore == nil || as.Status.UserStore.BindSecretVersion != s.ResourceVersion {
			return fmt.Errorf("status.userStore %+v", as.Status.UserStore)
		}
		return nil
	})
	annotate(t, us, authv1.AnnotationSyncUsers, "after-password-change")
	eventually(t, 30*time.Second, "a sync with the new bind password", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		st := as.Status.UserStore
		if st == nil || st.LastSyncRequest != "after-password-change" || st.LastSync == nil || st.LastSync.Updated+st.LastSync.Added < 2 {
			return fmt.Errorf("status.userStore %+v", st)
		}
		// The request is written before the sync (LDAPSyncPending, with
		// the last sync's counts still there): wait for its outcome.
		if c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition); c != nil && c.Reason == authv1.ReasonLDAPSyncPending {
			return fmt.Errorf("sync not confirmed yet: %s", c.Message)
		}
		return nil
	})
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("UserStoreReady after the password change: %+v", c)
	}

	// Deleting the UserStore removes the federation and its users.
	if err := k8s.Delete(ctx, us); err != nil {
		t.Fatal(err)
	}
	waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonUserStoreNotFound)
	if _, err := gc.GetComponent(ctx, tok, "ldap-realm", st.ComponentID); err == nil {
		t.Error("the LDAP component is still in the realm")
	}
	for _, u := range realmUsers(t, "ldap-realm") {
		if u.FederationLink != nil {
			t.Errorf("user %s is still federated", gocloak.PString(u.Username))
		}
	}
	if occurrences(events(t, as, corev1.EventTypeNormal, authv1.ReasonUserStoreRemoved)) == 0 {
		t.Error("no UserStoreRemoved Event")
	}
	if !reconcilerReady(t, as) {
		t.Error("the AuthServer is not Ready after its UserStore went")
	}
}

func reconcilerReady(t *testing.T, as *authv1.AuthServer) bool {
	t.Helper()
	c := meta.FindStatusCondition(as.Status.Conditions, authv1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionTrue
}

// Each bad input has its own reason, on the AuthServer (UserStoreReady,
// with a Warning) and on the UserStore, and the realm stays Ready.
func TestUserStoreBadInput(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "good-bind", map[string]string{"password": ldapSrv.ServicePassword})
	bindSecret(t, "wrong-bind", map[string]string{"password": "not-the-password"})
	bindSecret(t, "keyless-bind", map[string]string{"pass": ldapSrv.ServicePassword})
	for _, c := range []struct {
		name, secret, extra, reason, msg string
	}{
		{"us-wrong-password", "wrong-bind", "", authv1.ReasonLDAPBindFailed, "refused the bind"},
		{"us-missing-secret", "no-such-secret", "", authv1.ReasonBindSecretInvalid, "does not exist"},
		{"us-keyless-secret", "keyless-bind", "", authv1.ReasonBindSecretInvalid, `has no key "password"`},
		{"us-nobody", "good-bind", "", authv1.ReasonLDAPNoUsers, "found no user"},
		{"us-unreachable", "good-bind", "", authv1.ReasonLDAPUnreachable, "got no LDAP answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			us := userStore(t, c.name, c.secret, "")
			orig := us.DeepCopy()
			switch c.name {
			case "us-nobody":
				us.Spec.LDAP.UserSearch.BaseDN = "ou=services,dc=example,dc=com"
			case "us-unreachable":
				us.Spec.LDAP.Server = "ldap://127.0.0.1:1"
			}
			if err := k8s.Patch(context.Background(), us, client.MergeFrom(orig)); err != nil {
				t.Fatal(err)
			}
			as := serverWith(t, c.name, "  userStoreRef: {name: "+c.name+"}")
			cond := waitUserStoreCondition(t, as, metav1.ConditionFalse, c.reason)
			if !strings.Contains(cond.Message, c.msg) {
				t.Errorf("message %q lacks %q", cond.Message, c.msg)
			}
			if !reconcilerReady(t, as) {
				t.Error("the realm must stay Ready when its UserStore fails")
			}
			if occurrences(events(t, as, corev1.EventTypeWarning, c.reason)) == 0 {
				t.Errorf("no Warning %s on the AuthServer", c.reason)
			}
			eventually(t, 30*time.Second, "the UserStore reports it", func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(us), us); err != nil {
					return err
				}
				r := meta.FindStatusCondition(us.Status.Conditions, authv1.ReadyCondition)
				if r == nil || r.Status != metav1.ConditionFalse || r.Reason != c.reason {
					return fmt.Errorf("Ready %+v", r)
				}
				return nil
			})
		})
	}

	// A UserStore serves its own namespace and those it lists.
	t.Run("other-namespace", func(t *testing.T) {
		userStore(t, "us-private", "good-bind", "")
		ensureNamespace(t, "team-squat", nil)
		as := &authv1.AuthServer{}
		apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: squat, namespace: team-squat}
spec:
  issuerUrl: "https://squat.example.com"
  deletionPolicy: Delete
  userStoreRef: {name: us-private, namespace: security}`, as)
		t.Cleanup(func() { deleteAndWait(t, as) })
		cond := waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonUserStoreNotAllowed)
		if !strings.Contains(cond.Message, `does not serve namespace "team-squat"`) {
			t.Errorf("message %q", cond.Message)
		}
		for _, u := range realmUsers(t, "squat") {
			if u.FederationLink != nil {
				t.Fatal("the directory was federated into a realm of another namespace")
			}
		}
	})
}

// ownComponentNames lists the LDAP federations Nauthera made in a realm.
func ownComponentNames(t *testing.T, realm string) []string {
	t.Helper()
	gc, tok := console(t)
	ctx := context.Background()
	r, err := gc.GetRealm(ctx, tok, realm)
	if err != nil {
		t.Fatal(err)
	}
	list, err := gc.GetComponentsWithParams(ctx, tok, realm, gocloak.GetComponentsParams{ParentID: r.ID, ProviderType: gocloak.StringP("org.keycloak.storage.UserStorageProvider")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		if strings.HasPrefix(gocloak.PString(c.Name), "nauthera:") {
			names = append(names, gocloak.PString(c.Name))
		}
	}
	return names
}

// Re-pointing userStoreRef replaces the federation (the old one, with its
// bind password, does not stay behind); an AuthServer deleted with its
// realm orphaned takes the federation with it.
func TestUserStoreRepointAndOrphan(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "repoint-bind", map[string]string{"password": ldapSrv.ServicePassword})
	userStore(t, "dir-a", "repoint-bind", "")
	userStore(t, "dir-b", "repoint-bind", "")
	as := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: repoint, namespace: security}
spec:
  issuerUrl: "https://repoint.example.com"
  deletionPolicy: Orphan
  userStoreRef: {name: dir-a}`, as)
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), as)
		gc, tok := console(t)
		_ = gc.DeleteRealm(context.Background(), tok, "repoint")
	})
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	if got := ownComponentNames(t, "repoint"); strings.Join(got, ",") != "nauthera:security/dir-a" {
		t.Fatalf("federations %v", got)
	}
	patch := []byte(`{"spec":{"userStoreRef":{"name":"dir-b"}}}`)
	if err := k8s.Patch(context.Background(), as, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "only dir-b federated", func() error {
		if got := ownComponentNames(t, "repoint"); strings.Join(got, ",") != "nauthera:security/dir-b" {
			return fmt.Errorf("federations %v", got)
		}
		return nil
	})
	deleteAndWait(t, as)
	if got := ownComponentNames(t, "repoint"); len(got) != 0 {
		t.Errorf("the orphaned realm keeps the federations %v", got)
	}
}
