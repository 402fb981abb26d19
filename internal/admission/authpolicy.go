package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/policy"
	"github.com/nauthera/nauthera/pkg/schedule"
)

// PolicyPath is where the AuthPolicy webhook is served.
const PolicyPath = "/validate-auth-nauthera-io-v1alpha1-authpolicy"

// +kubebuilder:webhook:path=/validate-auth-nauthera-io-v1alpha1-authpolicy,mutating=false,failurePolicy=ignore,sideEffects=None,groups=auth.nauthera.io,resources=authpolicies,verbs=create;update,versions=v1alpha1,name=vauthpolicy.auth.nauthera.io,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent

// AuthPolicyValidator refuses a secret rotation that cannot work, where the
// schema cannot tell: a cron schedule that never fires, or a gracePeriod
// longer than the shortest gap between two of its slots. (The CRD's CEL
// rules check @every and the descriptors; cron gaps need a cron library.)
// The AuthPolicy reconciler reports the same with the same message.
type AuthPolicyValidator struct{}

var _ admission.Validator[*authv1.AuthPolicy] = AuthPolicyValidator{}

// ValidateCreate implements admission.Validator.
func (AuthPolicyValidator) ValidateCreate(_ context.Context, p *authv1.AuthPolicy) (admission.Warnings, error) {
	return graceWarnings(p), validatePolicy(p)
}

// ValidateUpdate implements admission.Validator: only spec changes are judged.
func (AuthPolicyValidator) ValidateUpdate(_ context.Context, oldP, newP *authv1.AuthPolicy) (admission.Warnings, error) {
	if !newP.DeletionTimestamp.IsZero() || equality.Semantic.DeepEqual(oldP.Spec, newP.Spec) {
		return nil, nil
	}
	return graceWarnings(newP), validatePolicy(newP)
}

// graceWarnings warns (kubectl prints it) when the grace period is shorter
// than a kubelet needs to refresh a mounted Secret (policy.GraceWarning).
func graceWarnings(p *authv1.AuthPolicy) admission.Warnings {
	if w := policy.GraceWarning(p); w != "" {
		return admission.Warnings{w}
	}
	return nil
}

// ValidateDelete implements admission.Validator: deletion is always allowed.
func (AuthPolicyValidator) ValidateDelete(context.Context, *authv1.AuthPolicy) (admission.Warnings, error) {
	return nil, nil
}

func validatePolicy(p *authv1.AuthPolicy) error {
	err := policy.CheckRotation(p)
	if err == nil {
		return nil
	}
	rot := p.Spec.ClientAuthentication.SecretRotation
	path := field.NewPath("spec", "clientAuthentication", "secretRotation")
	var fe *field.Error
	if _, perr := schedule.Parse(rot.Schedule); perr != nil {
		fe = field.Invalid(path.Child("schedule"), rot.Schedule, err.Error())
	} else {
		fe = field.Invalid(path.Child("gracePeriod"), rot.GracePeriod.Duration.String(), err.Error())
	}
	return apierrors.NewInvalid(authv1.GroupVersion.WithKind("AuthPolicy").GroupKind(), p.Name, field.ErrorList{fe})
}

func registerPolicy(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &authv1.AuthPolicy{}).
		WithValidator(AuthPolicyValidator{}).
		WithValidatorCustomPath(PolicyPath).
		Complete()
}
