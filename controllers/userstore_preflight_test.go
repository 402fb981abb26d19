package controllers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	kevents "k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Issue 21: the LDAP pre-flight proves LDAP, and a sync request runs once.

// silentListener accepts connections on loopback and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String()
}

// anonymousUserStore applies a UserStore without a bind DN (an anonymous
// bind) pointed at server.
func anonymousUserStore(t *testing.T, name, server string) *authv1.UserStore {
	t.Helper()
	ensureNamespace(t, "security", nil)
	us := &authv1.UserStore{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: %s, namespace: security}
spec:
  type: ldap
  ldap:
    server: %q
    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "(objectClass=inetOrgPerson)", usernameAttribute: uid}`, name, server), us)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), us) })
	return us
}

// An anonymous UserStore pointed at something that is not an LDAP server
// (an HTTP server, the Kubernetes API server, a listener that never
// answers) is not federated: UserStoreReady=False/LDAPUnreachable, no
// component in the realm, within the pre-flight's timeout. Every such case
// reads the same (the UserStore is no port scanner), and neither the
// condition nor the Event names the operator's Keycloak or Keycloak's own
// code. The real slapd, anonymously, passes the pre-flight.
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
	generic := map[string]string{} // message with the server left out, by case
	for _, c := range []struct{ name, server string }{
		{"us-not-ldap-http", "ldap://" + web.Listener.Addr().String()},
		{"us-not-ldap-apiserver", "ldap://" + api.Host},
		{"us-not-ldap-silent", "ldap://" + silentListener(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			anonymousUserStore(t, c.name, c.server)
			as := serverWith(t, c.name, "  userStoreRef: {name: "+c.name+"}")
			cond := waitUserStoreCondition(t, as, metav1.ConditionFalse, authv1.ReasonLDAPUnreachable)
			if !strings.Contains(cond.Message, "got no LDAP answer from "+c.server) {
				t.Errorf("message %q", cond.Message)
			}
			if got := ownComponentNames(t, c.name); len(got) != 0 {
				t.Errorf("federated anyway: %v", got)
			}
			note := warningEvent(t, as, authv1.ReasonLDAPUnreachable)
			for _, text := range []string{cond.Message, note} {
				for _, leak := range []string{kcURL.Host, "/admin/realms", "CommunicationError", "SocketReset", "keycloak ldap.test"} {
					if strings.Contains(text, leak) {
						t.Errorf("%q names %q", text, leak)
					}
				}
			}
			generic[c.name] = strings.ReplaceAll(cond.Message, c.server, "SERVER")
		})
	}
	first := ""
	for name, msg := range generic {
		if first == "" {
			first = msg
		} else if msg != first {
			t.Errorf("%s reads %q, another case %q: the failures must not be told apart", name, msg, first)
		}
	}

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
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8s.Get(ctx, client.ObjectKey{Name: "userstores.auth.nauthera.io"}, crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	path := []string{"schema", "openAPIV3Schema", "properties", "spec", "properties", "ldap", "properties", "userSearch", "properties", "filter", "x-kubernetes-validations"}
	v0 := versions[0].(map[string]any)
	rules, found, _ := unstructured.NestedSlice(v0, path...)
	if !found {
		t.Fatal("the CRD has no rules on the user filter")
	}
	setRules := func(rules []any) {
		eventually(t, 10*time.Second, "CRD updated", func() error {
			cur := crd.DeepCopy()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(cur), cur); err != nil {
				return err
			}
			vs, _, _ := unstructured.NestedSlice(cur.Object, "spec", "versions")
			v := vs[0].(map[string]any)
			if rules == nil {
				unstructured.RemoveNestedField(v, path...)
			} else if err := unstructured.SetNestedSlice(v, rules, path...); err != nil {
				return err
			}
			vs[0] = v
			if err := unstructured.SetNestedSlice(cur.Object, vs, "spec", "versions"); err != nil {
				return err
			}
			return k8s.Update(ctx, cur)
		})
	}
	setRules(nil)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			setRules(rules)
		}
	}
	t.Cleanup(restore)
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
