package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// reconcileClient makes the Keycloak client match the AuthClient and
// returns it as Keycloak has it, and whether it had to be recreated after
// it went missing (its credentials then changed). When Keycloak did not
// apply a change (ChangeNotApplied) it returns the client with the error,
// so that the Secret is still kept right.
func (r *AuthClientReconciler) reconcileClient(ctx context.Context, s *authClientScope) (*gocloak.Client, bool, error) {
	want := wantedClient(s)
	// Keycloak answers an over-long value with HTTP 500: refuse it here,
	// naming the field, before anything is written.
	if err := desired.CheckClientLimits(s.ac); err != nil {
		return nil, false, reconciler.Permanent(authv1.ReasonInvalidSpec, "%v", err)
	}
	actual, created, err := r.existingClient(ctx, s, want)
	if actual == nil {
		// Created (a client that existed before, as status names it, was
		// deleted in Keycloak), or failed.
		return created, err == nil && s.ac.Status.ClientID != "", err
	}
	// Under an authentication violation (a policy moved to a method the
	// client cannot use, a spec edited past the webhook, a console edit)
	// the client keeps authenticating as Keycloak has it; everything else
	// (grants, scopes, rotation, the Secret) is still brought into line.
	kept := desired.ApplyAuthentication(want, *actual, s.gov.authViolation != "")
	want = kept.Client
	if kept.Kept {
		*s.gov.kept = kept
	}
	// Before any write: the client may be enabled for its ServiceAccount by
	// it (once more, after a refusal disabled it), or already be. Only a
	// client that will authenticate with the ServiceAccount's token claims
	// it: one kept on a secret (above) must not block a rightful claimant.
	if gocloak.PString(want.ClientAuthenticatorType) == desired.AuthenticatorFederatedJWT {
		if err := s.gov.claimServiceAccount(); err != nil {
			return nil, false, err
		}
	}
	after, err := r.bringIntoLine(ctx, s, want, actual)
	return after, false, err
}

// wantedClient is the Keycloak client the AuthClient and its policies ask for.
func wantedClient(s *authClientScope) gocloak.Client {
	want := desired.GovernedClient(s.ac, s.gov.eff, desired.RealmSessions{
		Idle:        time.Duration(s.as.Status.RealmSessionIdleSeconds) * time.Second,
		OfflineIdle: time.Duration(s.as.Status.RealmOfflineSessionIdleSeconds) * time.Second,
	})
	if s.gov.keepMarker {
		want.Attributes[desired.AttrSecretRotation] = desired.RotationMarker
	}
	byoWanted(s, &want)
	return want
}

// existingClient returns the Keycloak client to bring into line (actual),
// or, if there was none, creates it and returns it as created, or fails.
func (r *AuthClientReconciler) existingClient(ctx context.Context, s *authClientScope, want gocloak.Client) (actual, created *gocloak.Client, err error) {
	ac, clientID := s.ac, s.ac.EffectiveClientID()
	// A client never provisioned is created without a look-up first (one
	// request less per new client): a conflict then means it exists, from
	// an earlier attempt whose status was not written, or someone else's.
	err = errNeverProvisioned
	if ac.Status.ClientID != "" {
		actual, err = s.kc.FindClient(ctx, s.realm(), clientID)
	}
	if keycloak.IsNotFound(err) && s.gov.authViolation != "" {
		// Gone from Keycloak (deleted in the console): not created again
		// with an authentication method the policies forbid.
		return nil, nil, reconciler.Permanent(authv1.ReasonAuthenticationNotCreated, "%s; the Keycloak client %s is gone and is not created again while its authentication method is not allowed", s.gov.authViolation, clientID)
	}
	switch {
	case keycloak.IsNotFound(err) || errors.Is(err, errNeverProvisioned):
		// Audience mappers go into the create itself: no extra request.
		before := *s.problems
		aud, err := r.verifiedAudiences(ctx, s, nil)
		if err != nil {
			return nil, nil, err
		}
		want.ProtocolMappers = desired.AudienceMappers(aud)
		created, existing, err := r.createClient(ctx, s, want)
		if existing == nil {
			return nil, created, err
		}
		// It existed and is ours: brought into line, like any other.
		*s.problems = before
		return existing, nil, nil
	case err != nil:
		return nil, nil, err
	}
	if err := checkOwner(ac, actual, s.realm()); err != nil {
		return nil, nil, err
	}
	return actual, nil, nil
}

// clientChanges is what differs between the Keycloak client and the one
// wanted: fields, client scopes, audiences.
type clientChanges struct {
	diff   []string
	scopes []desired.ScopeChange
	aud    desired.AudiencePlan
}

func (c clientChanges) empty() bool {
	return len(c.diff) == 0 && len(c.scopes) == 0 && c.aud.Empty()
}

// bringIntoLine writes what differs between the Keycloak client (actual)
// and want, reads it back, and reports drift it reverted.
func (r *AuthClientReconciler) bringIntoLine(ctx context.Context, s *authClientScope, want gocloak.Client, actual *gocloak.Client) (*gocloak.Client, error) {
	ac, clientID := s.ac, s.ac.EffectiveClientID()
	aud, err := r.verifiedAudiences(ctx, s, actual)
	if err != nil {
		return nil, err
	}
	ch := clientChanges{diff: desired.ClientDiff(want, *actual), scopes: desired.ScopePlan(s.gov.scopes, *actual), aud: desired.PlanAudiences(aud, *actual)}
	if ch.empty() {
		return actual, nil
	}
	// Changes Keycloak accepted but did not apply for this generation are not
	// written again on every resync (steady state costs no writes) as long
	// as they are all that differs; anything else that drifts (a console
	// edit of another field) is written, and so are they, once.
	if changes := notAppliedChanges(ch.diff, ch.scopes, ch.aud); reconciler.StillNotApplied(ac, fmt.Sprintf("client %q", clientID), changes, notAppliedValues(want)) {
		return actual, notApplied(clientID, want, ch.diff, ch.scopes, ch.aud)
	}
	drifted := ac.Status.ObservedGeneration == ac.Generation && reconciler.IsReady(ac)
	if err := r.applyClientChanges(ctx, s, want, actual, ch); err != nil {
		return nil, err
	}
	// Read back: a write Keycloak accepts without applying it must not be
	// mistaken for drift and repeated forever.
	after, err := s.kc.GetClient(ctx, s.realm(), gocloak.PString(actual.ID))
	if err != nil {
		return nil, err
	}
	stillDiff, stillPlan, stillAud := desired.ClientDiff(want, *after), desired.ScopePlan(s.gov.scopes, *after), desired.PlanAudiences(aud, *after)
	if len(stillDiff) > 0 || len(stillPlan) > 0 || !stillAud.Empty() {
		return after, notApplied(clientID, want, stillDiff, stillPlan, stillAud)
	}
	if drifted && (len(ch.diff) > 0 || len(ch.scopes) > 0 || len(ch.aud.Fix) > 0) {
		// Audiences added or removed in a Ready generation follow a
		// target's consent; only a mapper edited in the console is drift.
		s.rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to client %q: %s", clientID, strings.Join(driftFields(ch), ", ")))
	}
	return after, nil
}

// driftFields names the changes a DriftReverted Event reports.
func driftFields(ch clientChanges) []string {
	fields := slices.Clone(ch.diff)
	if len(ch.scopes) > 0 {
		fields = append(fields, "scopes ("+strings.Join(scopeChanges(ch.scopes), ", ")+")")
	}
	if len(ch.aud.Fix) > 0 {
		fields = append(fields, "audience mappers ("+strings.Join(audienceChanges(desired.AudiencePlan{Fix: ch.aud.Fix}), ", ")+")")
	}
	return fields
}

// applyClientChanges writes the changes to the Keycloak client, in the
// order that keeps tokens safe at every step.
func (r *AuthClientReconciler) applyClientChanges(ctx context.Context, s *authClientScope, want gocloak.Client, actual *gocloak.Client, ch clientChanges) error {
	log := ctrl.LoggerFrom(ctx)
	kc, realm, clientID, id := s.kc, s.realm(), s.ac.EffectiveClientID(), gocloak.PString(actual.ID)
	if len(ch.aud.Remove) > 0 {
		// Withdrawn audiences go first: a failure further on (an update
		// Keycloak refuses, a scope that cannot be assigned) must not keep
		// a clientId in tokens whose owner no longer consents.
		log.Info("Removing audiences from Keycloak client", "clientId", clientID, "count", len(ch.aud.Remove))
		if err := applyAudiences(ctx, kc, realm, id, desired.AudiencePlan{Remove: ch.aud.Remove}); err != nil {
			return err
		}
	}
	if len(ch.diff) > 0 {
		log.Info("Updating Keycloak client", "clientId", clientID, "fields", ch.diff)
		if err := kc.UpdateClient(ctx, realm, desired.MergeClient(want, *actual)); err != nil {
			return err
		}
		if gocloak.PString(want.ClientAuthenticatorType) == desired.AuthenticatorFederatedJWT &&
			gocloak.PString(actual.ClientAuthenticatorType) != desired.AuthenticatorFederatedJWT {
			// Keycloak keeps the secret of a client that goes secretless:
			// inert meanwhile, it would work again if the client ever went
			// back to a secret. A team that went secretless to retire a
			// leaked secret must not get it back: it is replaced now, and
			// nobody learns the new one.
			log.Info("Replacing the secret of a client that went secretless", "clientId", clientID)
			if _, err := kc.RegenerateClientSecret(ctx, realm, id); err != nil {
				return err
			}
		}
	}
	if len(ch.scopes) > 0 {
		log.Info("Changing client scopes of Keycloak client", "clientId", clientID, "changes", scopeChanges(ch.scopes))
		if err := r.applyScopes(ctx, s, id, ch.scopes); err != nil {
			return err
		}
	}
	if len(ch.aud.Add)+len(ch.aud.Fix) > 0 {
		log.Info("Changing audiences of Keycloak client", "clientId", clientID, "changes", audienceChanges(ch.aud))
		if err := applyAudiences(ctx, kc, realm, id, desired.AudiencePlan{Add: ch.aud.Add, Fix: ch.aud.Fix}); err != nil {
			return err
		}
	}
	return nil
}

// errNeverProvisioned stands for the look-up skipped for a client the
// AuthClient never had.
var errNeverProvisioned = errors.New("never provisioned")

// checkOwner refuses a Keycloak client that is not this AuthClient's.
func checkOwner(ac *authv1.AuthClient, found *gocloak.Client, realm string) error {
	owner := desired.ClientOwner(found)
	if owner == desired.Owner(ac.Namespace, ac.Name) {
		return nil
	}
	who := "a client not managed by Nauthera"
	if owner != "" {
		who = "AuthClient " + owner
	}
	return reconciler.Permanent(authv1.ReasonClientIDConflict, "clientId %q already exists in realm %q and belongs to %s; the operator does not take it over", ac.EffectiveClientID(), realm, who)
}

// notApplied is the permanent failure for changes Keycloak accepted (2xx)
// but did not make.
func notApplied(clientID string, want gocloak.Client, diff []string, plan []desired.ScopeChange, aud desired.AudiencePlan) error {
	return reconciler.NotApplied(fmt.Sprintf("client %q", clientID), notAppliedChanges(diff, plan, aud), notAppliedValues(want), "AuthClient")
}

// notAppliedValues is the desired client as it goes into the not-applied
// fingerprint: its values, so that a value changed without a new
// generation (a policy edit) is written again, and never a secret.
func notAppliedValues(want gocloak.Client) gocloak.Client {
	want.Secret = nil
	return want
}

// notAppliedChanges lists the changes of a client, its scopes and audiences.
func notAppliedChanges(diff []string, plan []desired.ScopeChange, aud desired.AudiencePlan) []string {
	fields := slices.Clone(diff)
	if len(plan) > 0 {
		fields = append(fields, "scopes ("+strings.Join(scopeChanges(plan), ", ")+")")
	}
	if !aud.Empty() {
		fields = append(fields, "audiences ("+strings.Join(audienceChanges(aud), ", ")+")")
	}
	return fields
}

func scopeChanges(plan []desired.ScopeChange) []string {
	out := make([]string, 0, len(plan))
	for _, p := range plan {
		verb, kind := "remove", "default"
		if p.Add {
			verb = "add"
		}
		if p.Optional {
			kind = "optional"
		}
		out = append(out, fmt.Sprintf("%s %s %s", verb, kind, p.Name))
	}
	return out
}

// createClient creates the Keycloak client and returns it as created. If
// the clientId exists and is this AuthClient's (an earlier attempt stored
// it), it returns that as existing instead, to be brought into line.
func (r *AuthClientReconciler) createClient(ctx context.Context, s *authClientScope, want gocloak.Client) (created, existing *gocloak.Client, err error) {
	ac, kc, realm := s.ac, s.kc, s.realm()
	clientID := gocloak.PString(want.ClientID)
	// A client whose Secret cannot be written must not be created.
	if err := r.checkSecretName(ctx, ac, s.gov.secret); err != nil {
		return nil, nil, err
	}
	scopeKey, cached, err := r.createScopes(ctx, s, &want)
	if err != nil {
		return nil, nil, err
	}
	// Last, after every check of its own: a claimant stuck on a problem of
	// its own does not take its ServiceAccount from the others.
	if err := s.gov.claimServiceAccount(); err != nil {
		return nil, nil, err
	}
	ctrl.LoggerFrom(ctx).Info("Creating Keycloak client", "clientId", clientID, "realm", realm)
	id, err := kc.CreateClient(ctx, realm, want)
	if created, existing, err = r.createdClient(ctx, s, clientID, id, err); created == nil {
		return nil, existing, err
	}
	if plan := desired.ScopePlan(s.gov.scopes, *created); cached && len(plan) > 0 {
		// The cache was stale (a scope deleted or renamed since it was
		// read; Keycloak skips unknown names): assign from a fresh list.
		r.realmScopeCache.forget(scopeKey)
		if err := r.applyScopes(ctx, s, id, plan); err != nil {
			return nil, nil, err
		}
		if created, err = kc.GetClient(ctx, realm, id); err != nil {
			return nil, nil, err
		}
	}
	if ac.Status.ClientID != "" {
		// Recreated after it went missing; a first creation is told by
		// the Ready condition alone (no Event: one write less per client).
		s.rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonClientRecreated, fmt.Sprintf("Recreated Keycloak client %q in realm %q, which had been deleted in Keycloak", clientID, realm))
	}
	ctrl.LoggerFrom(ctx).Info("Created Keycloak client", "clientId", clientID, "realm", realm)
	return created, nil, nil
}

// createScopes sets the client scopes want is created with: the realm's
// scopes as last read (a list per new client would cost a request, and
// bytes growing with the realm, for what rarely changes). It returns the
// cache key, and whether the cache answered.
func (r *AuthClientReconciler) createScopes(ctx context.Context, s *authClientScope, want *gocloak.Client) (string, bool, error) {
	realm, requested := s.realm(), s.gov.scopes
	scopeKey := string(s.as.UID) + "/" + realm
	scopes, cached := r.realmScopeCache.get(scopeKey, requested)
	if !cached {
		var err error
		if scopes, err = r.realmScopes(ctx, s.kc, realm, requested); err != nil {
			return "", false, err
		}
		r.realmScopeCache.put(scopeKey, scopes)
	}
	if err := checkScopeProtocols(s.ac.Spec.Scopes, scopes, realm); err != nil {
		return "", false, err
	}
	names := make([]string, 0, len(scopes))
	for n := range scopes {
		names = append(names, n)
	}
	want.DefaultClientScopes, want.OptionalClientScopes = desired.CreateScopes(requested, names)
	return scopeKey, cached, nil
}

// createdClient reads the client Keycloak created with id, or, if the
// create failed (err), says what that means: a conflict with a client of
// ours (returned as existing), someone else's, a realm gone.
func (r *AuthClientReconciler) createdClient(ctx context.Context, s *authClientScope, clientID, id string, err error) (created, existing *gocloak.Client, _ error) {
	ac, kc, realm := s.ac, s.kc, s.realm()
	switch {
	case keycloak.CreateOutcomeUnknown(err):
		// It exists (409), or may: the create timed out, lost its
		// connection, got a 5xx or a database failure, and Keycloak may
		// have stored it all the same (or an earlier attempt of ours, still
		// committing, did). Ours is adopted, someone else's refused.
		found, ferr := kc.FindClient(ctx, realm, clientID)
		switch {
		case keycloak.IsNotFound(ferr) && keycloak.IsConflict(err):
			return nil, nil, reconciler.Transient(authv1.ReasonClientIDConflict, "clientId %q in realm %q was taken while it was being created, and is gone again; checking again", clientID, realm)
		case keycloak.IsNotFound(ferr):
			// Not stored: the create's own (transient) error, retried with backoff.
			return nil, nil, err
		case ferr != nil:
			return nil, nil, ferr
		}
		if err := checkOwner(ac, found, realm); err != nil {
			return nil, nil, err
		}
		return nil, found, nil
	case keycloak.IsNotFound(err):
		return nil, nil, reconciler.Transient(authv1.ReasonAuthServerNotReady, "realm %q does not exist in Keycloak; waiting for AuthServer %s to recreate it", realm, authServerKey(ac))
	case err != nil:
		if !reconciler.Classify(err).Transient {
			// Keycloak answered that it refuses the client: there is none
			// for the ServiceAccount, which another claimant may take.
			ac.Status.ServiceAccount = ""
		}
		return nil, nil, err
	}
	if created, err = kc.GetClient(ctx, realm, id); err != nil {
		return nil, nil, err
	}
	return created, nil, nil
}

// governance is what the AuthClient's policies make of it: the effective
// settings, and the scopes it may have (those it asks for that the policies
// allow).
type governance struct {
	eff    policy.Effective
	scopes []string
	// keepMarker keeps the rotation marker on a client whose rotation
	// ended while its previous secret's grace period runs.
	keepMarker bool
	// secret is what this reconcile learnt of the Secret before creating
	// the client.
	secret *secretLookup
	// authViolation is the message of the policies' authentication
	// violations, "" when there are none: the Keycloak client is then
	// neither created nor switched to another authentication method.
	authViolation string
	// kept is set by reconcileClient when the Keycloak client keeps an
	// authentication other than the one asked for (authViolation).
	kept *desired.KeptAuthentication
	// plan is the Secret's data rendered for all but the client secret,
	// once per reconcile, before the Keycloak client is touched; nil when
	// the template does not render (planErr says why).
	plan    *desired.SecretPlan
	planErr error
	// claim records that a secretless client holds its ServiceAccount, or
	// refuses it (claimServiceAccount), once per reconcile; nil: nothing
	// to claim.
	claim func() error
}

// claimServiceAccount is called before the first Keycloak write that could
// enable the client for its ServiceAccount.
func (g governance) claimServiceAccount() error {
	if g.claim == nil {
		return nil
	}
	return g.claim()
}

func governed(ac *authv1.AuthClient, eff policy.Effective) governance {
	return governance{eff: eff, scopes: desired.GovernedScopes(ac.Spec.Scopes, eff.AllowedScopes)}
}

// realmScope is what the operator needs to know of a realm client scope.
type realmScope struct {
	id, protocol string
}

// scopeCache holds each realm's client scopes (keyed by AuthServer UID and
// realm: a realm deleted and created again under a new AuthServer is a new
// key) as the create path last read them. A miss reads them again; a
// created client that lacks a scope forgets the entry.
type scopeCache struct {
	mu sync.Mutex
	m  map[string]map[string]realmScope
}

// get returns the realm's scopes if every requested scope is among them.
func (c *scopeCache) get(key string, requested []string) (map[string]realmScope, bool) {
	if requested == nil {
		return map[string]realmScope{}, true // nothing to assign or check
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	scopes, ok := c.m[key]
	if !ok {
		return nil, false
	}
	for _, name := range requested {
		if _, found := scopes[name]; !found && name != "openid" {
			return nil, false
		}
	}
	return scopes, true
}

func (c *scopeCache) put(key string, scopes map[string]realmScope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[string]realmScope{}
	}
	c.m[key] = scopes
}

func (c *scopeCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// realmScopes returns the realm's client scopes by name, after creating the
// custom scopes the AuthClient asks for.
func (r *AuthClientReconciler) realmScopes(ctx context.Context, kc keycloak.Admin, realm string, requested []string) (map[string]realmScope, error) {
	out := map[string]realmScope{}
	if requested == nil {
		return out, nil
	}
	scopes, err := kc.ListClientScopes(ctx, realm)
	if err != nil {
		return nil, err
	}
	for _, s := range scopes {
		out[gocloak.PString(s.Name)] = realmScope{id: gocloak.PString(s.ID), protocol: gocloak.PString(s.Protocol)}
	}
	for _, name := range desired.CustomScopes(requested) {
		if out[name].id != "" {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Creating Keycloak client scope", "scope", name, "realm", realm)
		id, _, err := kc.EnsureClientScope(ctx, realm, desired.ClientScope(name))
		if err != nil {
			return nil, err
		}
		out[name] = realmScope{id: id, protocol: desired.ProtocolOIDC}
	}
	return out, nil
}

// checkScopeProtocols refuses requested scopes that exist in the realm for
// another protocol (SAML's role_list): Keycloak accepts assigning them to an
// OpenID Connect client (HTTP 204) and silently does nothing.
func checkScopeProtocols(requested []string, scopes map[string]realmScope, realm string) error {
	for i, name := range requested {
		if s, ok := scopes[name]; ok && s.protocol != "" && s.protocol != desired.ProtocolOIDC {
			return reconciler.Permanent(authv1.ReasonInvalidSpec,
				"spec.scopes[%d] %q is a %s client scope in realm %q; an OpenID Connect client cannot use it", i, name, s.protocol, realm)
		}
	}
	return nil
}

// applyScopes carries out a scope plan on the client with internal id, with
// the scopes the client may have (governance) as they are in the realm now.
func (r *AuthClientReconciler) applyScopes(ctx context.Context, s *authClientScope, id string, plan []desired.ScopeChange) error {
	kc, realm, requested := s.kc, s.realm(), s.gov.scopes
	scopes, err := r.realmScopes(ctx, kc, realm, requested)
	if err != nil {
		return err
	}
	if err := checkScopeProtocols(requested, scopes, realm); err != nil {
		return err
	}
	for _, p := range plan {
		scopeID := scopes[p.Name].id
		if scopeID == "" {
			return reconciler.Permanent(authv1.ReasonInvalidSpec, "client scope %q does not exist in realm %q", p.Name, realm)
		}
		kind := keycloak.DefaultScope
		if p.Optional {
			kind = keycloak.OptionalScope
		}
		if p.Add {
			err = kc.AddClientScope(ctx, realm, id, scopeID, kind)
		} else {
			err = kc.RemoveClientScope(ctx, realm, id, scopeID, kind)
		}
		if err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	return nil
}
