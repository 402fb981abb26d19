package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
)

// Secretless AuthClients (spec.serviceAccount): who may use a ServiceAccount,
// whether the realm is ready for it, and whether the ServiceAccount exists.

// serviceAccountAdmitted applies the AuthServer's rules to spec.serviceAccount
// (enabled, `default` only if allowed) and refuses it when another
// AuthClient of the same AuthServer holds the ServiceAccount: Keycloak
// refuses a token that matches two clients, so both would break. It reads
// the claimants from the cache, so it may only refuse: whether this one may
// take the ServiceAccount is decided again, live, by claimServiceAccount
// before its Keycloak client is created or written.
func (r *AuthClientReconciler) serviceAccountAdmitted(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer) (refused, err error) {
	if !ac.Secretless() {
		return nil, nil
	}
	if reason, msg := desired.CheckServiceAccount(ac, as); reason != "" {
		return reconciler.Permanent(reason, "%s", msg), nil
	}
	var list authv1.AuthClientList
	if err := r.List(ctx, &list, client.MatchingFields{indexServiceAccount: desired.ServiceAccountKey(authServerKey(ac).String(), ac)}); err != nil {
		return nil, err
	}
	if holder := desired.ServiceAccountHolder(serviceAccountClaimants(ac, list.Items)); holder.UID != ac.UID {
		return serviceAccountConflict(ac, holder), nil
	}
	return nil, nil
}

// serviceAccountClaimants returns self and those of items that claim the
// same ServiceAccount of the same AuthServer. One being deleted still holds
// the ServiceAccount until it is gone: its Keycloak client may be enabled
// until its finalizer has deleted it (its deletion re-enqueues the others).
func serviceAccountClaimants(self *authv1.AuthClient, items []authv1.AuthClient) []*authv1.AuthClient {
	key := desired.ServiceAccountKey(authServerKey(self).String(), self)
	claimants := []*authv1.AuthClient{self}
	for i := range items {
		o := &items[i]
		if o.UID != self.UID && desired.ServiceAccountKey(authServerKey(o).String(), o) == key &&
			(o.DeletionTimestamp.IsZero() || desired.HoldsServiceAccount(o)) {
			claimants = append(claimants, o)
		}
	}
	return claimants
}

func serviceAccountConflict(ac, holder *authv1.AuthClient) error {
	return reconciler.Permanent(authv1.ReasonServiceAccountConflict,
		"spec.serviceAccount: ServiceAccount %s/%s already authenticates AuthClient %s/%s of AuthServer %s, and Keycloak refuses a token that matches two clients; give this workload a ServiceAccount of its own",
		ac.Namespace, ac.Spec.ServiceAccount.Name, holder.Namespace, holder.Name, authServerKey(ac))
}

// claimServiceAccount records in ac's status that it holds its
// ServiceAccount before its Keycloak client is created or written (and so
// enabled for the ServiceAccount), or refuses it (ServiceAccountConflict).
// The claimants are read live from the API server, not from the cache,
// and the election and the record are one step under a lock per
// ServiceAccount: a rival's reconcile that starts afterwards sees the
// holding, and none decides from a view that misses it, so two Keycloak
// clients are never enabled for one ServiceAccount, not even for a moment.
// The lock is in this process: the operator runs one active replica
// (leader election). The record is patched with an optimistic lock, so a
// stale copy of ac (the cache behind its own last write) claims nothing.
func (r *AuthClientReconciler) claimServiceAccount(ctx context.Context, ac *authv1.AuthClient, persist func() error) error {
	if !ac.Secretless() {
		return nil
	}
	key := desired.ServiceAccountKey(authServerKey(ac).String(), ac)
	r.claimLocks.LockKey(key)
	defer func() { _ = r.claimLocks.UnlockKey(key) }()
	// The claimants are in ac's namespace: the ServiceAccount's subject names it.
	var list authv1.AuthClientList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(ac.Namespace)); err != nil {
		return err
	}
	self := ac
	for i := range list.Items {
		if o := &list.Items[i]; o.UID == ac.UID && desired.ServiceAccountKey(authServerKey(o).String(), o) == key {
			self = o // its holding as recorded, not as the cache has it
		}
	}
	if holder := desired.ServiceAccountHolder(serviceAccountClaimants(self, list.Items)); holder.UID != ac.UID {
		return serviceAccountConflict(ac, holder)
	}
	if self != ac && desired.HoldsServiceAccount(self) {
		return nil
	}
	ac.Status.ServiceAccount = authv1.ServiceAccountSubject(ac.Namespace, ac.Spec.ServiceAccount.Name)
	return persist()
}

// serviceAccountClaim is claimServiceAccount for one reconcile, done once.
func (r *AuthClientReconciler) serviceAccountClaim(ctx context.Context, ac *authv1.AuthClient, persist func() error) func() error {
	claimed := false
	return func() error {
		if claimed {
			return nil
		}
		err := r.claimServiceAccount(ctx, ac, persist)
		claimed = err == nil
		return err
	}
}

// issuerReady fails while the AuthServer has not set up service-account
// authentication in its realm: a secretless client would name an identity
// provider that is not (or not yet, or not Nauthera's) there.
func issuerReady(ac *authv1.AuthClient, as *authv1.AuthServer) error {
	if !ac.Secretless() || as.Status.ServiceAccountAuthentication != nil {
		return nil
	}
	key := client.ObjectKeyFromObject(as)
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition); c != nil && c.Status == metav1.ConditionFalse {
		if c.Reason == authv1.ReasonIdentityProviderConflict || c.Reason == authv1.ReasonKeycloakRejected || c.Reason == authv1.ReasonIssuerNotDiscovered || c.Reason == authv1.ReasonFeatureNeedsKeycloak {
			return reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s cannot set up service-account authentication in its realm: %s: %s", key, c.Reason, c.Message)
		}
		return reconciler.Transient(authv1.ReasonAuthServerNotReady, "AuthServer %s has not set up service-account authentication in its realm yet (it retries): %s: %s", key, c.Reason, c.Message)
	}
	return reconciler.Wait(authv1.ReasonAuthServerNotReady, 0, "Waiting for AuthServer %s to set up service-account authentication in its realm", key)
}

// identityProviderTakenOver says whether the realm's identity provider of
// Nauthera's alias is someone else's now (IdentityProviderConflict).
func identityProviderTakenOver(as *authv1.AuthServer) bool {
	c := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonIdentityProviderConflict
}

// issuerNote is for the Ready message of a secretless client whose realm
// cannot check service-account tokens (Keycloak cannot fetch the keys).
func issuerNote(ac *authv1.AuthClient, as *authv1.AuthServer) string {
	if !ac.Secretless() {
		return ""
	}
	c := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition)
	if c == nil || c.Status != metav1.ConditionFalse {
		return ""
	}
	return fmt.Sprintf("but Keycloak cannot check service-account tokens yet (AuthServer %s: %s)", client.ObjectKeyFromObject(as), c.Reason)
}

// serviceAccountExists fails if the ServiceAccount does not exist: the
// client and the Secret are in place, and work once it does. Read from the
// API server, not a cache of every ServiceAccount of the cluster.
func (r *AuthClientReconciler) serviceAccountExists(ctx context.Context, ac *authv1.AuthClient) error {
	if !ac.Secretless() {
		return nil
	}
	key := types.NamespacedName{Namespace: ac.Namespace, Name: ac.Spec.ServiceAccount.Name}
	err := r.APIReader.Get(ctx, key, &corev1.ServiceAccount{})
	if apierrors.IsNotFound(err) {
		return reconciler.Transient(authv1.ReasonServiceAccountNotFound,
			"spec.serviceAccount: ServiceAccount %s does not exist; the Keycloak client and the Secret are provisioned and its tokens authenticate once it exists (checked again with backoff)", key)
	}
	return err
}

// serviceAccountClaimants maps an AuthClient to the other AuthClients that
// claim the same ServiceAccount under the same AuthServer: one that goes,
// or stops or starts claiming it, changes who holds it. For an update,
// controller-runtime maps the old and the new object.
func (r *AuthClientReconciler) serviceAccountClaimants(ctx context.Context, o client.Object) []reconcile.Request {
	ac, ok := o.(*authv1.AuthClient)
	if !ok {
		return nil
	}
	key := desired.ServiceAccountKey(authServerKey(ac).String(), ac)
	if key == "" {
		return nil
	}
	var reqs []reconcile.Request
	for _, other := range r.clientsIndexed(ctx, indexServiceAccount, key) {
		if other.UID != ac.UID {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&other)})
		}
	}
	return reqs
}

// serviceAccountClaimChanged passes the AuthClient events that can change
// who holds a ServiceAccount: a secretless client created or deleted (or
// being deleted), its ServiceAccount changed, or its holding recorded.
var serviceAccountClaimChanged = predicate.Funcs{
	CreateFunc:  func(e event.CreateEvent) bool { return claims(e.Object) },
	DeleteFunc:  func(e event.DeleteEvent) bool { return claims(e.Object) },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*authv1.AuthClient)
		n, ok2 := e.ObjectNew.(*authv1.AuthClient)
		if !ok1 || !ok2 || (!o.Secretless() && !n.Secretless()) {
			return false
		}
		return desired.ServiceAccountKey(authServerKey(o).String(), o) != desired.ServiceAccountKey(authServerKey(n).String(), n) ||
			o.Status.ServiceAccount != n.Status.ServiceAccount || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() ||
			// A claimant that gets stuck (or unstuck) may pass the holding on.
			meta.IsStatusConditionTrue(o.Status.Conditions, authv1.StalledCondition) != meta.IsStatusConditionTrue(n.Status.Conditions, authv1.StalledCondition)
	},
}

func claims(o client.Object) bool {
	ac, ok := o.(*authv1.AuthClient)
	return ok && ac.Secretless()
}
