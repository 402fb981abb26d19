package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kevents "k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Issue 21: the LDAP pre-flight proves LDAP, and a sync request runs once.

// anonymousUserStore applies a UserStore without a bind DN (an anonymous
// bind) pointed at server.
func anonymousUserStore(t *testing.T, name, server string) *authv1.UserStore {
	t.Helper()
	ensureNamespace(t, "security", nil)
	us := &authv1.UserStore{}
	apply(t, testbed.UserStoreDoc{Name: name, Namespace: "security", Server: server}.YAML(), us)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), us) })
	return us
}

// boundUserStore applies a UserStore that binds as the test slapd's service
// account, with the password in Secret secret, pointed at server.
func boundUserStore(t *testing.T, name, server, secret string) *authv1.UserStore {
	t.Helper()
	ensureNamespace(t, "security", nil)
	us := &authv1.UserStore{}
	apply(t, testbed.UserStoreDoc{Name: name, Namespace: "security", Server: server, BindDN: ldapSrv.ServiceDN, BindSecret: secret}.YAML(), us)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), us) })
	return us
}

// A UserStore pointed at something that is not an LDAP server (a closed
// port, a listener that never answers, an HTTP server, the Kubernetes API
// server, ldaps:// to a plain directory) is not federated:
// UserStoreReady=False/LDAPUnreachable, no component in the realm. With
// the server left out, reason and message are the same for every such
// case (the UserStore is no port scanner), without a bind DN and with one
// (the anonymous message also says a directory may refuse anonymous
// binds); neither the condition nor the Event names the operator's
// Keycloak or Keycloak's own code. A wrong password for the real slapd is
// LDAPBindFailed; the real slapd, anonymously, passes the pre-flight.
func TestUserStorePreflightNeedsLDAP(t *testing.T) {
	integration(t)
	theOperator(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	t.Cleanup(web.Close)
	api, err := url.Parse(restCfg.Host)
	if err != nil || api.Host == "" {
		t.Fatalf("API server address %q: %v", restCfg.Host, err)
	}
	kcURL, err := url.Parse(kc.URL)
	if err != nil {
		t.Fatal(err)
	}
	bindSecret(t, "us-not-ldap-bind", map[string]string{"password": ldapSrv.ServicePassword})
	bindSecret(t, "us-not-ldap-wrong", map[string]string{"password": "wrong"})
	slapdHost := strings.TrimPrefix(ldapSrv.URL, "ldap://")
	cases := []struct{ name, server, secret string }{
		{"us-not-ldap-closed", "ldap://" + testbed.ClosedPort(t), ""},
		{"us-not-ldap-silent", "ldap://" + testbed.SilentListener(t), ""},
		{"us-not-ldap-http", "ldap://" + web.Listener.Addr().String(), ""},
		{"us-not-ldap-apiserver", "ldap://" + api.Host, ""},
		{"us-not-ldap-ldaps-plain", "ldaps://" + slapdHost, ""},
		{"us-not-ldap-bound-closed", "ldap://" + testbed.ClosedPort(t), "us-not-ldap-bind"},
		{"us-not-ldap-bound-silent", "ldap://" + testbed.SilentListener(t), "us-not-ldap-bind"},
		{"us-not-ldap-bound-http", "ldap://" + web.Listener.Addr().String(), "us-not-ldap-bind"},
	}
	servers := make([]*authv1.AuthServer, len(cases))
	for i, c := range cases {
		if c.secret == "" {
			anonymousUserStore(t, c.name, c.server)
		} else {
			boundUserStore(t, c.name, c.server, c.secret)
		}
		servers[i] = serverWithoutWait(t, c.name, "  deletionPolicy: Delete\n  userStoreRef: {name: "+c.name+"}")
	}
	generic := map[bool]map[string]string{false: {}, true: {}} // by bind DN: case -> reason and message, the server left out
	for i, c := range cases {
		bound := c.secret != ""
		// Eight realms at once, each failure reported after the LDAP
		// test's timeout: the realm may take a while on a busy machine.
		waitReady(t, servers[i], metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 3*time.Minute)
		cond := waitUserStoreCondition(t, servers[i], metav1.ConditionFalse, authv1.ReasonLDAPUnreachable)
		if !strings.Contains(cond.Message, "got no LDAP answer from "+c.server) {
			t.Errorf("%s: message %q", c.name, cond.Message)
		}
		if hint := strings.Contains(cond.Message, "refuses anonymous binds: set bindDN"); hint == bound {
			t.Errorf("%s: message %q: the anonymous-bind hint belongs to anonymous UserStores only", c.name, cond.Message)
		}
		if got := ownComponentNames(t, c.name); len(got) != 0 {
			t.Errorf("%s: federated anyway: %v", c.name, got)
		}
		note := warningEvent(t, servers[i], authv1.ReasonLDAPUnreachable)
		for _, text := range []string{cond.Message, note} {
			for _, leak := range []string{kcURL.Host, "/admin/realms", "CommunicationError", "SocketReset", "NamingError", "keycloak ldap.test"} {
				if strings.Contains(text, leak) {
					t.Errorf("%s: %q names %q", c.name, text, leak)
				}
			}
		}
		generic[bound][c.name] = cond.Reason + ": " + strings.ReplaceAll(cond.Message, c.server, "SERVER")
	}
	for bound, msgs := range generic {
		if len(msgs) < 3 {
			t.Fatalf("bind DN %v: only %d cases", bound, len(msgs))
		}
		first, firstName := "", ""
		for name, msg := range msgs {
			if first == "" {
				first, firstName = msg, name
			} else if msg != first {
				t.Errorf("%s reads %q, %s %q: the failures must not be told apart", name, msg, firstName, first)
			}
		}
	}

	t.Run("slapd-wrong-password", func(t *testing.T) {
		boundUserStore(t, "us-wrong-password", ldapSrv.URL, "us-not-ldap-wrong")
		as := serverWith(t, "us-wrong-password", "  userStoreRef: {name: us-wrong-password}")
		cond := waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonLDAPBindFailed)
		if !strings.Contains(cond.Message, "refused the bind as") {
			t.Errorf("message %q", cond.Message)
		}
	})
	t.Run("slapd-anonymous", func(t *testing.T) {
		// slapd answers an anonymous bind; it lets only bound users read,
		// so the sync finds nobody: federated, and a Warning about that.
		anonymousUserStore(t, "us-anonymous-slapd", ldapSrv.URL)
		as := serverWith(t, "us-anonymous-slapd", "  userStoreRef: {name: us-anonymous-slapd}")
		waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonLDAPNoUsers)
		if got := ownComponentNames(t, "us-anonymous-slapd"); len(got) != 1 {
			t.Errorf("federations %v, want one", got)
		}
	})
}

// stopOperator stops the suite's shared operator; the next theOperator
// starts it again.
func stopOperator() {
	opMu.Lock()
	defer opMu.Unlock()
	if current != nil {
		current.stop()
		current = nil
	}
}

// barrier holds the first n requests of one Keycloak operation on one path
// until all n have arrived, so that n reconciles are known to have read
// the AuthServer before any of them goes on.
type barrier struct {
	op, path string
	mu       sync.Mutex
	waiting  int
	release  chan struct{}
}

func newBarrier(n int, op, path string) *barrier {
	return &barrier{op: op, path: path, waiting: n, release: make(chan struct{})}
}

func (b *barrier) wrap(next http.RoundTripper) http.RoundTripper {
	return rtFunc(func(req *http.Request) (*http.Response, error) {
		if keycloak.OperationFrom(req.Context()) == b.op && strings.Contains(req.URL.Path, b.path) {
			b.mu.Lock()
			if b.waiting > 0 {
				if b.waiting--; b.waiting == 0 {
					close(b.release)
				}
			}
			b.mu.Unlock()
			select {
			case <-b.release:
			case <-time.After(30 * time.Second):
			}
		}
		return next.RoundTrip(req)
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Two reconciles that read the AuthServer before either wrote (two
// replicas, or one reading a cache that lags) trigger one sync for one
// request: the request is recorded, optimistically locked, before the
// sync, and the loser's write conflicts. Counted at Keycloak's sync endpoint.
func TestUserStoreSyncRequestRunsOnce(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "sync-once-bind", map[string]string{"password": ldapSrv.ServicePassword})
	us := userStore(t, "sync-once", "sync-once-bind", "")
	as := serverWith(t, "sync-once", "  userStoreRef: {name: sync-once}")
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	componentID := as.Status.UserStore.ComponentID
	// The shared operator must not act on the request itself; it is back
	// before the AuthServer is deleted (cleanups run last first).
	stopOperator()
	t.Cleanup(func() { theOperator(t) })

	syncs := func() int { return faults.Requests("/realms/sync-once/user-storage/"+componentID+"/sync", "POST") }
	before := syncs()
	annotate(t, us, authv1.AnnotationSyncUsers, "once")

	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log.WithName("sync-once")))
	defer cancel()
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	broadcaster := kevents.NewBroadcaster(&kevents.EventSinkImpl{Interface: cs.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	defer broadcaster.Shutdown()
	gate := newBarrier(2, "component.list", "/realms/sync-once/")
	reconcilerWith := func() *controllers.AuthServerReconciler {
		return &controllers.AuthServerReconciler{
			Client: k8s, APIReader: k8s, Recorder: broadcaster.NewRecorder(scheme, "nauthera"), Resync: time.Hour,
			Connections: &connection.Resolver{
				Reader: k8s,
				Pool: &keycloak.Pool{Metrics: keycloak.NewMetrics(), WrapTransport: func(next http.RoundTripper) http.RoundTripper {
					return gate.wrap(faults.Wrap(next))
				}},
				Defaults: connection.Defaults{URL: kc.URL, CredentialsSecret: client.ObjectKey{Namespace: operatorNS, Name: adminSecret}},
			},
		}
	}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		r := reconcilerWith()
		wg.Go(func() { _, errs[i] = r.Reconcile(ctx, req) })
	}
	wg.Wait()
	t.Logf("reconciles: %v", errs)
	if n := syncs() - before; n != 1 {
		t.Fatalf("one sync request triggered %d syncs", n)
	}
	wantOneStaleCopy(t, errs)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
		t.Fatal(err)
	}
	if st := as.Status.UserStore; st == nil || st.LastSyncRequest != "once" || st.LastSync == nil {
		t.Fatalf("status.userStore %+v", st)
	}
	// The loser, retried, sees the request done.
	if _, err := reconcilerWith().Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := syncs() - before; n != 1 {
		t.Errorf("the retried reconcile synced again: %d syncs", n)
	}
}

// A filter that admission refuses today may have been stored before the
// CRD checked filters. The reconciler parses it too and stops it before
// Keycloak: InvalidSpec naming the field, and no federation.
func TestUserStoreStoredBadFilterIsInvalidSpec(t *testing.T) {
	integration(t)
	theOperator(t)
	ctx := context.Background()
	// Play the older CRD: the user filter without its rules, for as long
	// as it takes to store one UserStore.
	restore := withoutCRDRules(t, "userstores.auth.nauthera.io",
		"schema", "openAPIV3Schema", "properties", "spec", "properties", "ldap", "properties", "userSearch", "properties", "filter", "x-kubernetes-validations")
	us := &authv1.UserStore{}
	// The real slapd, anonymously: only the filter is wrong.
	doc := fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: us-stored-bad-filter, namespace: security}
spec:
  type: ldap
  ldap:
    server: %q
    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "(uid=a)(uid=b)"}`, ldapSrv.URL)
	ensureNamespace(t, "security", nil)
	eventually(t, 30*time.Second, "the UserStore stored under the older rules", func() error {
		if err := yaml.UnmarshalStrict([]byte(doc), us); err != nil {
			return err
		}
		return k8s.Create(ctx, us)
	})
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), us) })
	restore()

	as := serverWith(t, "us-stored-bad-filter", "  userStoreRef: {name: us-stored-bad-filter}")
	cond := waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonInvalidSpec)
	if !strings.Contains(cond.Message, "spec.ldap.userSearch.filter is not an LDAP filter") {
		t.Errorf("message %q", cond.Message)
	}
	if got := ownComponentNames(t, "us-stored-bad-filter"); len(got) != 0 {
		t.Errorf("federated anyway: %v", got)
	}
}

// standaloneReconciler is an AuthServer reconciler of the test's own, on
// the suite's Keycloak and API server, its Keycloak transport wrapped by
// wrap (after the suite's faults). The shared operator should be stopped.
func standaloneReconciler(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *controllers.AuthServerReconciler {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	broadcaster := kevents.NewBroadcaster(&kevents.EventSinkImpl{Interface: cs.EventsV1()})
	broadcaster.StartRecordingToSink(stop)
	t.Cleanup(func() { close(stop); broadcaster.Shutdown() })
	if wrap == nil {
		wrap = func(next http.RoundTripper) http.RoundTripper { return next }
	}
	return &controllers.AuthServerReconciler{
		Client: k8s, APIReader: k8s, Recorder: broadcaster.NewRecorder(scheme, "nauthera"), Resync: time.Hour,
		Connections: &connection.Resolver{
			Reader: k8s,
			Pool: &keycloak.Pool{Metrics: keycloak.NewMetrics(), WrapTransport: func(next http.RoundTripper) http.RoundTripper {
				return wrap(faults.Wrap(next))
			}},
			Defaults: connection.Defaults{URL: kc.URL, CredentialsSecret: client.ObjectKey{Namespace: operatorNS, Name: adminSecret}},
		},
	}
}

// pointAt sets the AuthServer's userStoreRef (the shared operator stopped).
func pointAt(t *testing.T, as *authv1.AuthServer, userStore string) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"spec":{"userStoreRef":{"name":%q}}}`, userStore))
	if err := k8s.Patch(context.Background(), as, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
}

// A failed pre-flight is reported only after the LDAP test's timeout,
// whatever failed: a refused port (Keycloak knows at once) and a silent
// one (it waits the timeout out) take the same time, so the time does
// not tell them apart either.
func TestUserStorePreflightFailuresTakeTheTimeout(t *testing.T) {
	integration(t)
	as := serverWith(t, "us-preflight-timing", "")
	anonymousUserStore(t, "us-timing-closed", "ldap://"+testbed.ClosedPort(t))
	anonymousUserStore(t, "us-timing-silent", "ldap://"+testbed.SilentListener(t))
	stopOperator()
	t.Cleanup(func() { theOperator(t) })
	r := standaloneReconciler(t, nil)
	timeout := 5 * time.Second // keycloak.AdminClient.LDAPTestTimeout at the suite's 10 s request timeout
	ctx := ctrl.LoggerInto(context.Background(), ctrl.Log.WithName("preflight-timing"))
	for _, name := range []string{"us-timing-closed", "us-timing-silent"} {
		pointAt(t, as, name)
		eventually(t, 10*time.Second, "the reference seen", func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
				return err
			}
			if as.Spec.UserStoreRef == nil || as.Spec.UserStoreRef.Name != name {
				return fmt.Errorf("userStoreRef %+v", as.Spec.UserStoreRef)
			}
			return nil
		})
		t0 := time.Now()
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}); err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		t.Logf("%s: reported after %s", name, took.Round(10*time.Millisecond))
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		if c := findCondition(as, authv1.UserStoreCondition); c == nil || c.Reason != authv1.ReasonLDAPUnreachable {
			t.Fatalf("%s: UserStoreReady %+v", name, c)
		}
		if took < timeout {
			t.Errorf("%s: reported after %s, before the LDAP test's timeout of %s", name, took, timeout)
		}
	}
}

func findCondition(as *authv1.AuthServer, typ string) *metav1.Condition {
	for i := range as.Status.Conditions {
		if as.Status.Conditions[i].Type == typ {
			return &as.Status.Conditions[i]
		}
	}
	return nil
}

// An operator that stops while Keycloak syncs (killed, or its answer
// lost) leaves the request recorded, so the sync is not started again;
// the status it leaves says the sync is unconfirmed, and the next
// reconcile reports that as LDAPSyncFailed, not as a ready federation.
// The stop is played by cancelling the reconcile as the sync request
// leaves: nothing after that reaches the API server.
func TestUserStoreSyncCutShortIsNotReady(t *testing.T) {
	integration(t)
	theOperator(t)
	bindSecret(t, "sync-cut-bind", map[string]string{"password": ldapSrv.ServicePassword})
	us := userStore(t, "sync-cut", "sync-cut-bind", "")
	as := serverWith(t, "sync-cut", "  userStoreRef: {name: sync-cut}")
	waitUserStoreCondition(t, as, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured)
	stopOperator()
	t.Cleanup(func() { theOperator(t) })
	annotate(t, us, authv1.AnnotationSyncUsers, "cut")

	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log.WithName("sync-cut")))
	defer cancel()
	var cutAt atomic.Int32
	r := standaloneReconciler(t, func(next http.RoundTripper) http.RoundTripper {
		return rtFunc(func(req *http.Request) (*http.Response, error) {
			if keycloak.OperationFrom(req.Context()) == "userstorage.sync" && strings.Contains(req.URL.Path, "/realms/sync-cut/") {
				cutAt.Add(1)
				cancel()
				return nil, context.Canceled
			}
			return next.RoundTrip(req)
		})
	})
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}
	eventually(t, 10*time.Second, "the annotation seen", func() error {
		_, _ = r.Reconcile(ctx, req)
		if cutAt.Load() == 0 {
			return errors.New("no sync asked for yet")
		}
		return nil
	})
	// The next reconcile, the operator back.
	next := standaloneReconciler(t, nil)
	if _, err := next.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(context.Background(), req.NamespacedName, as); err != nil {
		t.Fatal(err)
	}
	if st := as.Status.UserStore; st == nil || st.LastSyncRequest != "cut" {
		t.Errorf("status.userStore %+v: the request is not recorded", st)
	}
	c := findCondition(as, authv1.UserStoreCondition)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != authv1.ReasonLDAPSyncFailed || !strings.Contains(c.Message, "not confirmed") {
		t.Fatalf("after a sync cut short: UserStoreReady %+v", c)
	}
}

// Two reconciles that read the AuthServer before either wrote create one
// LDAP component between them: the AuthServer is written, optimistically
// locked, before the component is created, and the loser's write
// conflicts. Counted at Keycloak's components endpoint.
func TestUserStoreComponentCreatedOnce(t *testing.T) {
	integration(t)
	bindSecret(t, "create-once-bind", map[string]string{"password": ldapSrv.ServicePassword})
	userStore(t, "create-once", "create-once-bind", "")
	as := serverWith(t, "create-once", "")
	stopOperator()
	t.Cleanup(func() { theOperator(t) })
	pointAt(t, as, "create-once")
	creates := func() int { return faults.Requests("/realms/create-once/components", "POST") }
	before := creates()
	gate := newBarrier(2, "component.list", "/realms/create-once/")
	ctx := ctrl.LoggerInto(context.Background(), ctrl.Log.WithName("create-once"))
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		r := standaloneReconciler(t, gate.wrap)
		wg.Go(func() { _, errs[i] = r.Reconcile(ctx, req) })
	}
	wg.Wait()
	t.Logf("reconciles: %v", errs)
	if got := ownComponentNames(t, "create-once"); len(got) != 1 {
		t.Errorf("components %v, want one", got)
	}
	// The user-storage component; the group mapper is a component too.
	if n := faults.Requests("/realms/create-once/components", "POST") - before; n > 2 {
		t.Errorf("%d component creations, want the component and its group mapper", n)
	}
	wantOneStaleCopy(t, errs)
}

// wantOneStaleCopy checks the errors of two reconciles racing from one
// copy of an object: exactly one finds its copy stale (a conflict), and
// nothing else fails.
func wantOneStaleCopy(t *testing.T, errs []error) {
	t.Helper()
	conflicts := 0
	for _, err := range errs {
		if apierrors.IsConflict(err) {
			conflicts++
		} else if err != nil {
			t.Errorf("reconcile: %v", err)
		}
	}
	if conflicts != 1 {
		t.Errorf("%d reconciles found their copy stale, want 1", conflicts)
	}
}
