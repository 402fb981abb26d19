package admission

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// checkClientSecretRef refuses an AuthClient whose spec.clientSecretRef
// names a Secret the requesting user may not get: without this check,
// anyone who may create AuthClients could have Nauthera copy any Secret of
// the namespace into Keycloak and into a credentials Secret they can read.
// The API server answers a SubjectAccessReview for the user, groups, uid
// and extra of the admission request; the webhook never reads the Secret.
// Checked on create and on an update that changes the reference (old: the
// stored AuthClient, nil on create).
func (v *AuthClientValidator) checkClientSecretRef(ctx context.Context, ac, old *authv1.AuthClient) (field.ErrorList, admission.Warnings) {
	ref := ac.Spec.ClientSecretRef
	if ref == nil || (old != nil && old.Spec.ClientSecretRef != nil && *old.Spec.ClientSecretRef == *ref) {
		return nil, nil
	}
	path := field.NewPath("spec", "clientSecretRef", "name")
	req, err := admission.RequestFromContext(ctx)
	if err != nil || v.Authorizer == nil {
		return field.ErrorList{field.Forbidden(path, "who applies this AuthClient cannot be established, so it cannot be checked that they may read the Secret")}, nil
	}
	user := req.UserInfo
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ac.Namespace, Verb: "get", Version: "v1", Resource: "secrets", Name: ref.Name,
		},
	}}
	if err := v.Authorizer.Create(ctx, sar); err != nil {
		if v.FailClosed {
			return field.ErrorList{field.InternalError(path, fmt.Errorf("whether you may get Secret %s could not be checked (%w); the webhook fails closed (webhook.failurePolicy Fail): retry", ref.Name, err))}, nil
		}
		return nil, admission.Warnings{fmt.Sprintf("whether you may get Secret %s could not be checked at admission (%v); the Secret's own consent (annotation %s) is still required when the client is reconciled", ref.Name, err, authv1.AnnotationClientSecretFor)}
	}
	if !sar.Status.Allowed || sar.Status.Denied {
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf("user %q may not get Secret %s in namespace %s: an AuthClient may name only a Secret its author can read", user.Username, ref.Name, ac.Namespace))}, nil
	}
	return nil, nil
}
