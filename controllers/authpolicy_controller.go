package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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
	"github.com/nauthera/nauthera/pkg/policy"
)

// AuthPolicyReconciler reports, on each AuthPolicy, which AuthServers select
// it, how many clients it governs and how many break it. It writes only
// AuthPolicy status: enforcing a policy is the AuthClient reconciler's job,
// reporting conflicts the AuthServer reconciler's.
type AuthPolicyReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients,verbs=get;list;watch

// Reconcile computes one AuthPolicy's status.
func (r *AuthPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	p := &authv1.AuthPolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := p.DeepCopy()
	rep := reconciler.Reporter{Recorder: r.Recorder, Kind: "AuthPolicy"}
	defer func() {
		if err := reconciler.PatchStatus(ctx, r.Client, before, p, func(o reconciler.Object) any { return o.(*authv1.AuthPolicy).Status }); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	var servers authv1.AuthServerList
	if err := r.List(ctx, &servers, client.InNamespace(p.Namespace)); err != nil {
		return rep.Failed(ctx, p, err, time.Minute)
	}
	var policies authv1.AuthPolicyList
	if err := r.List(ctx, &policies, client.InNamespace(p.Namespace)); err != nil {
		return rep.Failed(ctx, p, err, time.Minute)
	}
	var names, conflicts []string
	governed, violating := 0, 0
	for i := range servers.Items {
		as := &servers.Items[i]
		if !policy.Selects(as, p) {
			continue
		}
		key := client.ObjectKeyFromObject(as).String()
		names = append(names, key)
		if _, cs := policy.Combine(policy.Select(as, policies.Items)); len(cs) > 0 {
			for _, c := range cs {
				if slices.Contains(c.Policies, policy.Key(p)) {
					conflicts = append(conflicts, fmt.Sprintf("AuthServer %s: %s", key, c.Message))
				}
			}
		}
		var clients authv1.AuthClientList
		if err := r.List(ctx, &clients, client.MatchingFields{indexAuthServerRef: key}); err != nil {
			return rep.Failed(ctx, p, err, time.Minute)
		}
		for j := range clients.Items {
			governed++
			if len(policy.Evaluate(&clients.Items[j], []authv1.AuthPolicy{*p})) > 0 {
				violating++
			}
		}
	}
	slices.Sort(names)
	p.Status.AuthServers = names
	// Pointers, so that a count of 0 is written and shown, not left out.
	p.Status.SelectedBy, p.Status.GovernedClients, p.Status.ViolatingClients = ptr.To(int32(len(names))), ptr.To(int32(governed)), ptr.To(int32(violating))
	switch rotErr := policy.CheckRotation(p); {
	case rotErr != nil:
		// What CEL cannot check at admission (the gaps of a cron schedule).
		rep.Stalled(ctx, p, authv1.ReasonInvalidSpec, rotErr.Error()+"; secrets are not rotated until this is fixed")
	case len(conflicts) > 0:
		rep.Stalled(ctx, p, authv1.ReasonPolicyConflict, "This policy contradicts another policy of the same AuthServer, and the clients of that AuthServer are refused until it is resolved: "+strings.Join(conflicts, "; "))
	case len(names) == 0:
		rep.Ready(ctx, p, authv1.ReasonNoAuthServer, fmt.Sprintf("No AuthServer in namespace %s selects this policy (through its policySelector): it governs nothing", p.Namespace))
	default:
		msg := fmt.Sprintf("Selected by %s; governs %d clients, %d of which violate it", strings.Join(names, ", "), governed, violating)
		if ca := p.Spec.ClientAuthentication; ca != nil && ca.SecretRotation != nil && ca.SecretRotation.Enabled {
			msg += fmt.Sprintf("; rotates client secrets on schedule %q (UTC)", ca.SecretRotation.Schedule)
		}
		rep.Ready(ctx, p, authv1.ReasonPolicyAccepted, msg)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler. It lists through the
// AuthClient index by AuthServer that SetupIndexes registers.
func (r *AuthPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := requireIndexes(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1.AuthPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&authv1.AuthServer{}, handler.EnqueueRequestsFromMapFunc(r.policiesIn), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A policy's conflicts depend on its neighbours: a change of one
		// re-evaluates the others of its namespace.
		Watches(&authv1.AuthPolicy{}, handler.EnqueueRequestsFromMapFunc(r.policiesIn), policySpecOrLabels).
		// Counts depend on clients' specs, not on their status.
		Watches(&authv1.AuthClient{}, handler.EnqueueRequestsFromMapFunc(r.policiesOfClient), builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() || !e.ObjectNew.GetDeletionTimestamp().IsZero()
			},
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("authpolicy").
		Complete(r)
}

// policiesIn maps an object to the AuthPolicies of its namespace.
func (r *AuthPolicyReconciler) policiesIn(ctx context.Context, o client.Object) []reconcile.Request {
	return r.policiesInNamespace(ctx, o.GetNamespace())
}

// policiesOfClient maps an AuthClient to the AuthPolicies of its AuthServer's namespace.
func (r *AuthPolicyReconciler) policiesOfClient(ctx context.Context, o client.Object) []reconcile.Request {
	ac, ok := o.(*authv1.AuthClient)
	if !ok {
		return nil
	}
	return r.policiesInNamespace(ctx, authServerKey(ac).Namespace)
}

func (r *AuthPolicyReconciler) policiesInNamespace(ctx context.Context, ns string) []reconcile.Request {
	var list authv1.AuthPolicyList
	if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthPolicies", "namespace", ns)
		return nil
	}
	return reconciler.Requests(list.Items)
}
