package controllers

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
)

// currentSecret returns the AuthClient's credentials Secret as the API
// server has it, or nil. The cache holds only Secrets labelled as managed by
// Nauthera; one whose label was removed (or that someone else created) is
// read directly.
func (r *AuthClientReconciler) currentSecret(ctx context.Context, ac *authv1.AuthClient) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: ac.Namespace, Name: ac.SecretName()}
	s := &corev1.Secret{}
	err := r.Get(ctx, key, s)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		err = r.APIReader.Get(ctx, key, s)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// checkSecretName fails if the Secret's name is taken by a Secret this
// AuthClient does not own. Ownership is the controller owner reference,
// which only the operator sets; a label anyone can set proves nothing.
// It records in seen that the Secret does not exist, so that writing it
// later in the same reconcile need not read it again.
func (r *AuthClientReconciler) checkSecretName(ctx context.Context, ac *authv1.AuthClient, seen *secretLookup) error {
	s, err := r.currentSecret(ctx, ac)
	if err != nil {
		return err
	}
	if s == nil {
		seen.absent = true
		return nil
	}
	return secretOwnedBy(s, ac)
}

// secretLookup is what one reconcile learnt of the Secret before writing it.
type secretLookup struct {
	// absent: the Secret did not exist when the client was created (a
	// Secret appearing since makes the create fail with AlreadyExists,
	// which is retried).
	absent bool
}

func secretOwnedBy(s *corev1.Secret, ac *authv1.AuthClient) error {
	if metav1.IsControlledBy(s, ac) || controlledByPredecessor(s, ac) {
		return nil
	}
	return reconciler.Permanent(authv1.ReasonSecretConflict,
		"Secret %s/%s already exists and is not owned by this AuthClient; Nauthera never overwrites a Secret it did not create: delete or rename that Secret",
		ac.Namespace, ac.SecretName())
}

// controlledByPredecessor reports whether s is controlled by an earlier
// AuthClient of the same name in this namespace (deleted and created again
// before the garbage collector removed its Secret). Names are unique per
// namespace, so that object is gone and this AuthClient is its successor:
// reconcileSecret replaces that Secret with a fresh one.
func controlledByPredecessor(s *corev1.Secret, ac *authv1.AuthClient) bool {
	ref := metav1.GetControllerOf(s)
	return ref != nil && ref.UID != ac.UID && ref.Kind == "AuthClient" && ref.Name == ac.Name &&
		strings.HasPrefix(ref.APIVersion, authv1.GroupVersion.Group+"/")
}

// secretWrite is the write of the credentials Secret a reconcile decided
// on: s as it should be, over cur as it is (nil: to be created).
type secretWrite struct {
	cur, s *corev1.Secret
	// replace: cur belongs to an earlier AuthClient of the same name and
	// is replaced as a whole.
	replace bool
}

// secretContent is what the credentials Secret is to hold: data, the
// client secret in it, and the rotation recorded with it ("": none).
type secretContent struct {
	data                   map[string][]byte
	clientSecret, rotation string
}

// desiredSecret decides the write of the credentials Secret holding
// content. It fails if the Secret belongs to someone else.
func (r *AuthClientReconciler) desiredSecret(ctx context.Context, ac *authv1.AuthClient, gov governance, content secretContent) (secretWrite, error) {
	data, clientSecret, rotation := content.data, content.clientSecret, content.rotation
	var cur *corev1.Secret
	if gov.secret == nil || !gov.secret.absent {
		var err error
		if cur, err = r.currentSecret(ctx, ac); err != nil {
			return secretWrite{}, err
		}
	}
	if cur != nil {
		if err := secretOwnedBy(cur, ac); err != nil {
			return secretWrite{}, err
		}
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ac.SecretName(), Namespace: ac.Namespace}}
	replace := cur != nil && controlledByPredecessor(cur, ac)
	switch {
	case replace:
		// Replaced as a whole, not patched: whatever else its creator put on
		// it (labels, annotations a replication tool acts on) must not carry
		// over, and the reference may have been written by anyone who can
		// create Secrets. Only finalizers (someone else's business) stay.
		s.ResourceVersion, s.Finalizers, s.Type = cur.ResourceVersion, cur.Finalizers, cur.Type
	case cur != nil:
		s = cur.DeepCopy()
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	// The template's metadata first: Nauthera's own keys, set next, win.
	applyTemplateMetadata(s, ac.Spec.SecretTemplate)
	s.Labels[desired.LabelManagedBy] = desired.ManagedByValue
	// A label value holds at most 63 characters; AuthClient names up to 239.
	// The annotation always names the AuthClient, the label when it fits.
	if len(validation.IsValidLabelValue(ac.Name)) == 0 {
		s.Labels[desired.LabelAuthClient] = ac.Name
	} else {
		delete(s.Labels, desired.LabelAuthClient)
	}
	s.Annotations[desired.AnnotationHash] = desired.Hash(data)
	if clientSecret != "" {
		s.Annotations[desired.AnnotationCredentialsVersion] = credentialsVersion(ac, clientSecret)
	} else {
		delete(s.Annotations, desired.AnnotationCredentialsVersion)
	}
	s.Annotations[desired.AnnotationAuthServer] = authServerKey(ac).String()
	s.Annotations[desired.AnnotationAuthClient] = ac.Name
	if rotation != "" {
		s.Annotations[desired.AnnotationRotation] = rotation
	}
	s.Data = data
	// Sets this AuthClient as controller, or replaces a predecessor's reference.
	if err := controllerutil.SetControllerReference(ac, s, r.Scheme()); err != nil {
		return secretWrite{}, err
	}
	if cur == nil {
		s.Type = corev1.SecretTypeOpaque
	}
	return secretWrite{cur: cur, s: s, replace: replace}, nil
}

// checkSecretWritable asks the API server, with a dry run, whether the
// credentials Secret can be written with a new client secret (a stand-in:
// random, never stored) for rotation: ownership, RBAC, admission,
// immutability and size are then known before Keycloak is asked for a
// secret that could not be delivered.
func (r *AuthClientReconciler) checkSecretWritable(ctx context.Context, ac *authv1.AuthClient, gov governance, rotation string) error {
	if gov.plan == nil {
		f := reconciler.Classify(gov.planErr)
		return reconciler.Permanent(f.Reason, "%s; a secret rotation is due: Keycloak is not asked for a new secret until the template renders, and Secret %s keeps the secret that works", f.Msg, ac.SecretName())
	}
	standIn := standInSecret()
	data, err := gov.plan.Payload(standIn)
	if err == nil {
		var w secretWrite
		if w, err = r.desiredSecret(ctx, ac, gov, secretContent{data: data, clientSecret: standIn, rotation: rotation}); err == nil {
			// The options of the real write (reconcileSecret).
			switch {
			case w.cur == nil:
				err = r.Create(ctx, w.s, client.DryRunAll, client.FieldOwner(FieldOwner))
			case w.replace:
				err = r.Update(ctx, w.s, client.DryRunAll, client.FieldOwner(FieldOwner))
			default:
				err = r.Patch(ctx, w.s, client.MergeFromWithOptions(w.cur, client.MergeFromWithOptimisticLock{}), client.DryRunAll, client.FieldOwner(FieldOwner))
			}
		}
	}
	if err == nil {
		return nil
	}
	f := reconciler.Classify(err)
	if f.Reason == authv1.ReasonSecretConflict || apierrors.IsConflict(err) {
		return err // someone else's Secret; or a stale copy, retried
	}
	return &reconciler.Failure{Reason: authv1.ReasonSecretNotWritable, Transient: f.Transient || f.Waiting, RetryAfter: f.RetryAfter,
		Msg: fmt.Sprintf("a secret rotation is due, but Secret %s cannot be written (%s); Keycloak is not asked for a new secret until it can", ac.SecretName(), f.Msg)}
}

// standInSecret is a secret of the shape Keycloak makes (32 letters and
// digits), random and never stored: what the dry run writes.
func standInSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // a slight bias: no credential, only a shape
	}
	return string(b)
}

// undeliverable is the failure of a reconcile whose Secret template does
// not render (planErr): the Secret is left as it is. If Keycloak already
// made a rotated secret (out, resumed from an earlier reconcile whose
// write failed), the message says so: the Secret then holds the replaced
// secret, and the rotation finishes once the template renders. Likewise
// if the Keycloak client was recreated (deleted in Keycloak) meanwhile.
func undeliverable(ac *authv1.AuthClient, planErr error, out *rotationOutcome, recreated bool) error {
	f := reconciler.Classify(planErr)
	if recreated && ac.HasSecret() {
		return reconciler.Permanent(f.Reason, "%s; the Keycloak client %q was deleted in Keycloak and has been recreated with a new secret, which Secret %s does not hold until the template renders",
			f.Msg, ac.EffectiveClientID(), ac.SecretName())
	}
	if out == nil {
		return reconciler.Permanent(f.Reason, "%s; Secret %s is left as it was", f.Msg, ac.SecretName())
	}
	valid := "which Keycloak no longer accepts (no rotation policy keeps it valid)"
	if !out.graceUntil.IsZero() {
		valid = "which stays valid until " + out.graceUntil.Format(time.RFC3339)
	}
	return reconciler.Permanent(f.Reason, "%s; Keycloak already made a new secret for a rotation, but Secret %s still holds the replaced secret, %s: the rotation finishes once the template renders",
		f.Msg, ac.SecretName(), valid)
}

// deliveryFailed is the failure of a Secret write that should hold a
// rotated secret Keycloak already made: SecretNotWritable, retried with
// backoff whatever the API server's answer (a Secret made immutable after the dry run, say),
// as the Secret holds a replaced secret meanwhile.
func deliveryFailed(err error, rotated bool) error {
	if !rotated || apierrors.IsConflict(err) {
		return err
	}
	f := reconciler.Classify(err)
	if f.Transient {
		return err
	}
	return &reconciler.Failure{Reason: authv1.ReasonSecretNotWritable, Transient: true, RetryAfter: f.RetryAfter,
		Msg: f.Msg + "; Keycloak already made a new secret for a rotation: the write is retried with backoff"}
}

// reconcileSecret writes the credentials Secret, changing it only when it
// differs. A Secret the AuthClient owns is taken back as it should be (the
// managed-by label restored, tampered values replaced); one it does not own
// is never touched. The scope's client secret goes in; rotation names the
// rotation the operator made (the caller reports it: no Event here for the
// new secret), recorded on the Secret with its secret.
func (r *AuthClientReconciler) reconcileSecret(ctx context.Context, sc *authClientScope, rotation string) error {
	ac, rep, clientSecret := sc.ac, sc.rep, sc.secret
	rotated := rotation != ""
	// Rendered (all but the secret) before the Keycloak client was touched:
	// putting the secret in cannot fail for a template reason.
	data, err := sc.gov.plan.Payload(clientSecret)
	if err != nil {
		return deliveryFailed(reconciler.Permanent(authv1.ReasonSecretNotWritable, "%v; Secret %s is left as it was", err, ac.SecretName()), rotated)
	}
	w, err := r.desiredSecret(ctx, ac, sc.gov, secretContent{data: data, clientSecret: clientSecret, rotation: rotation})
	if err != nil {
		return deliveryFailed(err, rotated)
	}
	cur, s, replace := w.cur, w.s, w.replace
	if cur == nil {
		if err := r.Create(ctx, s, client.FieldOwner(FieldOwner)); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return reconciler.Transient(authv1.ReasonProgressing, "Secret %s/%s appeared while it was being created; checking again", ac.Namespace, ac.SecretName())
			}
			return deliveryFailed(err, rotated)
		}
		if ac.Status.ClientSecretRef != nil {
			// Written before: it was deleted by hand and comes back. A first
			// write is told by the Ready condition (status.clientSecretRef).
			rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonSecretRecreated, fmt.Sprintf("Wrote the credentials to Secret %s again, after it was deleted", ac.SecretName()))
		}
		ctrl.LoggerFrom(ctx).Info("Created credentials Secret", "secret", ac.SecretName())
		return nil
	}
	if !replace && maps.EqualFunc(cur.Data, s.Data, func(a, b []byte) bool { return string(a) == string(b) }) &&
		maps.Equal(cur.Labels, s.Labels) && maps.Equal(cur.Annotations, s.Annotations) {
		return nil
	}
	if replace {
		ctrl.LoggerFrom(ctx).Info("Replacing Secret of an earlier AuthClient of the same name", "secret", ac.SecretName())
		if err := r.Update(ctx, s, client.FieldOwner(FieldOwner)); err != nil {
			return deliveryFailed(err, rotated)
		}
		rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonSecretReplaced, fmt.Sprintf("Replaced Secret %s, left by an earlier AuthClient of the same name", ac.SecretName()))
		return nil
	}
	// A patch of what differs, not a full update: fields of the Secret the
	// operator does not manage (other labels, annotations) are kept.
	if err := r.Patch(ctx, s, client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner)); err != nil {
		return deliveryFailed(err, rotated)
	}
	reportSecretPatch(ctx, sc, w, rotated)
	return nil
}

// reportSecretPatch says what a patch of the credentials Secret (w) did:
// an Event for a change someone needs to know of, a log line otherwise.
func reportSecretPatch(ctx context.Context, sc *authClientScope, w secretWrite, rotated bool) {
	ac, rep, clientSecret, recreated := sc.ac, sc.rep, sc.secret, sc.recreated
	cur, s := w.cur, w.s
	changed := clientSecret != "" && cur.Annotations[desired.AnnotationCredentialsVersion] != "" && !secretHolds(cur, ac, clientSecret) ||
		cur.Annotations[desired.AnnotationCredentialsVersion] == "" && len(cur.Data[desired.KeyClientSecret]) > 0 && string(cur.Data[desired.KeyClientSecret]) != clientSecret
	switch {
	case rotated:
		ctrl.LoggerFrom(ctx).Info("Wrote the rotated secret to the credentials Secret", "secret", ac.SecretName())
	case desired.Hash(cur.Data) != cur.Annotations[desired.AnnotationHash]:
		rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonSecretRestored, fmt.Sprintf("Secret %s was edited outside Nauthera; restored the credentials Keycloak holds", ac.SecretName()))
	case changed:
		why := "the client secret changed in Keycloak (regenerated outside Nauthera)"
		if sc.byo != "" {
			why = "the client secret was set from spec.clientSecretRef"
		}
		if recreated {
			why = fmt.Sprintf("the Keycloak client %q was deleted in Keycloak and has been recreated with new credentials", ac.EffectiveClientID())
		}
		rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonCredentialsChanged, fmt.Sprintf(
			"Secret %s holds new credentials: %s. The old secret no longer works: workloads that read the Secret only at start-up must be restarted to pick up the new one", ac.SecretName(), why))
	case cur.Labels[desired.LabelManagedBy] != desired.ManagedByValue:
		rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonSecretReclaimed, fmt.Sprintf("Restored the %s label on Secret %s, which this AuthClient owns; the credentials are unchanged", desired.LabelManagedBy, ac.SecretName()))
	case maps.EqualFunc(cur.Data, s.Data, func(a, b []byte) bool { return string(a) == string(b) }):
		// Metadata only (a template's labels, Nauthera's bookkeeping): the
		// credentials are the same, nobody needs an Event.
		ctrl.LoggerFrom(ctx).V(1).Info("Updated the metadata of the credentials Secret", "secret", ac.SecretName())
	default:
		rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonSecretUpdated, fmt.Sprintf("Updated Secret %s", ac.SecretName()))
	}
}

// secretHolds reports whether the Secret holds this client secret: by the
// credentials version it records (whatever shape a template gave the
// data), else (written before versions existed) by its client_secret key.
func secretHolds(s *corev1.Secret, ac *authv1.AuthClient, secret string) bool {
	if v := s.Annotations[desired.AnnotationCredentialsVersion]; v != "" {
		return v == credentialsVersion(ac, secret)
	}
	return string(s.Data[desired.KeyClientSecret]) == secret
}

// applyTemplateMetadata puts spec.secretTemplate's labels and annotations
// on the Secret and takes off those an earlier template put there that it
// no longer names. Nauthera's own keys are set after this and win.
func applyTemplateMetadata(s *corev1.Secret, tpl *authv1.SecretTemplate) {
	for _, k := range strings.Split(s.Annotations[desired.AnnotationTemplateMetadata], ",") {
		switch {
		case strings.HasPrefix(k, "l:"):
			delete(s.Labels, k[2:])
		case strings.HasPrefix(k, "a:"):
			delete(s.Annotations, k[2:])
		}
	}
	delete(s.Annotations, desired.AnnotationTemplateMetadata)
	if tpl == nil || len(tpl.Labels)+len(tpl.Annotations) == 0 {
		return
	}
	var keys []string
	for k, v := range tpl.Labels {
		s.Labels[k] = v
		keys = append(keys, "l:"+k)
	}
	for k, v := range tpl.Annotations {
		s.Annotations[k] = v
		keys = append(keys, "a:"+k)
	}
	slices.Sort(keys)
	s.Annotations[desired.AnnotationTemplateMetadata] = strings.Join(keys, ",")
}
