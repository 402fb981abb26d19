// Package admission is Nauthera's admission webhooks. The mutating one
// gives a new AuthClient the operator's finalizer (finalizer.go). The
// validating ones refuse an AuthClient that breaks a rule the API server's
// schema cannot decide:
// the clientId rule, the AuthPolicies of its AuthServer, and whether the
// requesting user may read the Secret spec.clientSecretRef names; and an
// AuthPolicy whose secret rotation cannot work (cron gaps). It calls the
// same pure functions (pkg/desired, pkg/policy) as the AuthClient
// reconciler, with the same messages; the reconciler enforces them anyway,
// so the webhook is a fast, early answer, not the only guard.
package admission

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/policy"
)

// Path is where the AuthClient webhook is served.
const Path = "/validate-auth-nauthera-io-v1alpha1-authclient"

// +kubebuilder:webhook:path=/validate-auth-nauthera-io-v1alpha1-authclient,mutating=false,failurePolicy=ignore,sideEffects=None,groups=auth.nauthera.io,resources=authclients,verbs=create;update,versions=v1alpha1,name=vauthclient.auth.nauthera.io,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent

// AuthClientValidator validates AuthClients at admission.
type AuthClientValidator struct {
	// Reader reads AuthServers and AuthPolicies (the manager's cache).
	Reader client.Reader
	// APIReader reads the API server directly. An AuthServer the cache
	// does not hold (yet: applied a moment before its clients, in one
	// sync) is read through it, with its policies, so the webhook judges
	// what the reconciler will judge instead of waving the client through.
	// Optional: without it a cache miss is a warning.
	APIReader client.Reader
	// FailClosed refuses a client whose AuthServer or AuthPolicies cannot
	// be read (a read error, a namespace outside a namespaced cache)
	// instead of admitting it with a warning: set with the chart's
	// webhook.failurePolicy Fail (--webhook-fail-closed), where an
	// operator asked to be strict.
	FailClosed bool
	// Authorizer creates SubjectAccessReviews: whether the user applying an
	// AuthClient may read the Secret its spec.clientSecretRef names
	// (clientsecretref.go). Nil: every such AuthClient is refused.
	Authorizer client.Client
}

var _ admission.Validator[*authv1.AuthClient] = (*AuthClientValidator)(nil)

// Register serves the validators, and the finalizer webhook
// (FinalizerAtCreate), on the manager's webhook server.
// failClosed: see AuthClientValidator.FailClosed.
func Register(mgr ctrl.Manager, failClosed bool) error {
	mgr.GetWebhookServer().Register(FinalizerPath, &webhook.Admission{Handler: FinalizerAtCreate{}})
	if err := ctrl.NewWebhookManagedBy(mgr, &authv1.AuthClient{}).
		WithValidator(&AuthClientValidator{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), FailClosed: failClosed, Authorizer: mgr.GetClient()}).
		WithValidatorCustomPath(Path).
		Complete(); err != nil {
		return err
	}
	return registerPolicy(mgr)
}

// ValidateCreate implements admission.Validator.
func (v *AuthClientValidator) ValidateCreate(ctx context.Context, ac *authv1.AuthClient) (admission.Warnings, error) {
	return v.validate(ctx, ac, nil)
}

// ValidateUpdate implements admission.Validator. Only a change of the spec
// is judged: the operator's own metadata writes (its finalizer) and edits
// of labels must never be blocked because a policy tightened after the
// client was created; the reconciler reports that case.
func (v *AuthClientValidator) ValidateUpdate(ctx context.Context, oldAC, newAC *authv1.AuthClient) (admission.Warnings, error) {
	if !newAC.DeletionTimestamp.IsZero() || equality.Semantic.DeepEqual(oldAC.Spec, newAC.Spec) {
		return nil, nil
	}
	return v.validate(ctx, newAC, oldAC)
}

// ValidateDelete implements admission.Validator: deletion is always allowed.
func (v *AuthClientValidator) ValidateDelete(context.Context, *authv1.AuthClient) (admission.Warnings, error) {
	return nil, nil
}

// validate judges ac; on an update, old is the stored client, and only
// policy violations it did not already have are refused (an edit that
// removes one violation, or changes something else, of a client that a
// newer policy forbids is not blocked: the reconciler reports the rest).
func (v *AuthClientValidator) validate(ctx context.Context, ac, old *authv1.AuthClient) (admission.Warnings, error) {
	errs, warnings := v.checkClientSecretRef(ctx, ac, old)
	clientIDRule := func(prefixes []string) {
		if err := desired.CheckClientID(ac, prefixes); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "clientId"), ac.Spec.ClientID, err.Error()))
		}
	}
	key := ac.Spec.AuthServerRef.In(ac.Namespace)
	// issuer is the AuthServer's, when it can be read: the template is
	// rendered for it (for a placeholder otherwise).
	issuer := ""
	// allowed are the scopes the policies allow (nil: no restriction): the
	// template is rendered with the scopes the Secret will list, as the
	// reconciler renders it.
	var allowed []string
	as := &authv1.AuthServer{}
	reader := v.Reader
	err := reader.Get(ctx, key, as)
	if apierrors.IsNotFound(err) && v.APIReader != nil {
		// Not in the cache (yet): the API server decides, and the
		// policies are read from it as well (the cache lags for them too).
		reader = v.APIReader
		err = reader.Get(ctx, key, as)
	}
	switch {
	case apierrors.IsNotFound(err):
		// Without the AuthServer its allowedClientIdPrefixes are unknown:
		// the clientId rule is left to the reconciler (which enforces it
		// before anything reaches Keycloak), so applying a folder whose
		// AuthClient comes before its AuthServer is not refused.
		warnings = append(warnings, fmt.Sprintf("AuthServer %s does not exist (yet); its policies and the clientId rule are checked when the client is reconciled", key))
	case err != nil && v.FailClosed:
		return warnings, fmt.Errorf("the policies of AuthServer %s could not be checked at admission (%w); the webhook fails closed (webhook.failurePolicy Fail): retry", key, err)
	case err != nil:
		// Cannot decide: let the reconciler, which enforces everything anyway.
		warnings = append(warnings, fmt.Sprintf("the policies of AuthServer %s could not be checked at admission (%v); they are enforced when the client is reconciled", key, err))
	case as.Spec.PolicySelector == nil:
		issuer = as.Status.Issuer
		clientIDRule(as.Spec.AllowedClientIDPrefixes)
		warnings = append(warnings, serviceAccountWarnings(ac, as)...)
	default:
		issuer = as.Status.Issuer
		clientIDRule(as.Spec.AllowedClientIDPrefixes)
		warnings = append(warnings, serviceAccountWarnings(ac, as)...)
		var list authv1.AuthPolicyList
		if err := reader.List(ctx, &list, client.InNamespace(as.Namespace)); err != nil {
			if v.FailClosed {
				return warnings, fmt.Errorf("the AuthPolicies of AuthServer %s could not be listed at admission (%w); the webhook fails closed (webhook.failurePolicy Fail): retry", key, err)
			}
			warnings = append(warnings, fmt.Sprintf("the AuthPolicies of AuthServer %s could not be listed at admission (%v); they are enforced when the client is reconciled", key, err))
			break
		}
		pols := policy.Select(as, list.Items)
		eff, conflicts := policy.Combine(pols)
		allowed = eff.AllowedScopes
		if len(conflicts) > 0 {
			for _, c := range conflicts {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "authServerRef"), fmt.Sprintf("the AuthPolicies of AuthServer %s contradict each other (%s: %s); no client is admitted until that is resolved", key, c.Field, c.Message)))
			}
		}
		for _, viol := range policy.New(policy.Evaluate(ac, pols), old, pols) {
			errs = append(errs, field.Forbidden(viol.Field, viol.Message))
		}
	}
	// Rendered once, stopping with the request (the API server gives up
	// after 5 s).
	if err := desired.CheckGovernedSecretTemplate(ctx, ac, allowed, issuer); err != nil {
		errs = append(field.ErrorList{field.Invalid(field.NewPath("spec", "secretTemplate"), "(template)", err.Error())}, errs...)
	}
	// What CEL cannot decide about spec.claims (desired.CheckClaims, the
	// reconciler's rule).
	for _, p := range desired.CheckClaims(ac) {
		errs = append(errs, field.Invalid(field.NewPath(p.Field), "(claim)", p.Message))
	}
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(authv1.GroupVersion.WithKind("AuthClient").GroupKind(), ac.Name, errs)
	}
	return warnings, nil
}

// serviceAccountWarnings warns, not refuses, when the AuthServer does not
// (yet) accept the client's ServiceAccount: the AuthServer edit that allows
// it may come in the same GitOps sync, after the client. The reconciler
// refuses the client until then.
func serviceAccountWarnings(ac *authv1.AuthClient, as *authv1.AuthServer) admission.Warnings {
	if reason, msg := desired.CheckServiceAccount(ac, as); reason != "" {
		return admission.Warnings{msg + "; the client is refused (" + reason + ") until the AuthServer allows it"}
	}
	return nil
}
