package controllers

import (
	"context"
	"fmt"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

func (r *AuthClientReconciler) reconcileDelete(ctx context.Context, ac *authv1.AuthClient, rep reconciler.Reporter) error {
	if !controllerutil.ContainsFinalizer(ac, reconciler.Finalizer) {
		return nil
	}
	switch {
	case ac.EffectiveDeletionPolicy(false) == authv1.DeletionPolicyDelete:
		err := r.onOwnClient(ctx, ac, rep, func(kc keycloak.Admin, realm string, actual *gocloak.Client) error {
			if ac.EffectiveDeletionPolicy(actual.Attributes[desired.AttrAdopted] == "true") != authv1.DeletionPolicyDelete {
				// Adopted (status.adoption lost, say by a restore): an
				// unset deletionPolicy orphans it all the same, and like
				// every orphan it loses what nobody could take back.
				ctrl.LoggerFrom(ctx).Info("Leaving the adopted Keycloak client in place", "clientId", ac.EffectiveClientID(), "realm", realm)
				return orphanClient(ctx, ac, kc, realm, actual)
			}
			ctrl.LoggerFrom(ctx).Info("Deleting Keycloak client", "clientId", ac.EffectiveClientID(), "realm", realm)
			return kc.DeleteClient(ctx, realm, gocloak.PString(actual.ID))
		})
		if err != nil {
			rep.Fail(ctx, ac, authv1.ReasonDeleting, "Cannot delete the Keycloak client yet: "+err.Error(), true)
			return err
		}
	case len(ac.Status.Audiences) > 0 || len(ac.Status.RoleGrants) > 0 || ac.Secretless() || ac.Status.ServiceAccount != "":
		err := r.onOwnClient(ctx, ac, rep, func(kc keycloak.Admin, realm string, actual *gocloak.Client) error {
			return orphanClient(ctx, ac, kc, realm, actual)
		})
		if err != nil {
			rep.Fail(ctx, ac, authv1.ReasonDeleting, "Cannot unbind the orphaned Keycloak client yet (audiences, role grants, ServiceAccount): "+err.Error(), true)
			return err
		}
	}
	return reconciler.RemoveFinalizer(ctx, r.Client, ac)
}

// orphanClient leaves the Keycloak client actual to live on without its
// AuthClient, so without what nobody could take back any more: other
// clients' consent (its audiences), and its ServiceAccount binding, which a
// namespace of the same name created later (by anyone) would inherit. Its
// credentials otherwise stay as they were.
func orphanClient(ctx context.Context, ac *authv1.AuthClient, kc keycloak.Admin, realm string, actual *gocloak.Client) error {
	plan := desired.PlanAudiences(nil, *actual)
	if !plan.Empty() {
		ctrl.LoggerFrom(ctx).Info("Removing audiences from the orphaned Keycloak client", "clientId", ac.EffectiveClientID(), "count", len(plan.Remove))
		if err := applyAudiences(ctx, kc, realm, gocloak.PString(actual.ID), plan); err != nil {
			return err
		}
	}
	// The roles other clients' owners consented to, likewise.
	if err := releaseRoleGrants(ctx, ac, kc, realm, actual); err != nil {
		return err
	}
	if actual.Attributes[desired.AttrJWTSubject] == "" && actual.Attributes[desired.AttrJWTIssuer] == "" {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Unbinding the orphaned Keycloak client from its ServiceAccount", "clientId", ac.EffectiveClientID())
	unbound := *actual
	unbound.Attributes = map[string]string{}
	for k, v := range actual.Attributes {
		unbound.Attributes[k] = v
	}
	unbound.Attributes[desired.AttrJWTSubject], unbound.Attributes[desired.AttrJWTIssuer] = "", ""
	return kc.UpdateClient(ctx, realm, unbound)
}

// onOwnClient runs act on the Keycloak client if this AuthClient owns it.
// A vanished AuthServer, realm or credentials Secret never blocks deletion;
// an unreachable Keycloak does (it is retried), or the client would leak.
func (r *AuthClientReconciler) onOwnClient(ctx context.Context, ac *authv1.AuthClient, rep reconciler.Reporter, act func(kc keycloak.Admin, realm string, actual *gocloak.Client) error) error {
	as := &authv1.AuthServer{}
	if err := r.Get(ctx, authServerKey(ac), as); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	realm := as.Status.RealmName
	if realm == "" {
		return nil
	}
	err := func() error {
		kc, err := r.Connections.For(ctx, as)
		if err != nil {
			return err
		}
		// Not found: the client, or its whole realm, is gone already.
		actual, err := kc.FindClient(ctx, realm, ac.EffectiveClientID())
		if err == nil && desired.ClientOwner(actual) == desired.Owner(ac.Namespace, ac.Name) {
			err = act(kc, realm, actual)
		}
		return err
	}()
	return reconciler.SettleDeletion(err, func(err error) {
		rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonClientLeftBehind, fmt.Sprintf("Keycloak client %q in realm %q was not cleaned up: %v", ac.EffectiveClientID(), realm, err))
	})
}
