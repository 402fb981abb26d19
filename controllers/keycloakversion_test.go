package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The Keycloak version range (issue 25, part 4): the operator reads the
// version and features of the AuthServer's Keycloak, reports the version,
// refuses a Keycloak older than the range, and sends nothing for a feature
// the server lacks. On the test bed's real server where the version has
// the behaviour (26.4.0: no secretless features); otherwise the server
// info of an older version, as measured on it, is answered in Keycloak's
// place by the fault transport (everything else reaches the real server).

// serverInfoTTL is the operators' keycloak.Pool.ServerInfoTTL (0: the
// default); withShortServerInfo shortens it for one test.
var serverInfoTTL time.Duration

// withShortServerInfo restarts the operator with server info read again
// every second (a Keycloak upgrade seen at once), and back afterwards.
func withShortServerInfo(t *testing.T) *operator {
	t.Helper()
	serverInfoTTL = time.Second
	op := restartOperator(t)
	t.Cleanup(func() {
		faults.Clear()
		serverInfoTTL = 0
		restartOperator(t)
	})
	return op
}

// serverInfoOf answers GET /admin/serverinfo as a Keycloak of this
// version with these features on (and the secretless ones off) would: the
// fields the operator reads, as 26.4.0 and 26.5.6 answered them.
func serverInfoOf(version string, on ...string) testbed.Fault {
	features := []string{`{"name":"KUBERNETES_SERVICE_ACCOUNTS","enabled":false,"type":"PREVIEW"}`, `{"name":"CLIENT_AUTH_FEDERATED","enabled":false,"type":"PREVIEW"}`}
	for _, f := range on {
		features = append(features, fmt.Sprintf(`{"name":%q,"enabled":true,"type":"PREVIEW"}`, f))
	}
	return testbed.Fault{Status: 200, Body: fmt.Sprintf(`{"systemInfo":{"version":%q},"features":[%s]}`, version, strings.Join(features, ","))}
}

func TestKeycloakVersionInStatus(t *testing.T) {
	integration(t)
	as := serverWith(t, "kc-version", "")
	if as.Status.KeycloakVersion != kc.Version || kc.Version == "" {
		t.Errorf("status.keycloakVersion %q, the test bed runs %q", as.Status.KeycloakVersion, kc.Version)
	}
	// kubectl get -o wide shows it.
	if col := printerColumn(t, "authservers.auth.nauthera.io", "Keycloak"); col["jsonPath"] != ".status.keycloakVersion" || fmt.Sprint(col["priority"]) != "1" {
		t.Error("no wide printer column Keycloak for .status.keycloakVersion")
	}
}

// A Keycloak older than the supported range: the AuthServer is Stalled
// with a reason naming both versions, and its realm is not created; once
// the server runs a supported version (an upgrade), it is.
func TestKeycloakVersionUnsupported(t *testing.T) {
	integration(t)
	op := withShortServerInfo(t)
	faults.Set("serverinfo.get", serverInfoOf("26.3.5", "CLIENT_SECRET_ROTATION"))
	as := serverWithoutWait(t, "kc-too-old", "  deletionPolicy: Delete\n")
	cond := waitReady(t, as, metav1.ConditionFalse, authv1.ReasonKeycloakVersionUnsupported, 60*time.Second)
	if !strings.Contains(cond.Message, "this server runs 26.3.5") || !strings.Contains(cond.Message, kcversion.Oldest.String()+" or newer") {
		t.Errorf("message %q names neither the server's version nor the oldest supported", cond.Message)
	}
	if !meta.IsStatusConditionTrue(as.Status.Conditions, authv1.StalledCondition) || as.Status.ObservedGeneration != as.Generation {
		t.Errorf("not Stalled for this generation: %+v", as.Status.Conditions)
	}
	if as.Status.KeycloakVersion != "26.3.5" {
		t.Errorf("status.keycloakVersion %q", as.Status.KeycloakVersion)
	}
	warningEvent(t, as, authv1.ReasonKeycloakVersionUnsupported)
	gc, tok := console(t)
	if _, err := gc.GetRealm(context.Background(), tok, "kc-too-old"); err == nil {
		t.Error("the realm was created on an unsupported Keycloak")
	}

	// The server info cannot be read for a while (a blip): the version
	// last read still decides, and nothing is written meanwhile.
	reads := op.calls("serverinfo.get")
	faults.Set("serverinfo.get", testbed.Fault{Status: 503})
	eventually(t, 30*time.Second, "three failed reads of the server info", func() error {
		if n := op.calls("serverinfo.get") - reads; n < 3 {
			return fmt.Errorf("%d reads", n)
		}
		return nil
	})
	if _, err := gc.GetRealm(context.Background(), tok, "kc-too-old"); err == nil {
		t.Error("the realm was created on an unsupported Keycloak while its server info could not be read")
	}
	waitReady(t, as, metav1.ConditionFalse, authv1.ReasonKeycloakVersionUnsupported, time.Second)

	// The upgrade: the real server answers again.
	faults.Set("serverinfo.get", testbed.Fault{})
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	if as.Status.KeycloakVersion != kc.Version {
		t.Errorf("after the upgrade status.keycloakVersion %q, want %q", as.Status.KeycloakVersion, kc.Version)
	}
}

// A server that says odd things about its version (longer than the
// status field allows, with control characters, no minor): the AuthServer
// is still provisioned, with the version recorded cleaned, and not refused
// on a guess at what "26-..." means.
func TestKeycloakVersionOdd(t *testing.T) {
	integration(t)
	withShortServerInfo(t)
	odd := `26-SNAPSHOT\u0000\n` + strings.Repeat("x", 100)
	faults.Set("serverinfo.get", testbed.Fault{Status: 200, Body: `{"systemInfo":{"version":"` + odd + `"},"features":[{"name":"CLIENT_SECRET_ROTATION","enabled":true}]}`})
	as := serverWith(t, "kc-odd-version", "")
	want := kcversion.Clean("26-SNAPSHOT" + strings.Repeat("x", 100))
	if as.Status.KeycloakVersion != want || len(want) != kcversion.MaxVersionLength {
		t.Errorf("status.keycloakVersion %q, want %q", as.Status.KeycloakVersion, want)
	}
}

// Service-account authentication on a Keycloak without its features: the
// condition names the version it needs, a secretless AuthClient stalls
// quoting it, and no identity provider is sent (Keycloak would answer 400
// at every reconcile); once the features are there, it is set up.
func TestFeatureNeedsKeycloak(t *testing.T) {
	integration(t)
	op := withShortServerInfo(t)
	realInfo, err := realServerInfo(t)
	if err != nil {
		t.Fatal(err)
	}
	bed := kcversion.Server{Version: realInfo.Version, Features: realInfo.Features}
	realHasIt, _ := kcversion.Check(bed, kcversion.SecretlessClients)
	if realHasIt {
		// 26.7.3: answered as 26.5.6 answers (the previews off).
		faults.Set("serverinfo.get", serverInfoOf("26.5.6", "CLIENT_SECRET_ROTATION"))
	}
	creates, reads := op.calls("identityprovider.create"), op.calls("serverinfo.get")
	as := serverWith(t, "kc-no-secretless", "  serviceAccountAuthentication: {}\n")
	cond := waitIssuer(t, as, metav1.ConditionFalse, authv1.ReasonFeatureNeedsKeycloak)
	for _, want := range []string{"26.6.0 or newer", "--features=kubernetes-service-accounts,client-auth-federated", "this server runs " + as.Status.KeycloakVersion} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	warningEvent(t, as, authv1.ReasonFeatureNeedsKeycloak)
	if as.Status.ServiceAccountAuthentication != nil {
		t.Errorf("status.serviceAccountAuthentication %+v without the feature", as.Status.ServiceAccountAuthentication)
	}

	ensureNamespace(t, "team-kcv", nil)
	serviceAccount(t, "team-kcv", "app")
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-kcv", "app", "kc-no-secretless", worker+"\n  serviceAccount: {name: app}"), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	acCond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAuthServerNotReady, 60*time.Second)
	if !strings.Contains(acCond.Message, authv1.ReasonFeatureNeedsKeycloak) || !meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.StalledCondition) {
		t.Errorf("the secretless AuthClient is not Stalled quoting the AuthServer: %+v", ac.Status.Conditions)
	}

	// No 400 loop: the AuthServer was looked at again (the server info
	// read again, every second), and no identity provider was ever sent.
	eventually(t, 30*time.Second, "two more reads of the server info", func() error {
		if n := op.calls("serverinfo.get") - reads; n < 3 {
			return fmt.Errorf("%d reads", n)
		}
		return nil
	})
	if n := op.calls("identityprovider.create") - creates; n != 0 {
		t.Errorf("%d identity providers sent to a Keycloak without the feature", n)
	}
	if _, err := identityProvider(t, as.Status.RealmName); !isNotFound(err) {
		t.Errorf("identity provider in the realm: %v", err)
	}
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, time.Second)

	if !realHasIt {
		t.Logf("Keycloak %s has no secretless features: the recovery is proven on the versions that have them", kc.Version)
		return
	}
	// The features turned on (an upgrade): set up without an edit.
	faults.Set("serverinfo.get", testbed.Fault{})
	waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
}

// realServerInfo reads the test bed's server info as the operator does.
func realServerInfo(t *testing.T) (*keycloak.ServerInfo, error) {
	t.Helper()
	c, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}})
	if err != nil {
		return nil, err
	}
	return c.ServerInfo(context.Background())
}

// isNotFound reports whether a console (gocloak) call answered 404.
func isNotFound(err error) bool {
	return err != nil && (apierrors.IsNotFound(err) || strings.Contains(err.Error(), "404"))
}
