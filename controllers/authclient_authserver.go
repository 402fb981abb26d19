package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// authServer returns the referenced AuthServer if its realm is ready, and
// whether this AuthClient may attach to it: a refusal (its namespace is not
// selected, its clientId is another namespace's) comes back as refused, with
// the AuthServer when its realm is ready, so the caller can disable a client
// that was admitted before.
func (r *AuthClientReconciler) authServer(ctx context.Context, ac *authv1.AuthClient) (as *authv1.AuthServer, refused, err error) {
	key := authServerKey(ac)
	as = &authv1.AuthServer{}
	if err := r.Get(ctx, key, as); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, reconciler.Permanent(authv1.ReasonAuthServerNotFound, "AuthServer %s not found", key)
		}
		return nil, nil, err
	}
	refused, err = r.admitted(ctx, ac, as)
	if err != nil {
		return nil, nil, err
	}
	if err := r.realmReady(as); err != nil {
		if refused != nil && as.Status.RealmName != "" {
			// Not Ready for another reason, but its realm exists: a
			// refused client must still be disabled there.
			return as, refused, nil
		}
		if refused != nil {
			return nil, refused, nil
		}
		return nil, nil, err
	}
	return as, refused, nil
}

// admitted applies the tenancy rules: the clientId rule (decided by the
// AuthClient alone, so timing cannot beat it), the AuthServer's
// clientNamespaceSelector, and its rules for secretless clients (a
// ServiceAccount the server allows, held by no other client). It returns
// the refusal, or an error when it could not decide.
func (r *AuthClientReconciler) admitted(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer) (refused, err error) {
	key := client.ObjectKeyFromObject(as)
	if err := desired.CheckClientID(ac, as.Spec.AllowedClientIDPrefixes); err != nil {
		return reconciler.Permanent(authv1.ReasonInvalidSpec, "%v", err), nil
	}
	if as.Spec.ClientNamespaceSelector == nil {
		return r.serviceAccountAdmitted(ctx, ac, as)
	}
	selector, err := as.Spec.ClientNamespaceSelector.AsSelector()
	if err != nil {
		return reconciler.Permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s has an invalid clientNamespaceSelector, so it admits no namespace: %v", key, err), nil
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: ac.Namespace}, ns); err != nil {
		return nil, err
	}
	if !selector.Matches(labels.Set(ns.Labels)) {
		return reconciler.Permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s does not accept clients from namespace %q (its clientNamespaceSelector does not match)", key, ac.Namespace), nil
	}
	return r.serviceAccountAdmitted(ctx, ac, as)
}

// realmReady fails unless the AuthServer's realm is provisioned.
func (r *AuthClientReconciler) realmReady(as *authv1.AuthServer) error {
	key := client.ObjectKeyFromObject(as)
	if !as.DeletionTimestamp.IsZero() {
		return reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is being deleted", key)
	}
	c := reconciler.FindReady(as)
	if c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonKeycloakUnavailable {
		return &reconciler.Failure{Reason: authv1.ReasonKeycloakUnavailable, Transient: true,
			Msg: fmt.Sprintf("%s (reported by AuthServer %s)", c.Message, key)}
	}
	// Ready for any generation: an AuthServer spec edit must not flap every
	// client while the AuthServer reconciler catches up.
	if as.Status.RealmName == "" || c == nil || c.Status != metav1.ConditionTrue {
		if c == nil && time.Since(as.CreationTimestamp.Time) > 2*time.Minute {
			// Nobody reconciles it: not a wait any more, a misconfiguration.
			return reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s still has no status minutes after its creation; is the operator watching namespace %q?", key, key.Namespace)
		}
		if c == nil || c.Reason == authv1.ReasonProgressing {
			// A new AuthServer: its realm usually exists within a second.
			return &reconciler.Failure{Reason: authv1.ReasonAuthServerNotReady, Waiting: true,
				Msg: fmt.Sprintf("Waiting for AuthServer %s to provision its realm", key)}
		}
		if meta.IsStatusConditionTrue(as.Status.Conditions, authv1.ReconcilingCondition) {
			// The AuthServer retries a transient failure: so does its client.
			return reconciler.Transient(authv1.ReasonAuthServerNotReady, "AuthServer %s is not ready yet (it retries): %s: %s", key, c.Reason, c.Message)
		}
		return reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is not ready: %s: %s", key, c.Reason, c.Message)
	}
	return nil
}

// revoke disables the Keycloak client this AuthClient owns, if any, after
// a tenancy refusal: a client admitted earlier must not keep working once
// its namespace is no longer allowed. The client and its credentials are
// kept, so admitting the namespace again restores it as it was. It returns
// the refusal with what happened to the client.
func (r *AuthClientReconciler) revoke(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, refusal error) error {
	f := reconciler.Classify(refusal)
	realm, clientID := as.Status.RealmName, ac.EffectiveClientID()
	actual, err := kc.FindClient(ctx, realm, clientID)
	switch {
	case keycloak.IsNotFound(err):
		return refusal
	case err != nil:
		return &reconciler.Failure{Reason: f.Reason, Transient: true,
			Msg: fmt.Sprintf("%s; disabling its Keycloak client failed and is retried: %v", f.Msg, err)}
	case desired.ClientOwner(actual) != desired.Owner(ac.Namespace, ac.Name):
		return refusal
	}
	if gocloak.PBool(actual.Enabled) {
		ctrl.LoggerFrom(ctx).Info("Disabling Keycloak client", "clientId", clientID, "realm", realm, "reason", f.Reason)
		disabled := *actual
		disabled.Enabled = gocloak.BoolP(false)
		if err := kc.UpdateClient(ctx, realm, disabled); err != nil {
			return &reconciler.Failure{Reason: f.Reason, Transient: true,
				Msg: fmt.Sprintf("%s; disabling its Keycloak client failed and is retried: %v", f.Msg, err)}
		}
	}
	return reconciler.Permanent(f.Reason, "%s; its Keycloak client %q is disabled (the client, its credentials and the Secret are kept, and it is enabled again once this is resolved)", f.Msg, clientID)
}

func authServerKey(ac *authv1.AuthClient) types.NamespacedName {
	return ac.Spec.AuthServerRef.In(ac.Namespace)
}
