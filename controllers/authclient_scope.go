package controllers

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// authClientScope is everything one AuthClient reconcile works on: what it
// was given, and what its steps found and hand to the steps after them.
// The steps fill it in order (authClientSteps); the outcome (Ready note,
// failure, next reconcile) is computed from it once, at the end (outcome).
type authClientScope struct {
	ac  *authv1.AuthClient
	rep reconciler.Reporter
	// persist writes the status now, mid-reconcile (see Reconcile).
	persist func() error

	// as is the AuthServer, kc its Keycloak connection; refused is why the
	// AuthClient may not attach to it (nil: admitted).
	as      *authv1.AuthServer
	refused error
	kc      keycloak.Admin

	// audiences are the consenting targets of spec.audiences; problems
	// those that cannot be added (reported once the rest is done).
	audiences []audienceTarget
	problems  *audienceProblems

	// pols are the AuthPolicies that govern the client, eff what they
	// combine to, violations how the AuthClient breaks them.
	pols       []authv1.AuthPolicy
	eff        policy.Effective
	violations []policy.Violation
	// gov is what the policies make of the client, for the client, rotation
	// and Secret steps.
	gov governance

	// kcClient is the Keycloak client as last read; recreated says it was
	// recreated after it went missing; clientErr is a change Keycloak did
	// not apply (the client is still valid, and the Secret kept right).
	kcClient  *gocloak.Client
	recreated bool
	clientErr error

	// secret is the client's current secret ("" for a client without one);
	// rot is what the rotation step did.
	secret string
	rot    rotationResult
	// byo is the value of spec.clientSecretRef, once it may be used
	// (authclient_byosecret.go); "" without one.
	byo string
	// byoKey keys the workloads' credentials version of such a client: the
	// UID of the referenced Secret (authclient_byosecret.go).
	byoKey string

	// serviceAccountErr says the ServiceAccount of a secretless client is
	// missing (checked only when nothing graver is reported).
	serviceAccountErr error

	// rolesErr (client roles, authclient_roles.go) is a write of spec.roles
	// that failed; the client and its Secret are in place all the same.
	rolesErr error
	// grants are the role grants (authclient_rolegrants.go): the targets
	// that consent and what cannot be granted; nil until resolved.
	grants *roleGrants
	// claimsErr (claims, authclient_claims.go) is why claims of spec.claims
	// have no mapper; the others are in force.
	claimsErr error
}

// realm is the name of the AuthServer's realm in Keycloak.
func (s *authClientScope) realm() string { return s.as.Status.RealmName }

// stepResult is what a step tells the chain: go on (the zero value), or end
// the reconcile with err (nil: without a failure).
type stepResult struct {
	stop bool
	err  error
	// withdraw: the chain ends before the Keycloak client is brought into
	// line; audiences withdrawn meanwhile still leave its tokens first.
	withdraw bool
	// keepWake: the chain ends on a finding about the client, not a failed
	// request; the next reconcile is still due when rotation wants it.
	keepWake bool
}

// goOn goes on to the following step.
func goOn() stepResult { return stepResult{} }

// endWith ends the reconcile with err (a failure, retried or reported as the
// reconciler's error classes say; nil: done).
func endWith(err error) stepResult { return stepResult{stop: true, err: err} }

// endWithdrawing ends the reconcile before the client is brought into
// line, once the audiences that no longer consent are out of it.
func endWithdrawing(err error) stepResult { return stepResult{stop: true, err: err, withdraw: true} }

// endKeepingWake ends the reconcile with a finding after the rotation step
// ran: rotation still runs on time.
func endKeepingWake(err error) stepResult { return stepResult{stop: true, err: err, keepWake: true} }

// authClientStep is one step of the AuthClient reconcile.
type authClientStep struct {
	name string
	run  func(ctx context.Context, s *authClientScope) stepResult
}

// authClientSteps are the steps of an AuthClient reconcile, in order
// (controllers/doc.go says which file holds each).
func (r *AuthClientReconciler) authClientSteps() []authClientStep {
	return []authClientStep{
		{"authServer", r.stepAuthServer},
		{"connect", r.stepConnect},
		{"admission", r.stepAdmission},
		{"audiences", r.stepAudiences},
		{"issuer", r.stepIssuer},
		{"policies", r.stepPolicies},
		{"governance", r.stepGovernance},
		{"clientSecretRef", r.stepClientSecretRef},
		{"adoption", r.stepAdoption},
		{"keycloakClient", r.stepKeycloakClient},
		{"roles", r.stepRoles},
		{"roleGrants", r.stepRoleGrants},
		{"claims", r.stepClaims},
		{"clientSecret", r.stepClientSecret},
		{"byoSecret", r.stepBYOSecret},
		{"rotation", r.stepRotation},
		{"secret", r.stepSecret},
		{"finishRotation", r.stepFinishRotation},
		{"workloads", r.stepWorkloads},
		{"status", stepStatus},
		{"serviceAccount", r.stepServiceAccount},
	}
}

// runSteps runs steps in order until one stops the chain, and returns how
// it ended (the zero stepResult: every step ran). withdraw is called for a
// step that stops with withdraw; its error, if any, replaces the step's.
func runSteps(ctx context.Context, s *authClientScope, steps []authClientStep, withdraw func(context.Context, *authClientScope) error) stepResult {
	for _, st := range steps {
		res := st.run(ctx, s)
		if !res.stop {
			continue
		}
		if res.withdraw {
			if err := withdraw(ctx, s); err != nil {
				return endWith(err)
			}
		}
		return res
	}
	return goOn()
}

// reconcile does the work of one reconcile: its steps over the scope, then
// the outcome. It returns how soon the next reconcile is needed (0: at the
// resync), such as at the next rotation slot, and a note for the Ready
// message (what waits, though the client is ready).
func (r *AuthClientReconciler) reconcile(ctx context.Context, s *authClientScope) (time.Duration, string, error) {
	end := runSteps(ctx, s, r.authClientSteps(), func(ctx context.Context, s *authClientScope) error {
		// Both, whichever fails: withdrawn audiences and role grants.
		return errors.Join(r.withdrawAudiences(ctx, s), r.withdrawRoleGrants(ctx, s))
	})
	return s.outcome(end)
}

// outcome is the one place where a reconcile's result is computed from the
// scope: how the chain ended, else the gravest finding, else the note for
// the Ready message. A failed request is retried as the rate limiter says
// (no wake); a finding about the client keeps the rotation's wake.
func (s *authClientScope) outcome(end stepResult) (time.Duration, string, error) {
	switch {
	case end.stop && end.keepWake:
		return s.rot.wake, "", end.err
	case end.stop:
		return 0, "", end.err
	}
	if err := s.finding(); err != nil {
		return s.rot.wake, "", err
	}
	if err := s.problems.err(); err != nil {
		// The client works, with the audiences that could be added.
		return s.rot.wake, "", err
	}
	if err := s.grants.failure(); err != nil {
		// The client works, with the roles that could be granted.
		return s.rot.wake, "", err
	}
	if note := issuerNote(s.ac, s.as); note != "" {
		return s.rot.wake, note, nil
	}
	return s.rot.wake, s.rot.note, nil
}

// finding is the gravest thing to report about a client that is in place,
// nil when there is none (audience problems aside): a change Keycloak did
// not apply, an authentication kept against the policies, a policy
// violation, a missing ServiceAccount.
func (s *authClientScope) finding() error {
	switch {
	case s.clientErr != nil:
		return s.clientErr
	case s.gov.kept != nil && s.gov.kept.Kept:
		return keptAuthentication(s.gov, s.violations, false)
	case len(s.violations) > 0:
		// Forbidden grants and scopes are off; an authentication method
		// is never switched. The message says which (policy.Consequence).
		// The Secret and credentials are kept, so flows that stay allowed
		// keep working.
		return reconciler.Permanent(authv1.ReasonPolicyViolation, "%s; %s", policy.Message(s.violations), policy.Consequence(s.violations))
	case s.rolesErr != nil:
		return s.rolesErr
	case s.claimsErr != nil:
		return s.claimsErr
	}
	return s.serviceAccountErr
}

// stepAuthServer reads the AuthServer and whether the AuthClient may attach to it.
func (r *AuthClientReconciler) stepAuthServer(ctx context.Context, s *authClientScope) stepResult {
	as, refused, err := r.authServer(ctx, s.ac)
	if err != nil {
		return endWith(err)
	}
	if as == nil {
		return endWith(refused) // the realm is not ready: nothing to disable
	}
	s.as, s.refused = as, refused
	return goOn()
}

// stepConnect opens the AuthServer's Keycloak connection.
func (r *AuthClientReconciler) stepConnect(ctx context.Context, s *authClientScope) stepResult {
	kc, err := r.Connections.For(ctx, s.as)
	if err != nil && s.refused != nil {
		// The client must still be disabled: retried with backoff.
		f := reconciler.Classify(s.refused)
		return endWith(reconciler.Transient(f.Reason, "%s; disabling its Keycloak client waits for the connection to Keycloak: %v", f.Msg, err))
	}
	if err != nil {
		return endWith(err)
	}
	s.kc = kc
	return goOn()
}

// stepAdmission disables the Keycloak client of a refused AuthClient.
func (r *AuthClientReconciler) stepAdmission(ctx context.Context, s *authClientScope) stepResult {
	if s.refused == nil {
		return goOn()
	}
	err := r.revoke(ctx, s.ac, s.as, s.kc, s.refused)
	if !reconciler.Classify(err).Transient {
		// Disabled (or gone): it holds its ServiceAccount no more, and
		// another may take it. Not before: two enabled clients for one
		// ServiceAccount would break both.
		s.ac.Status.ServiceAccount = ""
	}
	return endWith(err)
}

// stepAudiences resolves spec.audiences to the targets that consent.
func (r *AuthClientReconciler) stepAudiences(ctx context.Context, s *authClientScope) stepResult {
	s.problems = &audienceProblems{}
	audiences, err := r.resolveAudiences(ctx, s.ac, s.problems)
	if err != nil {
		return endWith(err)
	}
	s.audiences = audiences
	return goOn()
}

// stepIssuer waits for the realm's service-account authentication that a
// secretless client needs.
func (r *AuthClientReconciler) stepIssuer(ctx context.Context, s *authClientScope) stepResult {
	err := issuerReady(s.ac, s.as)
	if err == nil {
		return goOn()
	}
	if identityProviderTakenOver(s.as) && s.ac.Status.ServiceAccount != "" {
		// The identity provider its client trusts is no longer the
		// AuthServer's: whoever controls it now decides which tokens
		// match, so the client is disabled until it is ours again.
		return endWith(r.revoke(ctx, s.ac, s.as, s.kc, err))
	}
	return endWithdrawing(err)
}

// stepPolicies reads the governing AuthPolicies, combines them and
// evaluates the AuthClient against them.
func (r *AuthClientReconciler) stepPolicies(ctx context.Context, s *authClientScope) stepResult {
	pols, err := r.policiesOf(ctx, s.as, s.ac.Status.ClientID == "")
	if err != nil {
		return endWith(err)
	}
	eff, conflicts := policy.Combine(pols)
	s.pols, s.eff = pols, eff
	s.ac.Status.Policies = eff.Policies
	if len(conflicts) > 0 {
		// Not resolved silently: the client stays as it is in Keycloak.
		return endWithdrawing(reconciler.Permanent(authv1.ReasonPolicyConflict, "the AuthPolicies of AuthServer %s contradict each other: %s", client.ObjectKeyFromObject(s.as), conflictMessage(conflicts)))
	}
	s.violations = policy.Evaluate(s.ac, pols)
	if s.ac.Status.ClientID == "" && policy.ViolatesAuthentication(s.violations) {
		// A client that never existed is not created with an
		// authentication method its policies forbid (a secret they
		// exclude, a public client where they require one, say); one
		// that exists keeps working meanwhile.
		return endWithdrawing(reconciler.Permanent(authv1.ReasonPolicyViolation, "%s; the Keycloak client is not created while its authentication method is not allowed", policy.Message(s.violations)))
	}
	return goOn()
}

// stepGovernance decides what the policies make of the client and renders
// the Secret's plan.
func (r *AuthClientReconciler) stepGovernance(ctx context.Context, s *authClientScope) stepResult {
	ac := s.ac
	gov := governed(ac, s.eff)
	gov.secret = &secretLookup{}
	if policy.ViolatesAuthentication(s.violations) {
		gov.authViolation = policy.Message(s.violations)
	}
	// Rendered once, here, with everything but the client secret (which
	// can then make no difference): the rotation checks and the Secret
	// write use this plan. It lists the scopes the policies allow (the
	// rule admission renders with too). A Secret that could not be
	// rendered must not get a client first; a client that exists is still
	// brought into line with its policies (a template must not freeze it
	// against a policy that tightens, or an issuer that changes): the
	// problem is reported where the Secret would be written, and no
	// rotation starts meanwhile.
	var err error
	if gov.plan, err = desired.PlanGovernedSecret(ctx, ac, s.eff.AllowedScopes, s.as.Status.Issuer); err != nil {
		gov.planErr = reconciler.Permanent(authv1.ReasonSecretTemplateInvalid, "%v", err)
		if ac.Status.ClientID == "" {
			s.gov = gov
			return endWithdrawing(gov.planErr)
		}
	}
	gov.claim = r.serviceAccountClaim(ctx, ac, s.persist)
	if s.eff.Rotation == nil && ac.HasSecret() {
		// Rotation ended while the previous secret's grace period runs:
		// the marker stays until it is over (removing it is a client update
		// that no rotation policy matches, which makes Keycloak drop the
		// previous secret at once).
		if st := ac.Status.SecretRotation; st != nil && st.PreviousSecretValidUntil != nil && st.PreviousSecretValidUntil.After(time.Now()) {
			gov.keepMarker = true
		}
	}
	gov.kept = &desired.KeptAuthentication{}
	s.gov = gov
	return goOn()
}

// stepKeycloakClient brings the Keycloak client into line.
func (r *AuthClientReconciler) stepKeycloakClient(ctx context.Context, s *authClientScope) stepResult {
	s.kcClient, s.recreated, s.clientErr = r.reconcileClient(ctx, s)
	if s.kcClient == nil {
		return endWithdrawing(s.clientErr)
	}
	// A client kept with another kind of credential than the spec's (a
	// secret where the spec, edited past the webhook, asks for none, or
	// the other way round) leaves its Secret as it is: the workloads keep
	// the credential Keycloak still accepts. Grants and scopes were
	// brought into line all the same.
	if s.gov.kept.Kept && desired.CredentialOf(*s.kcClient) != desired.SpecCredential(s.ac) {
		if s.clientErr != nil && reconciler.Classify(s.clientErr).Reason == authv1.ReasonChangeNotApplied {
			// Its reason is what keeps the next reconcile from writing the
			// change again (reconciler.StillNotApplied).
			return endWithdrawing(s.clientErr)
		}
		return endWithdrawing(keptAuthentication(s.gov, s.violations, true))
	}
	return goOn()
}

// stepClientSecret reads the client's secret.
func (r *AuthClientReconciler) stepClientSecret(ctx context.Context, s *authClientScope) stepResult {
	if !s.ac.HasSecret() {
		s.ac.Status.SecretRotation = nil
		return goOn()
	}
	// The client representation carries the secret; read it separately
	// only if this Keycloak left it out.
	s.secret = gocloak.PString(s.kcClient.Secret)
	if s.secret != "" {
		return goOn()
	}
	secret, err := s.kc.GetClientSecret(ctx, s.realm(), gocloak.PString(s.kcClient.ID))
	if err != nil {
		return endWith(err)
	}
	s.secret = secret
	return goOn()
}

// rotation is what the rotation executor (authclient_rotation.go) works on.
func (s *authClientScope) rotation() rotationScope {
	return rotationScope{ac: s.ac, as: s.as, kc: s.kc, gov: s.gov, client: s.kcClient, persist: s.persist, rep: s.rep}
}

// stepRotation rotates the client's secret when due (authclient_rotation.go).
func (r *AuthClientReconciler) stepRotation(ctx context.Context, s *authClientScope) stepResult {
	if !s.ac.HasSecret() || s.byo != "" {
		return goOn()
	}
	// Also when Keycloak did not apply a change (clientErr): the client
	// read from it is valid, and a secret's expiry does not wait.
	rot, err := r.reconcileRotation(ctx, s.rotation(), s.secret)
	if err != nil {
		return endWith(err)
	}
	s.rot, s.secret = rot, rot.secret
	return goOn()
}

// stepSecret writes the credentials Secret, and reports a rotation once it
// holds the new secret.
func (r *AuthClientReconciler) stepSecret(ctx context.Context, s *authClientScope) stepResult {
	out := s.rot.out
	if s.gov.plan == nil {
		// The Secret is not written: it keeps what it holds.
		return endKeepingWake(undeliverable(s.ac, s.gov.planErr, out, s.recreated))
	}
	rotation := ""
	if out != nil {
		rotation = out.id
	}
	if err := r.reconcileSecret(ctx, s, rotation); err != nil {
		return endWith(err)
	}
	if out != nil {
		s.rep.Event(ctx, s.ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated, rotationEvent(s.ac, out))
		secretRotations.WithLabelValues(out.reason, strconv.FormatBool(out.resumed)).Inc()
	}
	return goOn()
}

// stepFinishRotation ends a rotation the Secret now holds (authclient_rotation.go).
func (r *AuthClientReconciler) stepFinishRotation(ctx context.Context, s *authClientScope) stepResult {
	if !s.ac.HasSecret() || s.byo != "" {
		return goOn()
	}
	if err := r.finishRotation(ctx, s.rotation(), s.rot); err != nil {
		return endWith(err)
	}
	return goOn()
}

// stepWorkloads rolls the opted-in workloads when the credentials changed.
func (r *AuthClientReconciler) stepWorkloads(ctx context.Context, s *authClientScope) stepResult {
	if err := r.restartWorkloads(ctx, s.ac, s.secret, s.byoKey, s.rep); err != nil {
		return endWith(err)
	}
	return goOn()
}

// stepStatus records what is provisioned: the client, its Secret, issuer,
// audiences and ServiceAccount.
func stepStatus(_ context.Context, s *authClientScope) stepResult {
	ac := s.ac
	ac.Status.ClientID = ac.EffectiveClientID()
	ac.Status.ClientSecretRef = &authv1.LocalObjectReference{Name: ac.SecretName()}
	ac.Status.Issuer = s.as.Status.Issuer
	ac.Status.Audiences = desired.AudiencesOf(*s.kcClient)
	ac.Status.ServiceAccount = ""
	if ac.Secretless() {
		ac.Status.ServiceAccount = authv1.ServiceAccountSubject(ac.Namespace, ac.Spec.ServiceAccount.Name)
	}
	return goOn()
}

// stepServiceAccount checks that the ServiceAccount of a secretless client
// exists, unless a graver finding is reported anyway (no read then).
func (r *AuthClientReconciler) stepServiceAccount(ctx context.Context, s *authClientScope) stepResult {
	if s.finding() != nil {
		return goOn()
	}
	s.serviceAccountErr = r.serviceAccountExists(ctx, s.ac)
	return goOn()
}
