package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// An operator without a Keycloak password (issue 23, item 3): the operator
// logs in to the master realm as a federated-JWT client with its own
// service-account token, which the test API server issues and Keycloak
// checks against the API server's issuer (the same trust as secretless
// clients). A bootstrap admin sets the trust up once and is then deleted.

const (
	// operatorLoginIDP is the master realm's identity provider that the
	// bootstrap creates (cmd/nauthera's default alias).
	operatorLoginIDP = "nauthera-operator-kubernetes"
	operatorSA       = "nauthera-operator"
	operatorClientID = "nauthera-operator"
)

var operatorLoginOnce sync.Once

// masterAudience is the audience Keycloak accepts in the operator's token:
// the master realm's issuer.
func masterAudience() string { return kc.URL + "/realms/master" }

// bootstrapOperatorLogin plays the chart's bootstrap hook once: a temporary
// bootstrap admin (as Keycloak 26 makes from KC_BOOTSTRAP_ADMIN_*) creates
// the identity provider and the operator's admin client, twice (the hook
// runs on every upgrade), and is then deleted.
func bootstrapOperatorLogin(t *testing.T) {
	t.Helper()
	operatorLoginOnce.Do(func() {
		ctx := context.Background()
		serviceAccount(t, operatorNS, operatorSA)
		gc, tok := console(t)
		user, pw := "temp-bootstrap-admin", "bootstrap-"+fmt.Sprint(time.Now().UnixNano())
		uid, err := gc.CreateUser(ctx, tok, "master", gocloak.User{Username: gocloak.StringP(user), Enabled: gocloak.BoolP(true)})
		if err != nil {
			t.Fatal(err)
		}
		if err := gc.SetPassword(ctx, tok, uid, "master", pw, false); err != nil {
			t.Fatal(err)
		}
		admin, err := gc.GetRealmRole(ctx, tok, "master", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if err := gc.AddRealmRoleToUser(ctx, tok, "master", uid, []gocloak.Role{*admin}); err != nil {
			t.Fatal(err)
		}
		boot, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: user, Password: pw}})
		if err != nil {
			t.Fatal(err)
		}
		fa := keycloak.FederatedAdmin{
			IdentityProviderAlias: operatorLoginIDP, Issuer: saIssuer.URL, ClientID: operatorClientID,
			Subject: authv1.ServiceAccountSubject(operatorNS, operatorSA), RealmRoles: []string{"admin"},
			// Short-lived admin tokens, so that the test sees the operator log in again.
			AccessTokenLifespan: 10 * time.Second,
		}
		for i := range 2 {
			warning, err := boot.BootstrapFederatedAdmin(ctx, fa)
			if err != nil || warning != "" {
				t.Fatalf("bootstrap run %d: %v (warning %q)", i+1, err, warning)
			}
		}
		if err := boot.DeleteUserByName(ctx, "master", user); err != nil {
			t.Fatal(err)
		}
		if _, err := gocloak.NewClient(kc.URL).LoginAdmin(ctx, user, pw, "master"); err == nil {
			t.Fatal("the temporary bootstrap admin still logs in after the bootstrap deleted it")
		}
	})
}

// writeOperatorToken writes a fresh token of the operator's ServiceAccount,
// as the kubelet does into a projected volume.
func writeOperatorToken(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(saToken(t, operatorNS, operatorSA, masterAudience())), 0o600); err != nil {
		t.Fatal(err)
	}
}

// swapOperator stops the running operator and starts one with defaults in
// its place; when the test ends, the next test starts the usual one.
func swapOperator(t testing.TB, defaults connection.Defaults) *operator {
	t.Helper()
	opMu.Lock()
	defer opMu.Unlock()
	if current != nil {
		current.stop()
	}
	current = startOperatorWith(t, defaults)
	op := current
	t.Cleanup(func() {
		opMu.Lock()
		defer opMu.Unlock()
		if current == op {
			current.stop()
			current = nil
		}
	})
	return current
}

// specClientRecreated deletes the spec example's Keycloak client in the
// console and waits until the operator has made it again and the Secret
// holds the new client's secret: proof that the running operator writes to
// Keycloak.
func specClientRecreated(t *testing.T, ac *authv1.AuthClient) {
	t.Helper()
	ctx := context.Background()
	old := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
	if old == nil {
		t.Fatal("no Keycloak client my-app-dev.my-webapp")
	}
	gc, tok := console(t)
	if err := gc.DeleteClient(ctx, tok, "production-server", gocloak.PString(old.ID)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the deleted client recreated and its secret mirrored", func() error {
		cl := keycloakClient(t, "production-server", "my-app-dev.my-webapp")
		if cl == nil || gocloak.PString(cl.ID) == gocloak.PString(old.ID) {
			return fmt.Errorf("not recreated yet")
		}
		if string(secretOf(t, "my-app-dev", "my-webapp-client-secret").Data["client_secret"]) != keycloakSecret(t, "production-server", gocloak.PString(cl.ID)) {
			return fmt.Errorf("the Secret does not hold the new client's secret yet")
		}
		return nil
	})
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
}

// logins counts the operator's logins with this outcome ("200": accepted).
func (o *operator) logins(code string) int {
	return testbed.KeycloakRequests(o.metrics, func(l map[string]string) bool {
		return l["operation"] == "token.login" && l["code"] == code
	})
}

func TestPasswordlessOperator(t *testing.T) {
	integration(t)
	bootstrapOperatorLogin(t)
	file := filepath.Join(t.TempDir(), "token")
	writeOperatorToken(t, file)
	// No Secret, no folder, no password: a client id and a token file.
	defaults := connection.Defaults{URL: kc.URL, ClientID: operatorClientID, TokenFile: file}
	op := swapOperator(t, defaults)

	as, ac := specExample(t)
	if as.Status.RealmName != "production-server" {
		t.Fatalf("realm %q", as.Status.RealmName)
	}
	specClientRecreated(t, ac)
	if op.logins("200") < 1 || op.writes() < 1 {
		t.Fatalf("the passwordless operator logged in %d times and wrote %d times", op.logins("200"), op.writes())
	}
	// Admin tokens live 10 s here: the operator logs in again (the 60 s
	// reuse of one token is the master realm's default lifespan).
	eventually(t, 60*time.Second, "a second login", func() error {
		if n := op.logins("200"); n < 2 {
			return fmt.Errorf("%d logins", n)
		}
		return nil
	})

	t.Run("the token file is read at each login", func(t *testing.T) {
		if err := os.WriteFile(file, []byte("not-a-token"), 0o600); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "a login refused with the file's new content", func() error {
			if n := op.logins("401") + op.logins("400"); n < 1 {
				return fmt.Errorf("no refused login yet")
			}
			return nil
		})
		// The kubelet writes the next token: the operator recovers without a restart.
		writeOperatorToken(t, file)
		specClientRecreated(t, ac)
	})

	t.Run("a restarted operator keeps working", func(t *testing.T) {
		op := swapOperator(t, defaults)
		specClientRecreated(t, ac)
		if op.logins("200") < 1 {
			t.Error("the new operator did not log in with its token")
		}
	})
}

// A per-realm admin identity (spec.adminIdentity) reaches its own realm and
// gets 403 on every other one; the operator manages the realm with it.
func TestPasswordlessPerRealmIdentity(t *testing.T) {
	integration(t)
	ctx := context.Background()
	a := serverWith(t, "pw-realm-a", "")
	b := serverWith(t, "pw-realm-b", "")
	serviceAccount(t, "security", "pw-realm-a-admin")
	root, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	// pw-realm-d: a second realm of the identity's, which it deletes below.
	if err := root.CreateRealm(ctx, gocloak.RealmRepresentation{Realm: gocloak.StringP("pw-realm-d"), Enabled: gocloak.BoolP(true)}); err != nil && !keycloak.IsConflict(err) {
		t.Fatal(err)
	}
	if err := root.EnsureFederatedAdmin(ctx, keycloak.FederatedAdmin{
		IdentityProviderAlias: operatorLoginIDP, Issuer: saIssuer.URL, ClientID: "pw-realm-a-admin",
		Subject: authv1.ServiceAccountSubject("security", "pw-realm-a-admin"), ManagedRealms: []string{"pw-realm-a", "pw-realm-d"},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cl, err := root.FindClient(ctx, "master", "pw-realm-a-admin"); err == nil {
			_ = root.DeleteClient(ctx, "master", gocloak.PString(cl.ID))
		}
	})

	ident, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{
		ClientID: "pw-realm-a-admin", AssertionFrom: "test",
		Assertion: func(context.Context) (string, error) {
			return saToken(t, "security", "pw-realm-a-admin", masterAudience()), nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ident.GetRealm(ctx, "pw-realm-a"); err != nil {
		t.Fatalf("the identity cannot read its own realm: %v", err)
	}
	if _, err := ident.FindClient(ctx, "pw-realm-a", "account"); err != nil {
		t.Fatalf("the identity cannot read its own realm's clients: %v", err)
	}
	// Keycloak answers a read of another realm with 200 and the realm's
	// name only (anyone with an admin role may list realm names);
	// GetRealm reports that as the 403 it is.
	for what, err := range map[string]error{
		"read another realm":           func() error { _, err := ident.GetRealm(ctx, "pw-realm-b"); return err }(),
		"read another realm's clients": func() error { _, err := ident.FindClient(ctx, "pw-realm-b", "account"); return err }(),
		"write another realm's client": func() error {
			_, err := ident.CreateClient(ctx, "pw-realm-b", gocloak.Client{ClientID: gocloak.StringP("planted")})
			return err
		}(),
		"delete another realm": ident.DeleteRealm(ctx, "pw-realm-b"),
		"create a realm":       ident.CreateRealm(ctx, gocloak.RealmRepresentation{Realm: gocloak.StringP("pw-realm-c"), Enabled: gocloak.BoolP(true)}),
		"read the master realm's clients": func() error {
			_, err := ident.FindClient(ctx, "master", operatorClientID)
			return err
		}(),
	} {
		if !keycloak.IsForbidden(err) {
			t.Errorf("%s: got %v, want HTTP 403", what, err)
		}
	}
	if _, err := root.GetRealm(ctx, "pw-realm-b"); err != nil {
		t.Fatalf("realm pw-realm-b after the refused delete: %v", err)
	}
	// manage-realm is all Keycloak asks to delete a realm: the identity
	// deletes its own (so deletionPolicy: Delete works with it).
	if err := ident.DeleteRealm(ctx, "pw-realm-d"); err != nil {
		t.Errorf("the identity cannot delete its own realm: %v", err)
	}
	if _, err := root.GetRealm(ctx, "pw-realm-d"); !keycloak.IsNotFound(err) {
		t.Errorf("realm pw-realm-d after the identity deleted it: %v", err)
	}
	// Within its realm it holds management roles, but not impersonation:
	// a leaked identity must not act as the realm's users.
	gc, tok := console(t)
	mgmt, err := root.FindClient(ctx, "master", "pw-realm-a-realm")
	if err != nil {
		t.Fatal(err)
	}
	identClient, err := root.FindClient(ctx, "master", "pw-realm-a-admin")
	if err != nil {
		t.Fatal(err)
	}
	saUser, err := gc.GetClientServiceAccount(ctx, tok, "master", gocloak.PString(identClient.ID))
	if err != nil {
		t.Fatal(err)
	}
	held, err := gc.GetClientRolesByUserID(ctx, tok, "master", gocloak.PString(mgmt.ID), gocloak.PString(saUser.ID))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range held {
		names[gocloak.PString(r.Name)] = true
	}
	if !names["manage-clients"] || !names["manage-realm"] || names["impersonation"] {
		t.Errorf("the identity's roles of pw-realm-a-realm: %v (want manage-clients and manage-realm, not impersonation)", names)
	}

	// The operator manages realm a with the identity: an AuthClient of a
	// is provisioned. Realm b pointed at a's identity (a careless copy)
	// gets 403, reported on b, and b's realm is untouched.
	setIdentity := func(as *authv1.AuthServer, ai *authv1.AdminIdentity) {
		t.Helper()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		as.Spec.AdminIdentity = ai
		if err := k8s.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	identity := &authv1.AdminIdentity{ClientID: "pw-realm-a-admin", ServiceAccountName: "pw-realm-a-admin"}
	setIdentity(a, identity)
	setIdentity(b, identity)
	t.Cleanup(func() { setIdentity(a, nil); setIdentity(b, nil) })
	waitReady(t, b, metav1.ConditionFalse, authv1.ReasonKeycloakForbidden, 60*time.Second)
	if cond := waitReady(t, b, metav1.ConditionFalse, authv1.ReasonKeycloakForbidden, time.Second); !strings.Contains(cond.Message, "403") {
		t.Errorf("b's Ready message %q does not say Keycloak answered 403", cond.Message)
	}
	ensureNamespace(t, "pw-team", nil)
	ac := &authv1.AuthClient{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: app, namespace: pw-team}
spec:
  authServerRef: {name: pw-realm-a, namespace: security}
  clientType: Confidential
  redirectUris: ["https://app.example.com/cb"]
`, ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	waitReady(t, a, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 30*time.Second)
	if keycloakClient(t, "pw-realm-a", "pw-team.app") == nil {
		t.Error("no Keycloak client pw-team.app in realm pw-realm-a")
	}
}

// The bootstrap deletes only the admin Keycloak itself marks as temporary
// (made from KC_BOOTSTRAP_ADMIN_*): a permanent admin someone named as the
// bootstrap admin (an external Keycloak's) is kept.
func TestPasswordlessBootstrapKeepsPermanentAdmin(t *testing.T) {
	integration(t)
	ctx := context.Background()
	gc, tok := console(t)
	user, pw := "pw-permanent-admin", "permanent-"+fmt.Sprint(time.Now().UnixNano())
	uid, err := gc.CreateUser(ctx, tok, "master", gocloak.User{Username: gocloak.StringP(user), Enabled: gocloak.BoolP(true)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gc.DeleteUser(ctx, tok, "master", uid) })
	if err := gc.SetPassword(ctx, tok, uid, "master", pw, false); err != nil {
		t.Fatal(err)
	}
	admin, err := gc.GetRealmRole(ctx, tok, "master", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.AddRealmRoleToUser(ctx, tok, "master", uid, []gocloak.Role{*admin}); err != nil {
		t.Fatal(err)
	}
	boot, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: user, Password: pw}})
	if err != nil {
		t.Fatal(err)
	}
	if err := boot.DeleteTemporaryAdmin(ctx, "master", user); !errors.Is(err, keycloak.ErrNotTemporaryAdmin) {
		t.Fatalf("deleting a permanent admin as the bootstrap admin: got %v, want ErrNotTemporaryAdmin", err)
	}
	if _, err := gocloak.NewClient(kc.URL).LoginAdmin(ctx, user, pw, "master"); err != nil {
		t.Fatalf("the permanent admin no longer logs in: %v", err)
	}
	if err := boot.DeleteTemporaryAdmin(ctx, "master", "pw-no-such-user"); !keycloak.IsNotFound(err) {
		t.Errorf("a missing user: got %v, want not found", err)
	}
	// The test bed's admin is Keycloak's real bootstrap admin (hack/keycloak.sh
	// starts Keycloak with KC_BOOTSTRAP_ADMIN_*): Keycloak marks it, so the
	// chart's hook does delete the bootstrap admin it is given.
	users, err := gc.GetUsers(ctx, tok, "master", gocloak.GetUsersParams{Username: gocloak.StringP(kc.AdminUser), Exact: gocloak.BoolP(true)})
	if err != nil || len(users) != 1 {
		t.Fatalf("the test bed's admin: %v, %d users", err, len(users))
	}
	if !keycloak.IsTemporaryAdmin(*users[0]) {
		t.Errorf("Keycloak's bootstrap admin %s does not carry the temporary-admin mark (attributes %v): the hook would never delete it", kc.AdminUser, users[0].Attributes)
	}
}

// An adminIdentity whose ServiceAccount the operator cannot get a token of
// is a credentials problem in Kubernetes (CredentialsNotFound, naming the
// field), not Keycloak refusing a login.
func TestPasswordlessIdentityWithoutToken(t *testing.T) {
	integration(t)
	theOperator(t)
	as := serverWithoutWait(t, "pw-no-sa", "  adminIdentity: {clientId: pw-no-sa-admin, serviceAccountName: pw-missing-sa}\n")
	cond := waitReady(t, as, metav1.ConditionFalse, authv1.ReasonCredentialsNotFound, 60*time.Second)
	if !strings.Contains(cond.Message, "spec.adminIdentity.serviceAccountName") || !strings.Contains(cond.Message, "security/pw-missing-sa") {
		t.Errorf("Ready message %q does not name the field and the ServiceAccount", cond.Message)
	}
}
