package controllers

import (
	"context"
	"fmt"
	"slices"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// stepRoles makes the Keycloak client's roles exactly spec.roles: missing
// ones created, descriptions and owner markers restored, the others (added
// in the console, or removed from the spec) deleted. spec.roles omitted:
// the roles are neither read nor touched, so hand-made roles of clients
// made before spec.roles existed survive an upgrade.
//
// Cost: one list per reconcile, plus one write per role that differs (no
// read-back: Keycloak stores a role as sent). The list is not skipped in
// steady state: a resync is how console edits are found, and nothing else
// tells the operator that a role changed in Keycloak.
//
// A failure does not stop the chain (the client and its Secret do not
// depend on its roles): it is the reconcile's finding (rolesErr), retried
// with backoff when Keycloak is unavailable.
func (r *AuthClientReconciler) stepRoles(ctx context.Context, s *authClientScope) stepResult {
	ac := s.ac
	if ac.Spec.Roles == nil {
		ac.Status.Roles = nil
		return goOn()
	}
	realm, id := s.realm(), gocloak.PString(s.kcClient.ID)
	actual, err := s.kc.ListClientRoles(ctx, realm, id)
	if err != nil {
		s.rolesErr = fmt.Errorf("reading the client roles: %w", err)
		return goOn()
	}
	plan := desired.PlanRoles(ac, actual)
	// Drift is a difference found while the spec's generation was already
	// in place; after a spec change the writes are the change itself.
	drifted := ac.Status.ObservedGeneration == ac.Generation && reconciler.IsReady(ac)
	before := ac.Status.Roles
	done, err := applyRoles(ctx, s.kc, realm, id, plan)
	s.rolesErr = err
	ac.Status.Roles = desired.HeldRoles(actual, plan, func(name string) bool { return done[name] })
	if restored(plan, done, before) {
		r.kickGrantees(ctx, ac)
	}
	if s.rolesErr == nil && drifted && !plan.Empty() {
		s.rep.Event(ctx, ac, corev1.EventTypeWarning, authv1.ReasonDriftReverted, desired.RoleDriftMessage(ac.EffectiveClientID(), plan))
	}
	return goOn()
}

// applyRoles writes plan: deletions first (a role taken away leaves new
// tokens before anything else can fail), then updates, creations, and
// the composites added in the console taken out.
// It returns, by name, each write that took effect, and stops at the first
// failure, which names the role.
func applyRoles(ctx context.Context, kc keycloak.Admin, realm, id string, plan desired.RolePlan) (map[string]bool, error) {
	log := ctrl.LoggerFrom(ctx)
	done := map[string]bool{}
	for _, role := range plan.Delete {
		log.Info("Deleting client role", "role", role.Name)
		if err := kc.DeleteClientRole(ctx, realm, id, role); err != nil && !keycloak.IsNotFound(err) {
			return done, roleError("deleting", role.Name, err)
		}
		done[role.Name] = true
	}
	for _, fix := range plan.Update {
		log.Info("Updating client role", "role", fix.Role.Name, "fields", fix.What)
		if err := kc.UpdateClientRole(ctx, realm, id, fix.Role); err != nil {
			return done, roleError("updating", fix.Role.Name, err)
		}
		done[fix.Role.Name] = true
	}
	for _, role := range plan.Create {
		log.Info("Creating client role", "role", role.Name)
		if err := kc.CreateClientRole(ctx, realm, id, role); err != nil {
			return done, roleError("creating", role.Name, err)
		}
		done[role.Name] = true
	}
	for _, role := range plan.Decompose {
		log.Info("Removing the roles included in a client role", "role", role.Name)
		if err := kc.RemoveRoleComposites(ctx, realm, role.ID); err != nil {
			return done, roleError("removing the roles included in", role.Name, err)
		}
	}
	return done, nil
}

// roleError names the role a write failed for. A role created or deleted
// by someone else between the list and the write (a conflict on create, a
// role gone on update) is a race the next reconcile settles: retried with
// backoff, not reported as a rejected spec.
func roleError(verb, name string, err error) error {
	if keycloak.IsConflict(err) || keycloak.IsNotFound(err) {
		return reconciler.Transient(authv1.ReasonProgressing, "client role %q changed in Keycloak while %s it; its roles are read again", name, verb)
	}
	return fmt.Errorf("%s client role %q: %w", verb, name, err)
}

// restored tells whether this reconcile created again a role held before
// (status.roles): it was deleted in Keycloak, and the mappings of the
// service accounts granted it went with it. (A role deleted and made again
// by someone else is found from its admin events: driftwatch.go.)
func restored(plan desired.RolePlan, done map[string]bool, before []string) bool {
	for _, role := range plan.Create {
		if done[role.Name] && slices.Contains(before, role.Name) {
			return true
		}
	}
	return false
}

// kickGrantees re-reconciles the AuthClients granted roles of ac
// (spec.roleGrants) once ac restored a role in Keycloak. A grantee that
// ran while the role was missing is waiting for it (RoleGrantPending); the
// target's status is unchanged, so the watch on it does not bring the
// grantee back.
func (r *AuthClientReconciler) kickGrantees(ctx context.Context, ac *authv1.AuthClient) {
	for _, g := range r.clientsIndexed(ctx, indexRoleGrants, client.ObjectKeyFromObject(ac).String()) {
		if g.Namespace == ac.Namespace && g.Name == ac.Name {
			continue
		}
		r.kick(ctx, client.ObjectKeyFromObject(&g))
	}
}

// kick reconciles another AuthClient soon (no-op before SetupWithManager).
// The buffered channel is drained by the controller's source on its own
// goroutine, so a reconcile waits at most for that.
func (r *AuthClientReconciler) kick(ctx context.Context, key types.NamespacedName) {
	if r.granteeKicks == nil {
		return
	}
	select {
	case r.granteeKicks <- event.TypedGenericEvent[driftKick]{Object: driftKick{key: key}}:
	case <-ctx.Done():
	}
}
