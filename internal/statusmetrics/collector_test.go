package statusmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/statusmetrics"
)

// The status collector is pure logic over what a reader returns, so a fake
// client stands in for the manager's cache here; the real binary's
// /metrics is checked in e2e (TestOperator).

func statusObjects(t0 time.Time) []client.Object {
	cond := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, LastTransitionTime: metav1.NewTime(t0)}
	}
	ready := cond(authv1.ReadyCondition, metav1.ConditionTrue, authv1.ReasonClientProvisioned)
	ts := func(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }
	authClient := func(ns, name string, st *authv1.SecretRotationStatus, conds ...metav1.Condition) *authv1.AuthClient {
		return &authv1.AuthClient{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Status:     authv1.AuthClientStatus{Conditions: conds, SecretRotation: st},
		}
	}
	deleting := authClient("team-a", "leaving", &authv1.SecretRotationStatus{NextRotationTime: ts(-72 * time.Hour)}, ready)
	deleting.Finalizers = []string{"auth.nauthera.io/finalizer"}
	deleting.DeletionTimestamp = ts(-time.Minute)
	return []client.Object{
		authClient("team-a", "web", &authv1.SecretRotationStatus{NextRotationTime: ts(time.Hour)}, ready),
		// Its rotation started 10 minutes ago and has not finished; the
		// reconciler already moved nextRotationTime on.
		authClient("team-a", "api", &authv1.SecretRotationStatus{
			NextRotationTime: ts(2 * time.Hour),
			Pending:          &authv1.PendingRotation{ID: "r1", Reason: "Scheduled", Since: *ts(-10 * time.Minute)},
		}, ready),
		authClient("team-a", "batch", nil,
			cond(authv1.ReadyCondition, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable),
			cond(authv1.ReconcilingCondition, metav1.ConditionTrue, authv1.ReasonKeycloakUnavailable)),
		deleting,
		authClient("team-b", "broken", nil,
			cond(authv1.ReadyCondition, metav1.ConditionFalse, authv1.ReasonInvalidSpec),
			cond(authv1.StalledCondition, metav1.ConditionTrue, authv1.ReasonInvalidSpec)),
		// Reconciles fail before they reach the rotation: the scheduled
		// time passes and stays in status.
		authClient("team-b", "late", &authv1.SecretRotationStatus{NextRotationTime: ts(-3 * time.Hour)},
			cond(authv1.ReadyCondition, metav1.ConditionFalse, authv1.ReasonAuthServerNotReady)),
		authClient("team-b", "new", nil),
		&authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "prod"},
			Status: authv1.AuthServerStatus{Conditions: []metav1.Condition{cond(authv1.ReadyCondition, metav1.ConditionTrue, authv1.ReasonRealmProvisioned)}}},
		&authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "staging"},
			Status: authv1.AuthServerStatus{Conditions: []metav1.Condition{cond(authv1.ReadyCondition, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable)}}},
		&authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "fresh"}},
	}
}

func statusReader(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) client.Reader {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := authv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
}

func closed() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

func TestStatusCollector(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	objs := statusObjects(t0)

	t.Run("counts-by-condition", func(t *testing.T) {
		c := statusmetrics.NewStatusCollector(statusReader(t, interceptor.Funcs{}, objs...), closed())
		want := fmt.Sprintf(`
# HELP nauthera_authclients AuthClients by namespace, Ready condition status (True, False, Unknown), its reason, and stalled (true: a failure retrying cannot fix).
# TYPE nauthera_authclients gauge
nauthera_authclients{namespace="team-a",ready="False",reason="KeycloakUnavailable",stalled="false"} 1
nauthera_authclients{namespace="team-a",ready="True",reason="ClientProvisioned",stalled="false"} 3
nauthera_authclients{namespace="team-b",ready="False",reason="AuthServerNotReady",stalled="false"} 1
nauthera_authclients{namespace="team-b",ready="False",reason="InvalidSpec",stalled="true"} 1
nauthera_authclients{namespace="team-b",ready="Unknown",reason="",stalled="false"} 1
# HELP nauthera_authserver_ready 1 if the AuthServer's Ready condition is True, else 0; reason is the condition's reason (KeycloakUnavailable: Keycloak cannot be reached).
# TYPE nauthera_authserver_ready gauge
nauthera_authserver_ready{name="fresh",namespace="security",reason=""} 0
nauthera_authserver_ready{name="prod",namespace="security",reason="RealmProvisioned"} 1
nauthera_authserver_ready{name="staging",namespace="security",reason="KeycloakUnavailable"} 0
# HELP nauthera_authclient_secret_rotation_due_timestamp_seconds Earliest time (Unix seconds) a secret rotation of an AuthClient in the namespace is or was due: the start of a rotation not yet finished (status.secretRotation.pending.since), else the next scheduled one (status.secretRotation.nextRotationTime). Far in the past: a rotation is overdue.
# TYPE nauthera_authclient_secret_rotation_due_timestamp_seconds gauge
nauthera_authclient_secret_rotation_due_timestamp_seconds{namespace="team-a"} %d
nauthera_authclient_secret_rotation_due_timestamp_seconds{namespace="team-b"} %d
`, t0.Add(-10*time.Minute).Unix(), t0.Add(-3*time.Hour).Unix())
		if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
		problems, err := testutil.CollectAndLint(c)
		if err != nil || len(problems) != 0 {
			t.Errorf("promlint: %v %v", problems, err)
		}
	})

	t.Run("only-the-leader-reports", func(t *testing.T) {
		c := statusmetrics.NewStatusCollector(statusReader(t, interceptor.Funcs{}, objs...), make(chan struct{}))
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("a replica that does not lead reported %d series; a sum over replicas would count objects twice", n)
		}
	})

	t.Run("a-failed-read-drops-only-its-metrics", func(t *testing.T) {
		failClients := interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*authv1.AuthClientList); ok {
				return errors.New("cache not synced")
			}
			return c.List(ctx, list, opts...)
		}}
		c := statusmetrics.NewStatusCollector(statusReader(t, failClients, objs...), closed())
		if n := testutil.CollectAndCount(c, "nauthera_authserver_ready"); n != 3 {
			t.Errorf("AuthServer readiness: %d series, want 3 although AuthClients could not be listed", n)
		}
		if n := testutil.CollectAndCount(c, "nauthera_authclients", "nauthera_authclient_secret_rotation_due_timestamp_seconds"); n != 0 {
			t.Errorf("%d AuthClient series from a failed read", n)
		}
	})
}
