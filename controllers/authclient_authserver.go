package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
)

// authServer returns the referenced AuthServer if this AuthClient may use it
// and its realm is ready.
func (r *AuthClientReconciler) authServer(ctx context.Context, ac *authv1.AuthClient) (*authv1.AuthServer, error) {
	key := authServerKey(ac)
	as := &authv1.AuthServer{}
	if err := r.Get(ctx, key, as); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconciler.Permanent(authv1.ReasonAuthServerNotFound, "AuthServer %s not found", key)
		}
		return nil, err
	}
	if sel := as.Spec.ClientNamespaceSelector; sel != nil {
		selector, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, reconciler.Permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s has an invalid clientNamespaceSelector: %v", key, err)
		}
		ns := &corev1.Namespace{}
		if err := r.Get(ctx, types.NamespacedName{Name: ac.Namespace}, ns); err != nil {
			return nil, err
		}
		if !selector.Matches(labels.Set(ns.Labels)) {
			return nil, reconciler.Permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s does not accept clients from namespace %q (its clientNamespaceSelector does not match)", key, ac.Namespace)
		}
	}
	if !as.DeletionTimestamp.IsZero() {
		return nil, reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is being deleted", key)
	}
	c := reconciler.FindReady(as)
	if c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonKeycloakUnavailable {
		return nil, &reconciler.Failure{Reason: authv1.ReasonKeycloakUnavailable, Transient: true,
			Msg: fmt.Sprintf("%s (reported by AuthServer %s)", c.Message, key)}
	}
	// Ready for any generation: an AuthServer spec edit must not flap every
	// client while the AuthServer reconciler catches up.
	if as.Status.RealmName == "" || c == nil || c.Status != metav1.ConditionTrue {
		if c == nil && time.Since(as.CreationTimestamp.Time) > 2*time.Minute {
			// Nobody reconciles it: not a wait any more, a misconfiguration.
			return nil, reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s still has no status minutes after its creation; is the operator watching namespace %q?", key, key.Namespace)
		}
		if c == nil || c.Reason == authv1.ReasonProgressing {
			// A new AuthServer: its realm usually exists within a second.
			return nil, &reconciler.Failure{Reason: authv1.ReasonAuthServerNotReady, Waiting: true,
				Msg: fmt.Sprintf("Waiting for AuthServer %s to provision its realm", key)}
		}
		return nil, reconciler.Permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is not ready: %s: %s", key, c.Reason, c.Message)
	}
	return as, nil
}

// checkClientID refuses an explicit clientId shaped like another namespace's
// default (`<namespace>.<name>`): a team could otherwise claim a client ID
// before its rightful owner, and impersonate that application.
func (r *AuthClientReconciler) checkClientID(ctx context.Context, ac *authv1.AuthClient) error {
	prefix, _, ok := strings.Cut(ac.Spec.ClientID, ".")
	if !ok || prefix == ac.Namespace {
		return nil
	}
	err := r.Get(ctx, types.NamespacedName{Name: prefix}, &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return reconciler.Permanent(authv1.ReasonInvalidSpec, "clientId %q has the form of a default clientId of namespace %q; use a clientId that does not start with another namespace's name", ac.Spec.ClientID, prefix)
}

func authServerKey(ac *authv1.AuthClient) types.NamespacedName {
	ns := ac.Spec.AuthServerRef.Namespace
	if ns == "" {
		ns = ac.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: ac.Spec.AuthServerRef.Name}
}
