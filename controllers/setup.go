package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
)

// The field indexes of the manager's cache. Every reconciler lists through
// some of them, and several share one (the AuthPolicy reconciler lists the
// AuthClients of an AuthServer, the UserStore reconciler the AuthServers of a
// UserStore), so they are registered once, here, by SetupIndexes, before any
// reconciler's SetupWithManager: in the manner of cluster-api's index
// packages. A key and the function that extracts it stay side by side.
const (
	// indexAuthServerRef indexes AuthClients by the AuthServer they
	// reference (namespace/name).
	indexAuthServerRef = "spec.authServerRef"
	// indexAudiences indexes AuthClients by the AuthClients their
	// spec.audiences name (namespace/name).
	indexAudiences = "spec.audiences"
	// indexServiceAccount indexes secretless AuthClients by what they claim:
	// their AuthServer and their ServiceAccount's subject.
	indexServiceAccount = "spec.serviceAccount"
	// indexUserStoreRef indexes AuthServers by the UserStore they reference
	// (namespace/name).
	indexUserStoreRef = "spec.userStoreRef"
)

// fieldIndex is one index of the manager's cache.
type fieldIndex struct {
	obj     client.Object
	field   string
	extract client.IndexerFunc
}

// fieldIndexes lists every index the reconcilers list through.
var fieldIndexes = []fieldIndex{
	{&authv1.AuthClient{}, indexAuthServerRef, authServerRefIndex},
	{&authv1.AuthClient{}, indexAudiences, audienceIndex},
	{&authv1.AuthClient{}, indexServiceAccount, serviceAccountIndex},
	{&authv1.AuthClient{}, indexRoleGrants, roleGrantIndex},
	{&authv1.AuthClient{}, indexClientSecretRef, clientSecretRefIndex},
	{&authv1.AuthServer{}, indexUserStoreRef, userStoreRefIndex},
}

// indexedManagers holds the managers SetupIndexes has run on, until they
// stop (see SetupIndexes for the ones that never get that far).
// controller-runtime cannot tell whether an index exists (a List through a
// missing one only fails at run time, and a watch's map function that lists
// would log and enqueue nothing), so SetupIndexes leaves this mark and every
// SetupWithManager checks it with requireIndexes.
var indexedManagers sync.Map // ctrl.Manager → struct{}

// SetupIndexes registers every field index the reconcilers use with mgr's
// cache. Call it once per manager, before any reconciler's SetupWithManager:
// those refuse to start without it.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	if _, done := indexedManagers.Load(mgr); done {
		return errors.New("controllers.SetupIndexes: the indexes are registered with this manager already")
	}
	for _, ix := range fieldIndexes {
		if err := mgr.GetFieldIndexer().IndexField(ctx, ix.obj, ix.field, ix.extract); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	// Forget the manager once it stops, so that a process that starts many
	// (the test suites) keeps none of them alive. forgetOnStop runs only once
	// the caches have synced (controller-runtime starts its "other"
	// runnables then): a manager that never starts, or whose start fails
	// before that, stays marked (and referenced) for the life of the process.
	if err := mgr.Add(forgetOnStop{mgr}); err != nil {
		return err
	}
	indexedManagers.Store(mgr, struct{}{})
	return nil
}

// requireIndexes fails a reconciler's SetupWithManager when SetupIndexes has
// not run on mgr: better a manager that does not start than watches that
// silently map every event to nothing.
func requireIndexes(mgr ctrl.Manager) error {
	if _, ok := indexedManagers.Load(mgr); !ok {
		return errors.New("controllers: call controllers.SetupIndexes(ctx, mgr) before the reconcilers' SetupWithManager; without the field indexes their lists fail")
	}
	return nil
}

// forgetOnStop removes its manager from indexedManagers when the manager
// stops. It runs on every replica, leader or not.
type forgetOnStop struct{ mgr ctrl.Manager }

func (f forgetOnStop) Start(ctx context.Context) error {
	<-ctx.Done()
	indexedManagers.Delete(f.mgr)
	return nil
}

func (forgetOnStop) NeedLeaderElection() bool { return false }

// authServerRefIndex is the AuthServer an AuthClient references.
func authServerRefIndex(o client.Object) []string {
	return []string{authServerKey(o.(*authv1.AuthClient)).String()}
}

// audienceIndex lists the namespace/name of each audience an AuthClient names.
func audienceIndex(o client.Object) []string {
	ac := o.(*authv1.AuthClient)
	out := make([]string, 0, len(ac.Spec.Audiences))
	for _, ref := range ac.Spec.Audiences {
		out = append(out, audienceKey(ac, ref).String())
	}
	return out
}

// serviceAccountIndex is the ServiceAccount a secretless AuthClient claims,
// within its AuthServer (none without spec.serviceAccount).
func serviceAccountIndex(o client.Object) []string {
	ac := o.(*authv1.AuthClient)
	if k := desired.ServiceAccountKey(authServerKey(ac).String(), ac); k != "" {
		return []string{k}
	}
	return nil
}

// userStoreRefIndex is the UserStore an AuthServer references, if any.
func userStoreRefIndex(o client.Object) []string {
	if k := userStoreKey(o.(*authv1.AuthServer)); k != "" {
		return []string{k}
	}
	return nil
}

// userStoreKey is the UserStore an AuthServer references ("" for none).
func userStoreKey(as *authv1.AuthServer) string {
	ref := as.Spec.UserStoreRef
	if ref == nil {
		return ""
	}
	return ref.In(as.Namespace).String()
}

// policySpecOrLabels passes AuthPolicy events that change what it governs
// or whom: its spec or its labels; never its status, which the AuthPolicy
// reconciler writes as clients come and go. The AuthClient, AuthServer and
// AuthPolicy reconcilers all watch AuthPolicies through it.
var policySpecOrLabels = builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))
