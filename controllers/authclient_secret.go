package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
)

// reconcileSecret writes the credentials Secret, changing it only when its
// content differs.
func (r *AuthClientReconciler) reconcileSecret(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, clientSecret string, rep reconciler.Reporter) error {
	data := desired.SecretData(ac, as.Status.Issuer, clientSecret)
	hash := desired.Hash(data)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ac.SecretName(), Namespace: ac.Namespace}}
	op, err := controllerutil.CreateOrUpdate(ctx, client.WithFieldOwner(r.Client, FieldOwner), s, func() error {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[desired.LabelManagedBy] = desired.ManagedByValue
		s.Labels[desired.LabelAuthClient] = ac.Name
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[desired.AnnotationHash] = hash
		s.Annotations[desired.AnnotationAuthServer] = authServerKey(ac).String()
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		return controllerutil.SetControllerReference(ac, s, r.Scheme())
	})
	if apierrors.IsAlreadyExists(err) {
		// The cache holds only Secrets the operator manages: this one is someone else's.
		return reconciler.Permanent(authv1.ReasonInvalidSpec, "Secret %s/%s already exists and is not managed by Nauthera; delete or rename it", ac.Namespace, ac.SecretName())
	}
	if err != nil {
		return err
	}
	switch op {
	case controllerutil.OperationResultCreated:
		rep.Event(ctx, ac, corev1.EventTypeNormal, "SecretCreated", fmt.Sprintf("Wrote credentials to Secret %s", ac.SecretName()))
	case controllerutil.OperationResultUpdated:
		rep.Event(ctx, ac, corev1.EventTypeNormal, "SecretUpdated", fmt.Sprintf("Updated Secret %s", ac.SecretName()))
	}
	return nil
}
