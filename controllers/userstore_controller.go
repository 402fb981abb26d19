package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
)

// UserStoreReconciler sums up, on each UserStore, what the AuthServers
// that federate it report (their UserStoreReady condition and last sync).
// It writes only UserStore status: the realms are the AuthServers' (see
// authserver_userstore.go).
type UserStoreReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=auth.nauthera.io,resources=userstores,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=userstores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers,verbs=get;list;watch

// Reconcile computes one UserStore's status.
func (r *UserStoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	us := &authv1.UserStore{}
	if err := r.Get(ctx, req.NamespacedName, us); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := us.DeepCopy()
	rep := reconciler.Reporter{Recorder: r.Recorder, Kind: "UserStore"}
	defer func() {
		if err := reconciler.PatchStatus(ctx, r.Client, before, us, func(o reconciler.Object) any { return o.(*authv1.UserStore).Status }); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if !us.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	var servers authv1.AuthServerList
	if err := r.List(ctx, &servers, client.MatchingFields{indexUserStoreRef: req.String()}); err != nil {
		return rep.Failed(ctx, us, err, time.Minute)
	}
	// Sorted: the index returns them in no order, and status must not
	// change (nor Events repeat) for that.
	slices.SortFunc(servers.Items, func(a, b authv1.AuthServer) int {
		return strings.Compare(client.ObjectKeyFromObject(&a).String(), client.ObjectKeyFromObject(&b).String())
	})
	sum := summarizeServers(servers.Items, req.String())
	us.Status.AuthServers, us.Status.Realms, us.Status.LastSync = sum.names, ptr.To(int32(sum.realms)), sum.last
	sum.report(ctx, rep, us)
	return ctrl.Result{}, nil
}

// serversSummary is what the AuthServers referencing a UserStore report.
type serversSummary struct {
	// names: the AuthServers it serves; refused: those it does not serve;
	// waiting: those that report nothing yet.
	names, refused, waiting []string
	// problems: what the failing ones report; reason: the first one's reason.
	problems []string
	reason   string
	// realms: how many realms it is federated into; last: the latest sync.
	realms int
	last   *authv1.UserSyncStatus
}

// summarizeServers sums up the UserStoreReady conditions and syncs of the
// AuthServers (sorted) that reference the UserStore key.
func summarizeServers(servers []authv1.AuthServer, key string) serversSummary {
	var sum serversSummary
	for i := range servers {
		as := &servers[i]
		name := client.ObjectKeyFromObject(as).String()
		c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition)
		if c != nil && c.Reason == authv1.ReasonUserStoreNotAllowed {
			// Anyone may reference it; only the AuthServers it serves
			// count (a refused reference must not turn this Ready off).
			sum.refused = append(sum.refused, name)
			continue
		}
		sum.names = append(sum.names, name)
		if st := as.Status.UserStore; st != nil && st.UserStore == key {
			sum.realms++
			if st.LastSync != nil && (sum.last == nil || st.LastSync.Time.After(sum.last.Time.Time)) {
				sum.last = st.LastSync.DeepCopy()
			}
		}
		switch {
		case c == nil:
			sum.waiting = append(sum.waiting, name)
		case c.Status == metav1.ConditionFalse:
			if sum.reason == "" {
				sum.reason = c.Reason
			}
			sum.problems = append(sum.problems, fmt.Sprintf("AuthServer %s: %s", name, c.Message))
		}
	}
	return sum
}

// report sets the UserStore's Ready from the summary. A wait needs no
// requeue: the AuthServers' status change brings the UserStore back.
func (sum serversSummary) report(ctx context.Context, rep reconciler.Reporter, us *authv1.UserStore) {
	refused := ""
	if len(sum.refused) > 0 {
		refused = fmt.Sprintf("; refused to %s (not in spec.allowedNamespaces)", strings.Join(sum.refused, ", "))
	}
	switch {
	case len(sum.problems) > 0:
		rep.Stalled(ctx, us, sum.reason, strings.Join(sum.problems, "; "))
	case len(sum.names) == 0:
		rep.Ready(ctx, us, authv1.ReasonNotReferenced, "No AuthServer references this UserStore (spec.userStoreRef): it federates into no realm"+refused)
	case len(sum.waiting) > 0:
		rep.Wait(ctx, us, authv1.ReasonProgressing, "Waiting for AuthServers "+strings.Join(sum.waiting, ", ")+" to federate this UserStore")
	default:
		msg := fmt.Sprintf("Federated into the realms of %s", strings.Join(sum.names, ", ")) + refused
		if last := sum.last; last != nil {
			msg += fmt.Sprintf("; last sync %s into realm %q: %d added, %d updated, %d removed, %d failed", last.Time.UTC().Format(time.RFC3339), last.Realm, last.Added, last.Updated, last.Removed, last.Failed)
		}
		rep.Ready(ctx, us, authv1.ReasonUserStoreConfigured, msg)
	}
}

// SetupWithManager registers the reconciler. It lists through the
// AuthServer index by UserStore that SetupIndexes registers.
func (r *UserStoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := requireIndexes(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1.UserStore{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// What the AuthServers report: their reference, their UserStoreReady
		// condition and their sync.
		Watches(&authv1.AuthServer{}, handler.EnqueueRequestsFromMapFunc(r.userStoreOf), builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, ok1 := e.ObjectOld.(*authv1.AuthServer)
				n, ok2 := e.ObjectNew.(*authv1.AuthServer)
				if !ok1 || !ok2 {
					return true
				}
				return userStoreKey(o) != userStoreKey(n) || !equality.Semantic.DeepEqual(o.Status.UserStore, n.Status.UserStore) ||
					!equality.Semantic.DeepEqual(meta.FindStatusCondition(o.Status.Conditions, authv1.UserStoreCondition), meta.FindStatusCondition(n.Status.Conditions, authv1.UserStoreCondition))
			},
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("userstore").
		Complete(r)
}

// userStoreOf maps an AuthServer to the UserStore it references.
func (r *UserStoreReconciler) userStoreOf(_ context.Context, o client.Object) []reconcile.Request {
	as, ok := o.(*authv1.AuthServer)
	if !ok {
		return nil
	}
	key := userStoreKey(as)
	if key == "" {
		return nil
	}
	ns, name, _ := strings.Cut(key, "/")
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
}
