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

// indexServiceAccount indexes secretless AuthClients by what they claim:
// their AuthServer and their ServiceAccount's subject.
const indexServiceAccount = "spec.serviceAccount"

func serviceAccountIndex(o client.Object) []string {
	ac := o.(*authv1.AuthClient)
	if k := desired.ServiceAccountKey(authServerKey(ac).String(), ac); k != "" {
		return []string{k}
	}
	return nil
}

// serviceAccountAdmitted applies the AuthServer's rules to spec.serviceAccount
// (enabled, `default` only if allowed) and refuses it when another
// AuthClient of the same AuthServer holds the ServiceAccount: Keycloak
// refuses a token that matches two clients, so both would break.
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
	claimants := []*authv1.AuthClient{ac}
	for i := range list.Items {
		o := &list.Items[i]
		// One being deleted still holds the ServiceAccount until it is
		// gone: its Keycloak client may be enabled until its finalizer
		// has deleted it (its deletion re-enqueues the others).
		if o.UID != ac.UID && (o.DeletionTimestamp.IsZero() || desired.HoldsServiceAccount(o)) {
			claimants = append(claimants, o)
		}
	}
	if holder := desired.ServiceAccountHolder(claimants); holder.UID != ac.UID {
		return reconciler.Permanent(authv1.ReasonServiceAccountConflict,
			"spec.serviceAccount: ServiceAccount %s/%s already authenticates AuthClient %s/%s of AuthServer %s, and Keycloak refuses a token that matches two clients; give this workload a ServiceAccount of its own",
			ac.Namespace, ac.Spec.ServiceAccount.Name, holder.Namespace, holder.Name, authServerKey(ac)), nil
	}
	return nil, nil
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
		if c.Reason == authv1.ReasonIdentityProviderConflict || c.Reason == authv1.ReasonKeycloakRejected || c.Reason == authv1.ReasonIssuerNotDiscovered {
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
