package controllers

import (
	"context"
	"fmt"
	"strings"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// reconcileClient makes the Keycloak client match the AuthClient and
// returns it as Keycloak has it.
func (r *AuthClientReconciler) reconcileClient(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter) (*gocloak.Client, error) {
	log := ctrl.LoggerFrom(ctx)
	realm := as.Status.RealmName
	want := desired.Client(ac)
	clientID := ac.EffectiveClientID()

	actual, err := kc.FindClient(ctx, realm, clientID)
	if keycloak.IsNotFound(err) {
		return r.createClient(ctx, ac, kc, realm, want, rep)
	}
	if err != nil {
		return nil, err
	}
	me := desired.Owner(ac.Namespace, ac.Name)
	if owner := desired.ClientOwner(actual); owner != me {
		who := "a client not managed by Nauthera"
		if owner != "" {
			who = "AuthClient " + owner
		}
		return nil, reconciler.Permanent(authv1.ReasonClientIDConflict, "clientId %q already exists in realm %q and belongs to %s; the operator does not take it over", clientID, realm, who)
	}
	drifted := ac.Status.ObservedGeneration == ac.Generation && reconciler.IsReady(ac)
	if diff := desired.ClientDiff(want, *actual); len(diff) > 0 {
		log.Info("Updating Keycloak client", "clientId", clientID, "fields", diff)
		merged := desired.MergeClient(want, *actual)
		if err := kc.UpdateClient(ctx, realm, merged); err != nil {
			return nil, err
		}
		if drifted {
			rep.Event(ctx, ac, corev1.EventTypeWarning, "DriftReverted", fmt.Sprintf("Reverted changes made in Keycloak to client %q: %s", clientID, strings.Join(diff, ", ")))
		}
		merged.Secret = actual.Secret
		actual = &merged
	}
	if plan := desired.ScopePlan(ac.Spec.Scopes, *actual); len(plan) > 0 {
		if err := r.applyScopes(ctx, kc, realm, gocloak.PString(actual.ID), ac.Spec.Scopes, plan); err != nil {
			return nil, err
		}
		if drifted {
			var names []string
			for _, p := range plan {
				names = append(names, p.Name)
			}
			rep.Event(ctx, ac, corev1.EventTypeWarning, "DriftReverted", fmt.Sprintf("Reverted changes made in Keycloak to the scopes of client %q: %s", clientID, strings.Join(names, ", ")))
		}
	}
	return actual, nil
}

func (r *AuthClientReconciler) createClient(ctx context.Context, ac *authv1.AuthClient, kc keycloak.Admin, realm string, want gocloak.Client, rep reconciler.Reporter) (*gocloak.Client, error) {
	clientID := gocloak.PString(want.ClientID)
	scopeIDs, err := r.realmScopes(ctx, kc, realm, ac.Spec.Scopes)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(scopeIDs))
	for n := range scopeIDs {
		names = append(names, n)
	}
	want.DefaultClientScopes, want.OptionalClientScopes = desired.CreateScopes(ac.Spec.Scopes, names)
	ctrl.LoggerFrom(ctx).Info("Creating Keycloak client", "clientId", clientID, "realm", realm)
	id, err := kc.CreateClient(ctx, realm, want)
	switch {
	case keycloak.IsConflict(err):
		// Created between our lookup and our create: look again next time.
		return nil, &reconciler.Failure{Reason: authv1.ReasonClientIDConflict, Transient: true,
			Msg: fmt.Sprintf("clientId %q appeared in realm %q while it was being created; checking again", clientID, realm)}
	case keycloak.IsNotFound(err):
		return nil, &reconciler.Failure{Reason: authv1.ReasonAuthServerNotReady, Transient: true,
			Msg: fmt.Sprintf("realm %q does not exist in Keycloak; waiting for AuthServer %s to recreate it", realm, authServerKey(ac))}
	case err != nil:
		return nil, err
	}
	created, err := kc.GetClient(ctx, realm, id)
	if err != nil {
		return nil, err
	}
	rep.Event(ctx, ac, corev1.EventTypeNormal, "ClientCreated", fmt.Sprintf("Created Keycloak client %q in realm %q", clientID, realm))
	return created, nil
}

// realmScopes returns the realm's client scopes by name, after creating the
// custom scopes the AuthClient asks for.
func (r *AuthClientReconciler) realmScopes(ctx context.Context, kc keycloak.Admin, realm string, requested []string) (map[string]string, error) {
	ids := map[string]string{}
	if len(requested) == 0 {
		return ids, nil
	}
	scopes, err := kc.ListClientScopes(ctx, realm)
	if err != nil {
		return nil, err
	}
	for _, s := range scopes {
		ids[gocloak.PString(s.Name)] = gocloak.PString(s.ID)
	}
	for _, name := range desired.CustomScopes(requested) {
		if ids[name] != "" {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Creating Keycloak client scope", "scope", name, "realm", realm)
		id, _, err := kc.EnsureClientScope(ctx, realm, desired.ClientScope(name))
		if err != nil {
			return nil, err
		}
		ids[name] = id
	}
	return ids, nil
}

func (r *AuthClientReconciler) applyScopes(ctx context.Context, kc keycloak.Admin, realm, id string, requested []string, plan []desired.ScopeChange) error {
	ids, err := r.realmScopes(ctx, kc, realm, requested)
	if err != nil {
		return err
	}
	for _, p := range plan {
		scopeID := ids[p.Name]
		if scopeID == "" {
			return reconciler.Permanent(authv1.ReasonInvalidSpec, "client scope %q does not exist in realm %q", p.Name, realm)
		}
		kind := keycloak.DefaultScope
		if p.Optional {
			kind = keycloak.OptionalScope
		}
		if p.Add {
			err = kc.AddClientScope(ctx, realm, id, scopeID, kind)
		} else {
			err = kc.RemoveClientScope(ctx, realm, id, scopeID, kind)
		}
		if err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	return nil
}
