package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/kubeissuer"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Service-account authentication, seen from the realm: the AuthServer puts
// an identity provider of type kubernetes in its realm that trusts the
// cluster's service-account token issuer, keeps it in line, and removes it
// when spec.serviceAccountAuthentication goes. Secretless AuthClients name
// it. Problems never make the realm un-Ready: they are the
// ServiceAccountIssuerReady condition, with a Warning.

// IssuerSource says which service-account issuer the operator's own API
// server has (kubeissuer.Reader).
type IssuerSource interface {
	Issuer(ctx context.Context) (*kubeissuer.Issuer, error)
}

// issuerRetry is how soon a failing issuer set-up or check is looked at
// again: fixing the cluster (an RBAC binding, a CA) needs no AuthServer edit.
const issuerRetry = time.Minute

// issuerHint says what a cluster must allow for Keycloak to fetch the issuer's keys.
const issuerHint = "Keycloak fetches <issuer>/.well-known/openid-configuration and the jwks_uri it names without credentials: " +
	"the issuer must be reachable from Keycloak, Keycloak must trust its certificate (KC_TRUSTSTORE_PATHS, or truststore-kubernetes-enabled for a Keycloak in the cluster), " +
	"and the API server must allow anonymous access to its discovery endpoints " +
	"(kubectl create clusterrolebinding service-account-issuer-discovery-anonymous --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated); " +
	"a Keycloak in this cluster with its own service-account token mounted authenticates to the issuer and may work without that binding, though this check does not"

// reconcileServiceAccounts never fails the AuthServer's reconcile. It
// returns how soon to look again (0: at the resync).
func (r *AuthServerReconciler) reconcileServiceAccounts(ctx context.Context, s *serverScope) time.Duration {
	as, kc, rep := s.as, s.kc, s.rep
	realm := as.Status.RealmName
	spec := as.Spec.ServiceAccountAuthentication
	if spec == nil {
		if as.Status.ServiceAccountAuthentication == nil {
			// Never set up: a realm without it costs no request.
			reconciler.RemoveCondition(as, authv1.ServiceAccountIssuerCondition)
			return 0
		}
		if err := r.removeIdentityProvider(ctx, as, kc, rep); err != nil {
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, reconciler.Classify(err).Reason,
				fmt.Sprintf("spec.serviceAccountAuthentication was removed, and the identity provider %q could not be removed from realm %q yet: %v", desired.IdentityProviderAlias, realm, err)))
			return issuerRetry
		}
		as.Status.ServiceAccountAuthentication = nil
		reconciler.RemoveCondition(as, authv1.ServiceAccountIssuerCondition)
		return 0
	}

	if needsFeature(ctx, s, authv1.ServiceAccountIssuerCondition, kcversion.SecretlessClients) {
		as.Status.ServiceAccountAuthentication = nil // nothing sent; secretless AuthClients stall on the reason
		return 0
	}
	issuer := spec.Issuer
	if issuer == "" {
		found, err := r.Issuers.Issuer(ctx)
		if err != nil {
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, authv1.ReasonIssuerNotDiscovered, fmt.Sprintf(
				"spec.serviceAccountAuthentication.issuer is omitted, and the operator could not read the issuer of its Kubernetes API server: %v; set the issuer in the AuthServer", err)))
			return issuerRetry
		}
		issuer = found.URL
		if u, perr := url.Parse(issuer); perr != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(issuer, "/") {
			// Keycloak appends /.well-known/openid-configuration to the
			// issuer and compares it with the tokens' iss byte for byte.
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, authv1.ReasonIssuerNotDiscovered, fmt.Sprintf(
				"spec.serviceAccountAuthentication.issuer is omitted, and the issuer of the operator's Kubernetes API server, %q, is not an https URL without a trailing /, which Keycloak needs; set the API server's --service-account-issuer accordingly, or set the issuer in the AuthServer", issuer)))
			return 0
		}
	}
	written, err := r.applyIdentityProvider(ctx, as, kc, issuer, rep)
	if err != nil {
		f := reconciler.Classify(err)
		rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, f.Reason, identityProviderFailure(f, issuer, realm)))
		if f.Reason == authv1.ReasonIdentityProviderConflict {
			// Not trusted: secretless clients must not name an identity
			// provider someone else controls.
			as.Status.ServiceAccountAuthentication = nil
		}
		if f.Transient {
			return issuerRetry
		}
		return 0
	}
	prevIssuer := ""
	if st := as.Status.ServiceAccountAuthentication; st != nil {
		prevIssuer = st.Issuer
	}
	as.Status.ServiceAccountAuthentication = &authv1.ServiceAccountAuthenticationStatus{
		Issuer:             issuer,
		IdentityProvider:   desired.IdentityProviderAlias,
		TokenAudience:      desired.TokenAudience(as.Status.Issuer),
		MaxTokenAgeSeconds: int64(desired.MaxTokenAge(spec) / time.Second),
	}

	// The check asks Keycloak to fetch the issuer's documents: done when
	// something changed or the last check failed, not at every resync.
	prev := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition)
	if !written && prevIssuer == issuer && prev != nil && prev.Status == metav1.ConditionTrue && prev.ObservedGeneration == as.Generation {
		return 0
	}
	reason, msg := checkIssuer(ctx, kc, realm, issuer)
	if reason != authv1.ReasonIssuerReachable {
		rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionFalse, reason, msg))
		return issuerRetry
	}
	rep.Condition(ctx, as, reconciler.NewCondition(authv1.ServiceAccountIssuerCondition, metav1.ConditionTrue, reason, msg))
	return 0
}

// applyIdentityProvider makes the realm's identity provider match, and
// reports whether it wrote it.
func (r *AuthServerReconciler) applyIdentityProvider(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, issuer string, rep reconciler.Reporter) (bool, error) {
	log := ctrl.LoggerFrom(ctx)
	realm, alias := as.Status.RealmName, desired.IdentityProviderAlias
	want := desired.IdentityProvider(as, issuer)
	actual, err := kc.GetIdentityProvider(ctx, realm, alias)
	if keycloak.IsNotFound(err) {
		log.Info("Creating Keycloak identity provider", "alias", alias, "realm", realm, "issuer", issuer)
		cerr := kc.CreateIdentityProvider(ctx, realm, want)
		if cerr == nil {
			rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonIdentityProviderCreated, fmt.Sprintf("Created identity provider %q in realm %q, trusting the service-account tokens of %s", alias, realm, issuer))
			return true, nil
		}
		if !keycloak.CreateOutcomeUnknown(cerr) {
			return false, cerr
		}
		// It exists (409), or may: the create timed out or failed while
		// Keycloak stored it (or an earlier attempt of ours did). Look,
		// and carry on with it only if it is ours (the owner check below).
		actual, err = kc.GetIdentityProvider(ctx, realm, alias)
		switch {
		case keycloak.IsNotFound(err) && keycloak.IsConflict(cerr):
			return false, reconciler.Transient(authv1.ReasonIdentityProviderConflict, "identity provider %q appeared in realm %q while it was being created, and is gone again; checking again", alias, realm)
		case keycloak.IsNotFound(err):
			return false, cerr
		}
	}
	if err != nil {
		return false, err
	}
	if owner := desired.IdentityProviderOwner(actual); owner != desired.Owner(as.Namespace, as.Name) {
		who := "Nauthera did not create it"
		if owner != "" {
			who = "it belongs to AuthServer " + owner
		}
		return false, reconciler.Permanent(authv1.ReasonIdentityProviderConflict,
			"realm %q has an identity provider %q and %s; it is not taken over: remove or rename it", realm, alias, who)
	}
	diff := desired.IdentityProviderDiff(want, *actual)
	if len(diff) == 0 {
		return false, nil
	}
	// Changes Keycloak accepted but did not make for this generation are
	// not written again at every resync.
	what := fmt.Sprintf("identity provider %q", alias)
	if reconciler.StillNotAppliedOn(as, authv1.ServiceAccountIssuerCondition, what, diff, want) {
		return false, reconciler.NotApplied(what, diff, want, "AuthServer")
	}
	log.Info("Updating Keycloak identity provider", "alias", alias, "realm", realm, "fields", diff)
	if err := kc.UpdateIdentityProvider(ctx, realm, desired.MergeIdentityProvider(want, *actual)); err != nil {
		return false, err
	}
	after, err := kc.GetIdentityProvider(ctx, realm, alias)
	if err != nil {
		return false, err
	}
	if still := desired.IdentityProviderDiff(want, *after); len(still) > 0 {
		return false, reconciler.NotApplied(what, still, want, "AuthServer")
	}
	if st := as.Status.ServiceAccountAuthentication; st != nil && st.Issuer == issuer && isIssuerReady(as) {
		// Nothing of ours changed: someone edited it in the console.
		rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to identity provider %q of realm %q: %s", alias, realm, strings.Join(diff, ", ")))
	}
	return true, nil
}

// identityProviderFailure is the ServiceAccountIssuerReady message of a
// failure to set up the identity provider. A change Keycloak did not apply
// puts its message first: its head holds the fingerprint StillNotAppliedOn
// looks for, which a long issuer (up to 2048 bytes) and realm before it
// would push past the condition's cut. The issuer is quoted at most
// maxQuotedIssuer bytes long either way.
func identityProviderFailure(f *reconciler.Failure, issuer, realm string) string {
	quoted := reconciler.Truncate(issuer, maxQuotedIssuer)
	if f.Reason == authv1.ReasonChangeNotApplied {
		return fmt.Sprintf("%s (the identity provider trusting the service-account tokens of %s, in realm %q)", f.Msg, quoted, realm)
	}
	return fmt.Sprintf("The identity provider %q for service-account tokens of %s could not be set up in realm %q: %s", desired.IdentityProviderAlias, quoted, realm, f.Msg)
}

// maxQuotedIssuer bounds an issuer quoted in a condition message.
const maxQuotedIssuer = 256

func isIssuerReady(as *authv1.AuthServer) bool {
	c := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == as.Generation
}

// removeIdentityProvider deletes the realm's identity provider if it is this AuthServer's.
func (r *AuthServerReconciler) removeIdentityProvider(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter) error {
	realm, alias := as.Status.RealmName, desired.IdentityProviderAlias
	actual, err := kc.GetIdentityProvider(ctx, realm, alias)
	switch {
	case keycloak.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case desired.IdentityProviderOwner(actual) != desired.Owner(as.Namespace, as.Name):
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Deleting Keycloak identity provider", "alias", alias, "realm", realm)
	if err := kc.DeleteIdentityProvider(ctx, realm, alias); err != nil && !keycloak.IsNotFound(err) {
		return err
	}
	rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonIdentityProviderRemoved, fmt.Sprintf("Removed identity provider %q from realm %q: spec.serviceAccountAuthentication was removed, and secretless clients no longer authenticate", alias, realm))
	return nil
}

// checkIssuer asks Keycloak to fetch the issuer's discovery document and
// the keys it names, as it does when it checks a token, and returns the
// condition's reason and message.
func checkIssuer(ctx context.Context, kc keycloak.Admin, realm, issuer string) (reason, msg string) {
	discovery := issuer + kubeissuer.DiscoveryPath
	cfg, err := kc.FetchOIDCConfiguration(ctx, realm, discovery)
	if err != nil {
		return authv1.ReasonIssuerUnreachable, fmt.Sprintf("Keycloak cannot fetch the issuer's discovery document %s (%s). %s", discovery, fetchFailure(err), issuerHint)
	}
	if got := cfg["issuer"]; got != "" && got != issuer {
		return authv1.ReasonIssuerMismatch, fmt.Sprintf(
			"the discovery document %s names the issuer %q, not %q: service-account tokens carry that one and Keycloak would refuse them; set spec.serviceAccountAuthentication.issuer to the API server's --service-account-issuer", discovery, got, issuer)
	}
	jwks := cfg["jwksUrl"]
	if jwks == "" {
		return authv1.ReasonIssuerUnreachable, fmt.Sprintf("the discovery document %s names no jwks_uri: Keycloak cannot find the keys that sign service-account tokens", discovery)
	}
	if _, err := kc.FetchOIDCConfiguration(ctx, realm, jwks); err != nil {
		return authv1.ReasonIssuerUnreachable, fmt.Sprintf(
			"Keycloak fetched %s but cannot fetch the keys at %s it names (%s); set the API server's --service-account-jwks-uri to a URL Keycloak can reach. %s", discovery, jwks, fetchFailure(err), issuerHint)
	}
	return authv1.ReasonIssuerReachable, fmt.Sprintf(
		"Realm %q trusts service-account tokens of %s (identity provider %q); Keycloak fetched the issuer's discovery document and keys (%s)", realm, issuer, desired.IdentityProviderAlias, jwks)
}

// fetchFailure says what Keycloak answered a fetch it could not make.
// Keycloak 26.7 answers every failed fetch (an untrusted certificate, a
// refused connection, an unknown host, HTTP 401/403 or 404 from the
// server) with HTTP 500 and no detail, and logs the cause.
func fetchFailure(err error) string {
	var kerr *keycloak.Error
	if errors.As(err, &kerr) && kerr.Code == http.StatusInternalServerError {
		return "Keycloak's admin API answered HTTP 500 and logged the cause: an untrusted certificate, a refused connection, an unknown host, or an HTTP error such as 401/403 from an API server that refuses anonymous access"
	}
	if errors.As(err, &kerr) && kerr.Code != 0 {
		return fmt.Sprintf("HTTP %d: %s", kerr.Code, kerr.Message)
	}
	return err.Error()
}

// issuerSource is r.Issuers, or a reader of the manager's API server.
func issuerSource(mgr ctrl.Manager, s IssuerSource) (IssuerSource, error) {
	if s != nil {
		return s, nil
	}
	return kubeissuer.New(mgr.GetConfig())
}
