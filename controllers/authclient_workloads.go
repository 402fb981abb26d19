package controllers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
)

// Opt-in rolling restarts. A mounted Secret updates in running pods by
// itself; environment variables do not. Deployments and StatefulSets that
// name an AuthClient in their auth.nauthera.io/restart-on-rotation
// annotation get a pod-template annotation with a hash of the new
// credentials, which rolls their pods, as Reloader does.
//
// What was restarted for is kept in status (restartedWorkloadsFor), so a
// restart is not lost when the operator stops between writing the Secret
// and patching the workloads. Workloads are listed from the API server only
// when the credentials changed: the operator does not cache every
// Deployment of the cluster.

// credentialsVersion names the credentials on pod templates and in
// status: HMAC-SHA256 of the secret keyed with the AuthClient's UID, cut to
// 64 bits. It changes with every new secret. It is not a bare hash (no
// precomputed tables across clients), and Keycloak's secrets are 32
// random characters, so it gives nothing to guess them with; Keycloak's
// creation time alone would not do (one-second steps: a rotation right
// after the client was made would not change it).
func credentialsVersion(ac *authv1.AuthClient, secret string) string {
	if secret == "" {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(ac.UID))
	mac.Write([]byte(secret))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// workloadsVersion is the credentials version recorded in status and on
// pod templates, which more people read than the Secret. For a secret
// Keycloak made it is credentialsVersion. A secret an AuthClient brings
// (byoKey: the referenced Secret's UID) may be short and chosen by a person:
// an HMAC keyed only with the AuthClient's UID, which anyone who reads the
// AuthClient knows, would let them test guesses of it offline. Keyed with
// the referenced Secret's UID as well, known only to who may read that
// Secret, it still changes with every value and tells others nothing. (A
// Secret recreated with the same value, or clientSecretRef removed, changes
// it once: the workloads restart once for unchanged credentials.)
func workloadsVersion(ac *authv1.AuthClient, secret, byoKey string) string {
	if byoKey == "" || secret == "" {
		return credentialsVersion(ac, secret)
	}
	mac := hmac.New(sha256.New, []byte(string(ac.UID)+"/"+byoKey))
	mac.Write([]byte(secret))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// restartWorkloads rolls the opted-in workloads of ac's namespace when its
// credentials changed since the last time (never on the first sight of them).
// byoKey: see workloadsVersion.
func (r *AuthClientReconciler) restartWorkloads(ctx context.Context, ac *authv1.AuthClient, secret, byoKey string, rep reconciler.Reporter) error {
	if !r.RestartWorkloads || !ac.HasSecret() {
		return nil
	}
	h := workloadsVersion(ac, secret, byoKey)
	if h == "" {
		return nil
	}
	st := ac.Status.SecretRotation.DeepCopy()
	if st == nil {
		st = &authv1.SecretRotationStatus{}
	}
	if st.RestartedWorkloadsFor == h {
		return nil
	}
	if st.RestartedWorkloadsFor != "" {
		restarted, err := r.patchWorkloads(ctx, ac, h)
		switch {
		case apierrors.IsForbidden(err):
			// Not retried: the operator lacks the RBAC (the chart grants it
			// with operator.restartWorkloads).
			rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonWorkloadRestartFailed, fmt.Sprintf(
				"Cannot restart the workloads that use Secret %s: %v. Enable operator.restartWorkloads in the chart, or restart them yourself", ac.SecretName(), err))
		case err != nil:
			return err
		case len(restarted) > 0:
			rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonWorkloadsRestarted, fmt.Sprintf(
				"Restarted %s for the new credentials in Secret %s", strings.Join(restarted, ", "), ac.SecretName()))
		}
	}
	st.RestartedWorkloadsFor = h
	ac.Status.SecretRotation = st
	return nil
}

// patchWorkloads sets the hash on the pod templates of the workloads that
// opted in for ac, and names those it changed.
func (r *AuthClientReconciler) patchWorkloads(ctx context.Context, ac *authv1.AuthClient, h string) ([]string, error) {
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{authv1.AnnotationSecretHash: h}}}}})
	if err != nil {
		return nil, err
	}
	var out []string
	restart := func(kind string, obj client.Object, tmpl *corev1.PodTemplateSpec) error {
		if !optedIn(obj.GetAnnotations()[authv1.AnnotationRestartOnRotation], ac.Name) || tmpl.Annotations[authv1.AnnotationSecretHash] == h {
			return nil
		}
		ctrl.LoggerFrom(ctx).Info("Restarting workload for new credentials", "kind", kind, "name", obj.GetName())
		if err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		out = append(out, kind+" "+obj.GetName())
		return nil
	}
	var deployments appsv1.DeploymentList
	if err := reader.List(ctx, &deployments, client.InNamespace(ac.Namespace)); err != nil {
		return nil, err
	}
	for i := range deployments.Items {
		if err := restart("Deployment", &deployments.Items[i], &deployments.Items[i].Spec.Template); err != nil {
			return out, err
		}
	}
	var sets appsv1.StatefulSetList
	if err := reader.List(ctx, &sets, client.InNamespace(ac.Namespace)); err != nil {
		return out, err
	}
	for i := range sets.Items {
		if err := restart("StatefulSet", &sets.Items[i], &sets.Items[i].Spec.Template); err != nil {
			return out, err
		}
	}
	return out, nil
}

// optedIn reports whether an annotation value (comma-separated AuthClient
// names) names name.
func optedIn(value, name string) bool {
	return slices.ContainsFunc(strings.Split(value, ","), func(s string) bool { return strings.TrimSpace(s) == name })
}
