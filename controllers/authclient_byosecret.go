package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Bring-your-own client secret (spec.clientSecretRef): the value of a
// Secret of the AuthClient's namespace becomes the Keycloak client's
// secret, and the credentials Secret mirrors it (docs/guides/bring-your-own-secret.md).
//
// Attribution: the admission webhook checks that whoever applies the
// AuthClient may get the Secret (internal/admission). The reconciler cannot
// know who applied it, so it uses a Secret only if the Secret consents
// (annotation auth.nauthera.io/client-secret-for naming the AuthClient,
// which only someone who may update the Secret can set), and never a
// credentials Secret Nauthera writes (desired.ClientSecretSource).
//
// Changes: the value in Keycloak follows the Secret's. Under a rotation
// policy set up in the realm, the replaced value stays valid for the
// realm's grace period (Keycloak's rotated secret, honoured only while the
// client carries the rotation marker: for such a client the marker is on
// only during that grace period, so that Keycloak never expires a value the
// user chose); without, it stops working at once. Nauthera never
// regenerates such a secret: no scheduled or requested rotation.
//
// The admission webhook's SubjectAccessReviews need this permission (the
// marker is here because config/rbac is generated from this package):
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// indexClientSecretRef indexes AuthClients by the namespace/name of the
// Secret their spec.clientSecretRef names.
const indexClientSecretRef = "spec.clientSecretRef.name"

// reasonSecretRef is the rotation reason of a value change of the
// referenced Secret (SecretRotated Event, rotations metric).
const reasonSecretRef = "SecretRef"

// clientSecretRefIndex is the Secret an AuthClient's clientSecretRef names.
func clientSecretRefIndex(o client.Object) []string {
	ac := o.(*authv1.AuthClient)
	if ac.Spec.ClientSecretRef == nil {
		return nil
	}
	return []string{types.NamespacedName{Namespace: ac.Namespace, Name: ac.Spec.ClientSecretRef.Name}.String()}
}

// stepClientSecretRef reads the Secret spec.clientSecretRef names and
// decides whether its value may be the client's secret. A refusal ends the
// reconcile before the Keycloak client is touched: one that exists keeps
// its credentials, and the credentials Secret is left as it is.
func (r *AuthClientReconciler) stepClientSecretRef(ctx context.Context, s *authClientScope) stepResult {
	s.byo, s.byoKey = "", ""
	if !s.ac.BringsOwnSecret() {
		return goOn()
	}
	ref := s.ac.Spec.ClientSecretRef
	// Read directly: the manager's cache holds only Nauthera's Secrets.
	sec := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: s.ac.Namespace, Name: ref.Name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = nil
	case err != nil:
		return endWith(err)
	}
	value, reason, msg := desired.ClientSecretSource(s.ac, sec)
	if reason != "" {
		if s.ac.Status.ClientID != "" {
			msg += "; the Keycloak client keeps its current secret, and Secret " + s.ac.SecretName() + " is left as it is"
		}
		return endWithdrawing(reconciler.Permanent(reason, "%s", msg))
	}
	s.byo, s.byoKey = value, string(sec.UID)
	return goOn()
}

// byoWanted puts the chosen secret into the wanted client (Keycloak takes
// it on create; UpdateClient never sends a secret), and the rotation
// marker only while a grace period of a replaced value runs.
func byoWanted(s *authClientScope, want *gocloak.Client) {
	if s.byo == "" {
		return
	}
	want.Secret = gocloak.StringP(s.byo)
	want.Attributes[desired.AttrSecretRotation] = ""
	if byoGraceRunning(s.ac, time.Now()) {
		want.Attributes[desired.AttrSecretRotation] = desired.RotationMarker
	}
}

// byoGraceRunning reports whether a replaced value is still valid.
func byoGraceRunning(ac *authv1.AuthClient, now time.Time) bool {
	st := ac.Status.SecretRotation
	return st != nil && st.PreviousSecretValidUntil != nil && st.PreviousSecretValidUntil.After(now)
}

// byoGrace is how long a replaced value stays valid: the grace period of
// the rotation set up in the realm, when a policy governs the client; 0
// (replaced at once) otherwise.
func byoGrace(s *authClientScope) time.Duration {
	rot := s.as.Status.SecretRotation
	if s.eff.Rotation == nil || rot == nil || rot.GracePeriodSeconds <= 0 {
		return 0
	}
	return time.Duration(rot.GracePeriodSeconds) * time.Second
}

// stepBYOSecret brings Keycloak's secret (s.secret, just read) to the
// referenced value, and sets the rotation bookkeeping of such a client.
func (r *AuthClientReconciler) stepBYOSecret(ctx context.Context, s *authClientScope) stepResult {
	if s.byo == "" {
		return goOn()
	}
	now := time.Now()
	// Only the grace period of a replaced value is kept (and the
	// credentials the workloads were restarted for): schedules and
	// requests do not apply to a secret Nauthera does not make.
	st := &authv1.SecretRotationStatus{}
	if cur := s.ac.Status.SecretRotation; cur != nil {
		st.RestartedWorkloadsFor = cur.RestartedWorkloadsFor
	}
	if byoGraceRunning(s.ac, now) {
		st.PreviousSecretValidUntil = s.ac.Status.SecretRotation.PreviousSecretValidUntil
		s.rot.wake = time.Until(st.PreviousSecretValidUntil.Time) + time.Second
	}
	s.ac.Status.SecretRotation = nilIfEmpty(st)
	if s.secret == s.byo {
		return goOn()
	}
	out, err := r.replaceSecret(ctx, s, now)
	if err != nil {
		return endWith(err)
	}
	s.secret, s.rot.out = s.byo, out
	return goOn()
}

// replaceSecret makes the referenced value Keycloak's secret. With a grace
// period, the deadline is recorded first (a restart mid-change keeps the
// marker on, and the next reconcile finishes the change), the client is
// put under the realm's rotation policy (the marker), then the value is set
// with the replaced one as Keycloak's rotated secret.
func (r *AuthClientReconciler) replaceSecret(ctx context.Context, s *authClientScope, now time.Time) (*rotationOutcome, error) {
	grace := byoGrace(s)
	out := &rotationOutcome{id: rotationID(), reason: reasonSecretRef, at: now}
	log := ctrl.LoggerFrom(ctx).WithValues("clientId", s.ac.EffectiveClientID())
	var previous *keycloak.PreviousSecret
	if grace > 0 && s.secret != "" {
		out.graceUntil = now.Add(grace).Truncate(time.Second)
		until := metav1.NewTime(out.graceUntil)
		original := s.ac.Status.SecretRotation.DeepCopy()
		next := original.DeepCopy()
		if next == nil {
			next = &authv1.SecretRotationStatus{}
		}
		next.PreviousSecretValidUntil = &until
		s.ac.Status.SecretRotation = next
		if err := s.persist(); err != nil {
			s.ac.Status.SecretRotation = original
			return nil, err
		}
		if s.kcClient.Attributes[desired.AttrSecretRotation] != desired.RotationMarker {
			marked := *s.kcClient
			marked.Attributes = map[string]string{}
			for k, v := range s.kcClient.Attributes {
				marked.Attributes[k] = v
			}
			marked.Attributes[desired.AttrSecretRotation] = desired.RotationMarker
			log.Info("Putting the client under the realm's secret rotation for the grace period of its replaced secret")
			if err := s.kc.UpdateClient(ctx, s.realm(), marked); err != nil {
				return nil, err
			}
		}
		previous = &keycloak.PreviousSecret{Secret: s.secret, Until: out.graceUntil}
		s.rot.wake = grace + time.Second
	}
	log.Info("Setting the client secret from spec.clientSecretRef", "secretName", s.ac.Spec.ClientSecretRef.Name, "graceUntil", out.graceUntil)
	if err := s.kc.SetClientSecret(ctx, s.realm(), gocloak.PString(s.kcClient.ID), s.byo, previous); err != nil {
		return nil, err
	}
	if after, err := s.kc.GetClient(ctx, s.realm(), gocloak.PString(s.kcClient.ID)); err == nil {
		s.kcClient = after
	}
	return out, nil
}

// byoRotationEvent is the first part of the SecretRotated Event of a value
// change of the referenced Secret (rotationEvent says the rest).
func byoRotationEvent(ac *authv1.AuthClient) string {
	ref := ac.Spec.ClientSecretRef
	if ref == nil {
		return "Set the client secret from spec.clientSecretRef"
	}
	return fmt.Sprintf("Set the client secret to the new value of key %q of Secret %s (spec.clientSecretRef)", ref.Key, ref.Name)
}

// referencedSecrets is the source of the watch on the Secrets that
// spec.clientSecretRef names. The manager's cache holds only Nauthera's
// Secrets, so this is a cache of its own, of Secrets' metadata only (never
// their data; everything but name, namespace and resourceVersion stripped),
// in the watched namespaces (all when none are given): a change of a
// Secret reconciles the AuthClients that name it.
func (r *AuthClientReconciler) referencedSecrets(mgr ctrl.Manager) (source.Source, error) {
	opts := cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), DefaultTransform: metadataOnly}
	for _, ns := range r.SecretNamespaces {
		if ns = strings.TrimSpace(ns); ns != "" {
			if opts.DefaultNamespaces == nil {
				opts.DefaultNamespaces = map[string]cache.Config{}
			}
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return source.Kind(c, obj, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *metav1.PartialObjectMetadata) []reconcile.Request {
		return reconciler.Requests(r.clientsIndexed(ctx, indexClientSecretRef, client.ObjectKeyFromObject(o).String()))
	})), nil
}

// metadataOnly keeps of a Secret's metadata what the watch needs.
func metadataOnly(in any) (any, error) {
	if m, ok := in.(*metav1.PartialObjectMetadata); ok {
		m.ObjectMeta = metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, ResourceVersion: m.ResourceVersion, UID: m.UID}
	}
	return in, nil
}
