package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/desired"
)

// errTimedOut is what the operator's HTTP client reports when Keycloak
// outlasts --keycloak-timeout.
var errTimedOut = errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers) (injected)")

// A realm create whose outcome the operator never learned (it timed out, or
// Keycloak answered 400 "Database operation failed" to it, or to the retry
// while the first attempt was still committing) is looked up at once: the
// realm is carried on with when it is this AuthServer's, without a Warning
// (no KeycloakRejected, no RealmConflict) and without waiting for the
// resync; a database failure with nothing stored is retried as transient;
// a realm that is not ours is still refused.
func TestRealmCreateOutcomeUnknown(t *testing.T) {
	integration(t)
	theOperator(t)
	t.Cleanup(faults.Clear)
	noWarnings := func(t *testing.T, as *authv1.AuthServer) {
		t.Helper()
		for _, reason := range []string{authv1.ReasonKeycloakRejected, authv1.ReasonRealmConflict} {
			if n := occurrences(settledEvents(t, as, corev1.EventTypeWarning, reason)); n != 0 {
				t.Errorf("%d Warning %s Events for a realm our own create stored", n, reason)
			}
		}
	}
	ours := func(t *testing.T, as *authv1.AuthServer) {
		t.Helper()
		gc, tok := console(t)
		realm, err := gc.GetRealm(context.Background(), tok, as.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got := desired.RealmOwner(realm); got != desired.Owner(as.Namespace, as.Name) {
			t.Errorf("realm owner attribute %q", got)
		}
	}

	t.Run("timed out, then the retry finds it existing (409)", func(t *testing.T) {
		const name = "slow-create-timeout"
		faults.Clear() // Hits counts from here
		// Keycloak stores the realm but the operator hears a timeout; its
		// look-ups miss the realm still committing, so the retry's create
		// goes to Keycloak and meets the realm (a real 409).
		faults.Set("realm.get", testbed.Fault{Status: 404, PathContains: "/realms/" + name, Times: 3})
		faults.Set("realm.create", testbed.Fault{AfterSend: true, Err: errTimedOut, BodyContains: name, Times: 1})
		t.Cleanup(faults.Clear)
		as := serverWithoutWait(t, name, "  deletionPolicy: Delete\n")
		waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
		if n := faults.Hits("realm.create"); n != 1 {
			t.Fatalf("the timeout was injected %d times, want 1", n)
		}
		ours(t, as)
		noWarnings(t, as)
	})

	t.Run("stored, answered 400 Database operation failed", func(t *testing.T) {
		const name = "slow-create-dbfailed"
		faults.Clear() // Hits counts from here
		faults.Set("realm.create", testbed.Fault{AfterSend: true, Status: 400, BodyContains: name, Times: 1,
			Body: `{"errorMessage":"Database operation failed"}`})
		as := serverWithoutWait(t, name, "  deletionPolicy: Delete\n")
		waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
		if n := faults.Hits("realm.create"); n != 1 {
			t.Fatalf("the database failure was injected %d times, want 1", n)
		}
		ours(t, as)
		noWarnings(t, as)
		if n := len(settledEvents(t, as, corev1.EventTypeNormal, authv1.ReasonRealmCreated)); n != 1 {
			t.Errorf("%d RealmCreated Events, want 1", n)
		}
	})

	t.Run("not stored, answered 400 Database operation failed: retried", func(t *testing.T) {
		const name = "slow-create-notstored"
		faults.Clear() // Hits counts from here
		faults.Set("realm.create", testbed.Fault{Status: 400, BodyContains: name, Times: 2,
			Body: `{"errorMessage":"Database operation failed"}`})
		as := serverWithoutWait(t, name, "  deletionPolicy: Delete\n")
		waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
		if n := faults.Hits("realm.create"); n != 2 {
			t.Fatalf("the database failure was injected %d times, want 2", n)
		}
		ours(t, as)
		if n := occurrences(settledEvents(t, as, corev1.EventTypeWarning, authv1.ReasonKeycloakRejected)); n != 0 {
			t.Errorf("%d KeycloakRejected Warnings for a transient database failure", n)
		}
	})

	t.Run("someone else's realm is never adopted", func(t *testing.T) {
		const name = "slow-create-foreign"
		faults.Clear() // Hits counts from here
		gc, tok := console(t)
		if _, err := gc.CreateRealm(context.Background(), tok, gocloak.RealmRepresentation{Realm: gocloak.StringP(name), Enabled: gocloak.BoolP(true)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gc.DeleteRealm(context.Background(), tok, name) })
		// The first look-up misses it: the operator's create meets it (409).
		faults.Set("realm.get", testbed.Fault{Status: 404, PathContains: "/realms/" + name, Times: 1})
		t.Cleanup(faults.Clear)
		as := serverWithoutWait(t, name, "")
		waitReady(t, as, metav1.ConditionFalse, authv1.ReasonRealmConflict, 30*time.Second)
		realm, err := gc.GetRealm(context.Background(), tok, name)
		if err != nil {
			t.Fatal(err)
		}
		if owner := desired.RealmOwner(realm); owner != "" {
			t.Errorf("someone else's realm was taken over: owner %q", owner)
		}
	})
}

// A client create whose outcome the operator never learned (a timeout, or a
// 400 "Database operation failed", while Keycloak stored the client) is
// looked up in the same reconcile and carried on with: no Warning, and the client is this AuthClient's.
func TestClientCreateOutcomeUnknown(t *testing.T) {
	integration(t)
	realmServer(t, "slow-client-server")
	ensureNamespace(t, "team-slow", nil)
	t.Cleanup(faults.Clear)
	for _, c := range []struct {
		name  string
		fault testbed.Fault
	}{
		{"slow-timeout", testbed.Fault{AfterSend: true, Err: errTimedOut, PathContains: "/realms/slow-client-server/", Times: 1}},
		{"slow-dbfailed", testbed.Fault{AfterSend: true, Status: 400, Body: `{"errorMessage":"Database operation failed"}`, PathContains: "/realms/slow-client-server/", Times: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			faults.Clear()
			faults.Set("client.create", c.fault)
			ac := &authv1.AuthClient{}
			apply(t, authClient("team-slow", c.name, "slow-client-server", ""), ac)
			waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
			if n := faults.Hits("client.create"); n != 1 {
				t.Fatalf("the fault was injected %d times, want 1", n)
			}
			for _, reason := range []string{authv1.ReasonKeycloakRejected, authv1.ReasonKeycloakUnavailable, authv1.ReasonClientIDConflict} {
				if n := occurrences(settledEvents(t, ac, corev1.EventTypeWarning, reason)); n != 0 {
					t.Errorf("%d Warning %s Events for a client our own create stored", n, reason)
				}
			}
			deleteAndWait(t, ac)
		})
	}
}

// The identity provider for service-account tokens: a create Keycloak
// stored but answered with a database failure is found in the same
// reconcile and trusted, with no Warning on the way.
func TestIdentityProviderCreateOutcomeUnknown(t *testing.T) {
	integration(t)
	t.Cleanup(faults.Clear)
	const name = "slow-idp-server"
	faults.Clear()
	faults.Set("identityprovider.create", testbed.Fault{AfterSend: true, Status: 400, Body: `{"errorMessage":"Database operation failed"}`,
		PathContains: "/realms/" + name + "/", Times: 1})
	as := serverWith(t, name, "  serviceAccountAuthentication: {}")
	waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	if n := faults.Hits("identityprovider.create"); n != 1 {
		t.Fatalf("the fault was injected %d times, want 1", n)
	}
	idp, err := identityProvider(t, as.Status.RealmName)
	if err != nil {
		t.Fatal(err)
	}
	if owner := idp.Config["nauthera.io/owner"]; owner != desired.Owner(as.Namespace, as.Name) {
		t.Errorf("identity provider owner %q", owner)
	}
	for _, reason := range []string{authv1.ReasonKeycloakRejected, authv1.ReasonKeycloakUnavailable, authv1.ReasonIdentityProviderConflict} {
		if n := occurrences(settledEvents(t, as, corev1.EventTypeWarning, reason)); n != 0 {
			t.Errorf("%d Warning %s Events for an identity provider our own create stored", n, reason)
		}
	}
}

// An audience mapper added to an existing client: a create Keycloak stored
// but answered with a database failure is found in the same reconcile, with
// no Warning and no second mapper.
func TestAudienceMapperCreateOutcomeUnknown(t *testing.T) {
	integration(t)
	as := realmServer(t, "slow-aud-server")
	ensureNamespace(t, "slow-aud", nil)
	t.Cleanup(faults.Clear)
	apiClient := &authv1.AuthClient{}
	apply(t, authClient("slow-aud", "api", "slow-aud-server", worker+"\n  audienceAccess:\n    namespaces: [slow-aud]"), apiClient)
	t.Cleanup(func() { deleteAndWait(t, apiClient) })
	front := &authv1.AuthClient{}
	apply(t, authClient("slow-aud", "front", "slow-aud-server", worker), front)
	t.Cleanup(func() { deleteAndWait(t, front) })
	waitReady(t, apiClient, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	waitReady(t, front, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)

	faults.Clear()
	faults.Set("client.mapper.create", testbed.Fault{AfterSend: true, Status: 400, Body: `{"errorMessage":"Database operation failed"}`,
		PathContains: "/realms/slow-aud-server/", Times: 1})
	editClient(t, front, func(ac *authv1.AuthClient) { ac.Spec.Audiences = []authv1.ObjectReference{{Name: "api"}} })
	eventually(t, 60*time.Second, "status.audiences of front", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(front), front); err != nil {
			return err
		}
		if len(front.Status.Audiences) != 1 || front.Status.Audiences[0] != "slow-aud.api" {
			return fmt.Errorf("status.audiences %v", front.Status.Audiences)
		}
		return nil
	})
	if n := faults.Hits("client.mapper.create"); n != 1 {
		t.Fatalf("the fault was injected %d times, want 1", n)
	}
	if got := len(keycloakClient(t, as.Status.RealmName, "slow-aud.front").ProtocolMappers); got != 1 {
		t.Errorf("front has %d protocol mappers, want 1", got)
	}
	for _, reason := range []string{authv1.ReasonKeycloakRejected, authv1.ReasonKeycloakUnavailable} {
		if n := occurrences(settledEvents(t, front, corev1.EventTypeWarning, reason)); n != 0 {
			t.Errorf("%d Warning %s Events for an audience mapper our own create stored", n, reason)
		}
	}
}
