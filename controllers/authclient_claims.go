package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// stepClaims brings the client's claim mappers (spec.claims) into line with
// the protocol mappers Keycloak holds, which come with the client just read:
// nothing is read for it, and nothing is written while they match. Mappers
// Nauthera did not create are left alone and listed in
// status.unmanagedMappers. A claim that cannot have a mapper is reported
// (ClaimInvalid) once the rest is done; the others are in force.
func (r *AuthClientReconciler) stepClaims(ctx context.Context, s *authClientScope) stepResult {
	ac := s.ac
	granted, err := r.grantedClientIDs(ctx, ac)
	if err != nil {
		return endWith(err)
	}
	want, problems := desired.ClaimMappers(desired.ClaimsInput{
		Namespace: ac.Namespace, Name: ac.Name, ClientID: ac.EffectiveClientID(),
		Claims: allowedClaims(s.eff, ac.Spec.Claims), RoleGrants: ac.Spec.RoleGrants, GrantedClientIDs: granted,
	})
	plan := desired.PlanClaims(want, s.kcClient.ProtocolMappers)
	r.reportUnmanaged(ctx, s, plan.Unmanaged)
	if err := r.applyClaims(ctx, s, plan); err != nil {
		if reconciler.Classify(err).Transient {
			return endWith(err)
		}
		// Keycloak refused a mapper: the client and its Secret are kept
		// right all the same.
		s.claimsErr = err
		return goOn()
	}
	ac.Status.Claims = nil
	for _, w := range want {
		ac.Status.Claims = append(ac.Status.Claims, w.Claim)
	}
	if len(problems) > 0 {
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			msgs = append(msgs, p.String())
		}
		s.claimsErr = reconciler.Permanent(authv1.ReasonClaimInvalid, "%s", strings.Join(msgs, "; "))
	}
	return goOn()
}

// grantedClientIDs are the clientIds of the clients that ClientRoles claims
// name and that are clients of the same AuthServer (from the cache): the
// clientId in their status, which Nauthera provisioned and owns, never one
// a spec merely asks for (an AuthClient refused with ClientIdConflict must
// not point a claim at someone else's client). Whether they consent to the
// grant is the grant's business: a client-roles mapper lists only roles
// the user holds.
func (r *AuthClientReconciler) grantedClientIDs(ctx context.Context, ac *authv1.AuthClient) (map[types.NamespacedName]string, error) {
	out := map[types.NamespacedName]string{}
	for _, c := range ac.Spec.Claims {
		if c.ClientRoles == nil || c.ClientRoles.Client == nil {
			continue
		}
		key := c.ClientRoles.Client.In(ac.Namespace)
		if _, done := out[key]; done {
			continue
		}
		target := &authv1.AuthClient{}
		if err := r.Get(ctx, key, target); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		if target.DeletionTimestamp.IsZero() && authServerKey(target) == authServerKey(ac) && target.Status.ClientID != "" {
			out[key] = target.Status.ClientID
		}
	}
	return out, nil
}

// reportUnmanaged lists the client's mappers Nauthera did not create in
// status.unmanagedMappers, with a Normal Event for those not listed before
// (once, not on every reconcile).
func (r *AuthClientReconciler) reportUnmanaged(ctx context.Context, s *authClientScope, names []string) {
	var fresh []string
	for _, n := range names {
		if !slices.Contains(s.ac.Status.UnmanagedMappers, n) {
			fresh = append(fresh, n)
		}
	}
	s.ac.Status.UnmanagedMappers = names
	if len(fresh) == 0 {
		return
	}
	s.rep.Event(ctx, s.ac, corev1.EventTypeNormal, authv1.ReasonUnmanagedMapper, fmt.Sprintf(
		"Keycloak client %q has protocol mappers Nauthera did not create: %s; they are left alone (status.unmanagedMappers)",
		s.ac.EffectiveClientID(), quoteAll(fresh)))
}

// applyClaims carries out a claim plan: removals first (a claim taken out
// of the spec leaves the tokens before anything else can fail), then
// console edits reverted, then new mappers. A change to a client that was
// Ready for this generation is drift: a Warning Event names the mappers.
func (r *AuthClientReconciler) applyClaims(ctx context.Context, s *authClientScope, plan desired.ClaimPlan) error {
	if plan.Empty() {
		return nil
	}
	ac, kc, realm, id := s.ac, s.kc, s.realm(), gocloak.PString(s.kcClient.ID)
	drifted := ac.Status.ObservedGeneration == ac.Generation && reconciler.IsReady(ac)
	log := ctrl.LoggerFrom(ctx)
	log.Info("Changing claim mappers of Keycloak client", "clientId", ac.EffectiveClientID(),
		"add", desired.MapperNames(plan.Add), "restore", desired.MapperNames(plan.Fix), "remove", desired.MapperNames(plan.Remove))
	for _, m := range plan.Remove {
		if err := kc.DeleteClientMapper(ctx, realm, id, gocloak.PString(m.ID)); err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	for _, m := range plan.Fix {
		if err := kc.UpdateClientMapper(ctx, realm, id, m); err != nil {
			return err
		}
	}
	for _, m := range plan.Add {
		// A create whose outcome was unknown needs no look-up here: the
		// next reconcile reads the client and plans from what it holds.
		if err := kc.CreateClientMapper(ctx, realm, id, m); err != nil {
			return err
		}
	}
	if d := claimDrift(plan, ac.Status.Claims); drifted && !d.Empty() {
		s.rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonClaimDriftReverted, fmt.Sprintf(
			"Reverted changes made in Keycloak to the claim mappers of client %q: %s", ac.EffectiveClientID(), claimChanges(d)))
	}
	return nil
}

// claimDrift is the part of a plan that undoes changes made in Keycloak:
// mappers restored, mappers of claims in force (inForce, status.claims)
// created again, mappers removed to be created again with their type.
// Mappers that follow the spec or a granted client's arrival are not drift.
func claimDrift(plan desired.ClaimPlan, inForce []string) desired.ClaimPlan {
	d := desired.ClaimPlan{Fix: plan.Fix}
	added := map[string]bool{}
	for _, m := range plan.Add {
		name := gocloak.PString(m.Name)
		added[name] = true
		if slices.ContainsFunc(inForce, func(c string) bool { return desired.ClaimMapperName(c) == name }) {
			d.Add = append(d.Add, m)
		}
	}
	for _, m := range plan.Remove {
		if added[gocloak.PString(m.Name)] {
			d.Remove = append(d.Remove, m)
		}
	}
	return d
}

// claimChanges describes a plan for an Event.
func claimChanges(plan desired.ClaimPlan) string {
	var parts []string
	if len(plan.Fix) > 0 {
		parts = append(parts, "restored "+quoteAll(desired.MapperNames(plan.Fix)))
	}
	if len(plan.Add) > 0 {
		parts = append(parts, "recreated "+quoteAll(desired.MapperNames(plan.Add)))
	}
	if len(plan.Remove) > 0 {
		parts = append(parts, "removed "+quoteAll(desired.MapperNames(plan.Remove)))
	}
	return strings.Join(parts, "; ")
}

func quoteAll(names []string) string {
	q := make([]string, 0, len(names))
	for _, n := range names {
		q = append(q, fmt.Sprintf("%q", n))
	}
	return strings.Join(q, ", ")
}

// allowedClaims are the claims of spec.claims that the AuthPolicies let the
// client have: a forbidden claim gets no mapper (and loses the one it had),
// as a forbidden grant type is switched off; the violation itself is
// reported by the policies step (PolicyViolation naming the field).
func allowedClaims(eff policy.Effective, claims []authv1.Claim) []authv1.Claim {
	var out []authv1.Claim
	for _, c := range claims {
		if policy.AllowedClaim(eff, c) {
			out = append(out, c)
		}
	}
	return out
}
