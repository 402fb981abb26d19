package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
)

// enabledWatch polls Keycloak for two clients of a realm from a goroutine
// and records what it saw: whether each ever existed or was enabled, and
// whether both were ever enabled at the same poll.
type enabledWatch struct {
	realm, a, b string
	stop, done  chan struct{}

	mu                         sync.Mutex
	polls, errs                int
	sawA, sawEnabledB, sawBoth bool
	lastErr                    error
	gc                         *gocloak.GoCloak
	token                      string
	tokenAt                    time.Time
}

func watchEnabled(realm, a, b string) *enabledWatch {
	w := &enabledWatch{realm: realm, a: a, b: b, stop: make(chan struct{}), done: make(chan struct{}), gc: gocloak.NewClient(kc.URL)}
	go w.run()
	return w
}

// enabled says whether clientID exists in the realm and whether it is enabled.
func (w *enabledWatch) enabled(ctx context.Context, clientID string) (exists, enabled bool, err error) {
	list, err := w.gc.GetClients(ctx, w.token, w.realm, gocloak.GetClientsParams{ClientID: &clientID})
	if err != nil || len(list) == 0 {
		return false, false, err
	}
	return true, gocloak.PBool(list[0].Enabled), nil
}

func (w *enabledWatch) run() {
	defer close(w.done)
	ctx := context.Background()
	// A poll interval, not a synchronisation: the poller samples
	// Keycloak as fast as it reasonably can while the race runs.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		if time.Since(w.tokenAt) > 30*time.Second {
			jwt, err := w.gc.LoginAdmin(ctx, kc.AdminUser, kc.AdminPassword, "master")
			if err != nil {
				w.note(err)
				continue
			}
			w.token, w.tokenAt = jwt.AccessToken, time.Now()
		}
		existsA, enabledA, errA := w.enabled(ctx, w.a)
		_, enabledB, errB := w.enabled(ctx, w.b)
		if errA != nil || errB != nil {
			w.note(fmt.Errorf("%v %v", errA, errB))
			continue
		}
		w.mu.Lock()
		w.polls++
		w.sawA = w.sawA || existsA
		w.sawEnabledB = w.sawEnabledB || enabledB
		w.sawBoth = w.sawBoth || (enabledA && enabledB)
		w.mu.Unlock()
	}
}

func (w *enabledWatch) note(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs++
	w.lastErr = err
}

func (w *enabledWatch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// Two secretless clients claim one ServiceAccount, and the younger one is
// elected while the older is stuck on a problem of its own. The younger
// one's Keycloak client is held mid-creation (the fault transport) while
// the older one gets unstuck and reconciles again and again: it must see
// the younger one's holding, though the younger one's reconcile has not
// finished, and never get a Keycloak client. Keycloak refuses a token that
// matches two clients, so a moment with both enabled breaks the holder's
// workload too.
func TestServiceAccountHolderRace(t *testing.T) {
	integration(t)
	ctx := context.Background()
	as := serverWith(t, "sa-race", "  serviceAccountAuthentication: {}")
	waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	realm := as.Status.RealmName
	const ns = "team-race"
	ensureNamespace(t, ns, nil)
	serviceAccount(t, ns, "shared")
	subject := authv1.ServiceAccountSubject(ns, "shared")

	// The older claimant is stuck: the name of its Secret is taken.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first-client-secret"}, StringData: map[string]string{"owner": "someone else"}}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, foreign) })
	first := &authv1.AuthClient{}
	apply(t, authClient(ns, "first", "sa-race", worker+"\n  serviceAccount: {name: shared}"), first)
	t.Cleanup(func() { deleteAndWait(t, first) })
	refusedBeforeKeycloak(t, realm, first, authv1.ReasonSecretConflict)

	watch := watchEnabled(realm, first.EffectiveClientID(), ns+".second")
	t.Cleanup(watch.end)
	// The younger one takes the ServiceAccount; the creation of its
	// Keycloak client (the first one of the realm) waits for release.
	release := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unhold)
	t.Cleanup(faults.Clear)
	faults.Set("client.create", testbed.Fault{Hold: release, PathContains: "/realms/" + realm + "/", Times: 1})
	second := &authv1.AuthClient{}
	apply(t, authClient(ns, "second", "sa-race", worker+"\n  serviceAccount: {name: shared}"), second)
	t.Cleanup(func() { deleteAndWait(t, second) })
	if second.EffectiveClientID() != ns+".second" {
		t.Fatalf("clientId %q, the watch polls another", second.EffectiveClientID())
	}
	eventually(t, 30*time.Second, "the creation of the younger one's Keycloak client held", func() error {
		if n := faults.Hits("client.create"); n != 1 {
			return fmt.Errorf("%d held", n)
		}
		return nil
	})

	// The older one gets unstuck while the younger one's reconcile waits;
	// it is reconciled at every resync. Three refusals by the conflict, or
	// a Keycloak client of its own (the window), end the race.
	conflicts := func() float64 {
		return reconciler.OutcomeCount("AuthClient", reconciler.OutcomeStalled, authv1.ReasonServiceAccountConflict)
	}
	start := conflicts()
	deleteAndWait(t, foreign)
	eventually(t, 60*time.Second, "the older claimant reconciled three times, or provisioned", func() error {
		if keycloakClient(t, realm, first.EffectiveClientID()) != nil {
			return nil
		}
		if n := conflicts() - start; n < 3 {
			return fmt.Errorf("%v refusals by the conflict", n)
		}
		return nil
	})
	unhold()

	waitReady(t, second, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	eventually(t, 10*time.Second, "the watch seeing the younger one's client enabled", func() error {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		if !watch.sawEnabledB {
			return fmt.Errorf("not yet (%d polls, %d errors, last %v)", watch.polls, watch.errs, watch.lastErr)
		}
		return nil
	})
	// What Keycloak had during the race is reported before the end state
	// is waited for (without a live election both end up holding it).
	raced := func() (both, a bool) {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		return watch.sawBoth, watch.sawA
	}
	both, sawA := raced()
	if both {
		t.Error("Keycloak had both clients enabled for one ServiceAccount at once")
	}
	if sawA || keycloakClient(t, realm, first.EffectiveClientID()) != nil {
		t.Error("the older claimant got a Keycloak client while the younger one held the ServiceAccount")
	}
	cond := waitReady(t, first, metav1.ConditionFalse, authv1.ReasonServiceAccountConflict, 30*time.Second)
	watch.end()
	t.Logf("Keycloak polled %d times during the race (%d failed polls)", watch.polls, watch.errs)
	if !both && watch.sawBoth {
		t.Error("Keycloak had both clients enabled for one ServiceAccount at once (after the younger one was provisioned)")
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(second), second); err != nil {
		t.Fatal(err)
	}
	if first.Status.ServiceAccount != "" || second.Status.ServiceAccount != subject {
		t.Errorf("status.serviceAccount: first %q, second %q; want only second to hold %s", first.Status.ServiceAccount, second.Status.ServiceAccount, subject)
	}
	if want := "already authenticates AuthClient team-race/second"; !strings.Contains(cond.Message, want) {
		t.Errorf("message %q does not say %q", cond.Message, want)
	}
	// The holder's workload authenticates: its token matches one client.
	s := secretOf(t, ns, second.SecretName())
	tokenURL := kc.URL + "/realms/" + realm + "/protocol/openid-connect/token"
	if got := assertionToken(t, tokenURL, second.Status.ClientID, saToken(t, ns, "shared", string(s.Data["token_audience"]))); got.code != http.StatusOK {
		t.Errorf("the holder's token request: %s", got)
	}

	t.Run("a claimant whose client Keycloak refuses does not block the others", func(t *testing.T) {
		serviceAccount(t, ns, "refused")
		t.Cleanup(faults.Clear)
		// Keycloak refuses the older one's client every time (a 400), and
		// only its: the fault picks its clientId in the create's body.
		faults.Set("client.create", testbed.Fault{Status: http.StatusBadRequest, PathContains: "/realms/" + realm + "/", BodyContains: `"` + ns + `.refused-1"`})
		older := &authv1.AuthClient{}
		apply(t, authClient(ns, "refused-1", "sa-race", worker+"\n  serviceAccount: {name: refused}"), older)
		t.Cleanup(func() { deleteAndWait(t, older) })
		waitReady(t, older, metav1.ConditionFalse, authv1.ReasonKeycloakRejected, 30*time.Second)
		if older.Status.ServiceAccount != "" {
			t.Errorf("status.serviceAccount %q: a claimant without a Keycloak client holds the ServiceAccount", older.Status.ServiceAccount)
		}
		younger := &authv1.AuthClient{}
		apply(t, authClient(ns, "refused-2", "sa-race", worker+"\n  serviceAccount: {name: refused}"), younger)
		t.Cleanup(func() { deleteAndWait(t, younger) })
		waitReady(t, younger, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		if faults.Hits("client.create") == 0 {
			t.Error("the older one's create was never refused: this proves nothing")
		}
	})
}
