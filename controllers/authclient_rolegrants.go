package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// Role grants (spec.roleGrants): roles of other AuthClients (APIs) that
// this client's service account holds, with the target's consent
// (spec.roleGrantAccess). The rules are the audiences' (authclient_audience.go):
// resolved from the cache, one message for "does not exist or does not
// consent" across namespaces, the target's clientId checked to be its
// client in Keycloak, withdrawn grants removed first and also when the
// reconcile stops early (withdrawRoleGrants).

// roleGrantPendingRetry is how often a grant that waits for its target's
// Keycloak client or role is looked at again, besides the watch on the
// target and the target's kick once it restored a role (kickGrantees).
const roleGrantPendingRetry = 30 * time.Second

// indexRoleGrants indexes AuthClients by the AuthClients their
// spec.roleGrants name (namespace/name).
const indexRoleGrants = "spec.roleGrants"

// grantTarget is an AuthClient named in spec.roleGrants that lets this
// client hold some of its roles.
type grantTarget struct {
	key      types.NamespacedName
	clientID string
	// ready: the target is Ready for its current generation, so the
	// operator checked in this generation that it owns its Keycloak client.
	ready bool
	// stalled: the target is Stalled (its reason), so it will not get a
	// Keycloak client or roles before its owner acts.
	stalled string
	// roles are the roles asked for that it consents to and declares.
	roles []string
	// held are the roles its last reconcile found or made in Keycloak
	// (status.roles): one of them missing there was deleted since, and its
	// reconcile restores it.
	held []string
}

// roleGrants is what the roleGrants step works on: the targets that
// consent, and the grants that cannot be made, by reason.
type roleGrants struct {
	targets                                  []grantTarget
	notPermitted, notFound, stalled, pending []string
	// restore are the Ready targets whose Keycloak client or role, held
	// before, is gone from Keycloak: reconciled at once to restore it (they
	// then kick this client back), not left to their resync.
	restore []types.NamespacedName
	// err is a failed request (retried with backoff).
	err error
}

// failure is what to report, most serious first: a failed request, a
// refusal, a missing target or role, a target that is stuck (no retry: the
// watch on it brings this client back, as for audiences), a wait. nil-safe.
func (g *roleGrants) failure() error {
	if g == nil {
		return nil
	}
	if g.err != nil {
		return g.err
	}
	all := strings.Join(slices.Concat(g.notPermitted, g.notFound, g.stalled, g.pending), "; ")
	switch {
	case len(g.notPermitted) > 0:
		return reconciler.Permanent(authv1.ReasonRoleGrantNotPermitted, "%s", all)
	case len(g.notFound) > 0:
		return reconciler.Permanent(authv1.ReasonRoleNotFound, "%s", all)
	case len(g.stalled) > 0:
		return reconciler.Permanent(authv1.ReasonRoleGrantPending, "%s", all)
	case len(g.pending) > 0:
		return reconciler.Wait(authv1.ReasonRoleGrantPending, roleGrantPendingRetry, "%s", all)
	}
	return nil
}

// resolveRoleGrants reads the AuthClients ac names in spec.roleGrants
// (from the cache) and keeps those that exist, share ac's AuthServer and
// consent, with the roles they consent to and declare. It runs once per
// reconcile (the step or the early-exit withdrawal, whichever comes first).
func (r *AuthClientReconciler) resolveRoleGrants(ctx context.Context, s *authClientScope) (*roleGrants, error) {
	if s.grants != nil {
		return s.grants, nil
	}
	ac, g := s.ac, &roleGrants{}
	at := map[types.NamespacedName]int{}
	for i, grant := range ac.Spec.RoleGrants {
		key := grant.Client.In(ac.Namespace)
		target := ac
		if key != client.ObjectKeyFromObject(ac) {
			target = &authv1.AuthClient{}
			if err := r.Get(ctx, key, target); err != nil {
				if !apierrors.IsNotFound(err) {
					return nil, err
				}
				target = nil
			}
		}
		// Roles the AuthPolicies forbid are not granted (and taken away
		// from the service account); the policies step reports them.
		t, ok := g.admit(ac, target, key, fmt.Sprintf("spec.roleGrants[%d]", i), policy.AllowedGrantRoles(s.eff, ac, grant))
		if !ok {
			continue
		}
		if j, seen := at[key]; seen {
			g.targets[j].roles = append(g.targets[j].roles, t.roles...)
			continue
		}
		at[key] = len(g.targets)
		g.targets = append(g.targets, t)
	}
	s.grants = g
	return g, nil
}

// admit decides one grant of ac on target (nil: it does not exist),
// recording why what is refused is refused. Another namespace's
// AuthClient that is missing reads like one that does not consent, and a
// role it does not consent to like one it does not have: its objects are
// not this client's owner's to discover.
func (g *roleGrants) admit(ac, target *authv1.AuthClient, key types.NamespacedName, field string, roles []string) (grantTarget, bool) {
	exists := target != nil && target.DeletionTimestamp.IsZero()
	switch {
	case key.Namespace != ac.Namespace && (!exists || !desired.RoleGrantAccessible(target, ac.Namespace, ac.Name)):
		g.notPermitted = append(g.notPermitted, fmt.Sprintf(
			"%s: AuthClient %s does not exist or does not let this client hold its roles; its owner can allow it by adding namespace %q (or AuthClient %s/%s) to its spec.roleGrantAccess",
			field, key, ac.Namespace, ac.Namespace, ac.Name))
		return grantTarget{}, false
	case !exists:
		g.notFound = append(g.notFound, fmt.Sprintf("%s: AuthClient %s does not exist", field, key))
		return grantTarget{}, false
	case authServerKey(target) != authServerKey(ac):
		g.notPermitted = append(g.notPermitted, fmt.Sprintf(
			"%s: AuthClient %s belongs to AuthServer %s, not %s; roles can be granted only from a client of the same realm",
			field, key, authServerKey(target), authServerKey(ac)))
		return grantTarget{}, false
	}
	self := key == client.ObjectKeyFromObject(ac)
	t := grantTarget{key: key, clientID: target.EffectiveClientID(), ready: self || reconciler.IsReady(target), held: target.Status.Roles}
	if c := reconciler.FindReady(target); !self && c != nil && meta.IsStatusConditionTrue(target.Status.Conditions, authv1.StalledCondition) {
		t.stalled = c.Reason
	}
	for _, role := range roles {
		switch {
		case !desired.RoleGrantConsents(target, ac.Namespace, ac.Name, role):
			g.notPermitted = append(g.notPermitted, fmt.Sprintf(
				"%s: role %q of AuthClient %s does not exist or may not be granted to this client; its owner can allow it in its spec.roleGrantAccess.roles",
				field, role, key))
		case !desired.RoleDeclared(target, role):
			g.notFound = append(g.notFound, fmt.Sprintf("%s: AuthClient %s declares no role %q in its spec.roles", field, key, role))
		default:
			t.roles = append(t.roles, role)
		}
	}
	return t, true
}

// stepRoleGrants makes the service account's client-role mappings of the
// clients Nauthera manages exactly the granted roles. What cannot be
// granted, and a failed request, are reported once the rest is done: the
// client and its Secret do not wait for another client's roles.
func (r *AuthClientReconciler) stepRoleGrants(ctx context.Context, s *authClientScope) stepResult {
	if len(s.ac.Spec.RoleGrants) == 0 && len(s.ac.Status.RoleGrants) == 0 {
		// Never asked for: the service account's mappings are left alone
		// (and cost no request).
		return goOn()
	}
	g, err := r.resolveRoleGrants(ctx, s)
	if err != nil {
		return endWith(err)
	}
	g.err = r.reconcileRoleGrants(ctx, s, g)
	for _, key := range g.restore {
		r.kick(ctx, key)
	}
	return goOn()
}

// grantHeld is what the service account holds of one client: the
// client's internal id and the roles (with their ids).
type grantHeld struct {
	uuid  string
	roles []keycloak.Role
}

// names are the names of the roles held.
func (h grantHeld) names() []string {
	out := make([]string, 0, len(h.roles))
	for _, r := range h.roles {
		out = append(out, r.Name)
	}
	return out
}

// grantIO is one reconcile's view of the service account in Keycloak.
type grantIO struct {
	userID string
	// held are the mappings by clientId; managed the clientIds among them
	// (and among the targets) that are Nauthera's, with their internal id.
	held    map[string]grantHeld
	managed map[string]string
	// foreign are target clientIds whose Keycloak client is not theirs.
	foreign map[string]bool
	// want are the roles to hold by clientId; available the roles of
	// those clients that exist in Keycloak (for those with roles to add).
	want      map[string][]string
	available map[string]map[string]keycloak.Role
}

// reconcileRoleGrants reads the service account's mappings (two requests
// in steady state: its user and its mappings), and adds and removes what
// differs from the grants, removals first.
func (r *AuthClientReconciler) reconcileRoleGrants(ctx context.Context, s *authClientScope, g *roleGrants) error {
	ac, kc, realm := s.ac, s.kc, s.realm()
	if !gocloak.PBool(s.kcClient.ServiceAccountsEnabled) {
		noServiceAccount(ac, g)
		return nil
	}
	userID, err := kc.ServiceAccountUserID(ctx, realm, gocloak.PString(s.kcClient.ID))
	if keycloak.IsNotFound(err) {
		noServiceAccount(ac, g)
		return nil
	}
	if err != nil {
		return err
	}
	io := &grantIO{userID: userID, managed: map[string]string{}, foreign: map[string]bool{}, want: map[string][]string{}, available: map[string]map[string]keycloak.Role{}}
	if io.held, err = heldRoles(ctx, kc, realm, userID); err != nil {
		return err
	}
	recorded := desired.RecordedRoleGrants(ac.Status.RoleGrants)
	if err := r.verifyGrantTargets(ctx, s, g, io, recorded); err != nil {
		return err
	}
	if err := managedHolders(ctx, s, io, recorded); err != nil {
		return err
	}
	have := map[string][]string{}
	for id := range io.managed {
		have[id] = io.held[id].names()
	}
	plan := desired.PlanRoleGrants(io.want, have, recorded)
	if err := applyRoleGrants(ctx, s, io, plan); err != nil {
		return err
	}
	for _, ch := range plan {
		have[ch.ClientID] = slices.Concat(slices.DeleteFunc(have[ch.ClientID], func(r string) bool { return slices.Contains(ch.Remove, r) }), ch.Add)
	}
	ac.Status.RoleGrants = desired.RoleGrantsStatus(have)
	reportGrantDrift(ctx, s, g, plan)
	return nil
}

// noServiceAccount records that the Keycloak client has no service
// account to hold roles (the client_credentials grant is off: a policy
// forbids it). Admission refuses roleGrants without the grant in the spec.
func noServiceAccount(ac *authv1.AuthClient, g *roleGrants) {
	if len(ac.Spec.RoleGrants) > 0 {
		g.notPermitted = append(g.notPermitted,
			"spec.roleGrants: the Keycloak client has no service account (client_credentials is not among its effective grant types); no roles are granted")
	}
}

// heldRoles reads the client roles mapped directly to the user, by clientId.
func heldRoles(ctx context.Context, kc keycloak.Admin, realm, userID string) (map[string]grantHeld, error) {
	mappings, err := kc.ListUserClientRoleMappings(ctx, realm, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]grantHeld, len(mappings))
	for _, m := range mappings {
		out[m.ClientID] = grantHeld{uuid: m.ClientUUID, roles: m.Roles}
	}
	return out, nil
}

// verifyGrantTargets fills io.want with the roles of the targets whose
// Keycloak client is theirs and holds the roles. The owner is read from
// Keycloak unless the target is Ready for its current generation and the
// service account holds its roles as recorded (the operator checked it in
// this generation): steady state costs no read. A client's roles are read
// only when some are to be added.
func (r *AuthClientReconciler) verifyGrantTargets(ctx context.Context, s *authClientScope, g *roleGrants, io *grantIO, recorded map[string][]string) error {
	kc, realm := s.kc, s.realm()
	for _, t := range g.targets {
		if len(t.roles) == 0 {
			continue
		}
		h, isHeld := io.held[t.clientID]
		uuid := h.uuid
		if !t.ready || !isHeld || len(recorded[t.clientID]) == 0 {
			found, err := kc.FindClient(ctx, realm, t.clientID)
			switch {
			case keycloak.IsNotFound(err) && t.stalled != "":
				g.stalled = append(g.stalled, fmt.Sprintf("role grant AuthClient %s has no Keycloak client: it is stalled (%s); its roles are granted once it is Ready", t.key, t.stalled))
				continue
			case keycloak.IsNotFound(err) && t.ready && !t.self(s.ac):
				// Ready, so it had one: deleted in Keycloak since.
				g.pending = append(g.pending, fmt.Sprintf("role grant AuthClient %s: its Keycloak client was deleted in Keycloak; its roles are granted once it is created again", t.key))
				g.restore = append(g.restore, t.key)
				continue
			case keycloak.IsNotFound(err):
				g.pending = append(g.pending, fmt.Sprintf("role grant AuthClient %s has no Keycloak client yet; its roles are granted once it has", t.key))
				continue
			case err != nil:
				return err
			case desired.ClientOwner(found) != desired.Owner(t.key.Namespace, t.key.Name):
				g.notPermitted = append(g.notPermitted, fmt.Sprintf(
					"role grant AuthClient %s: clientId %q in realm %q is not its client; none of its roles are granted", t.key, t.clientID, realm))
				io.foreign[t.clientID] = true
				continue
			}
			uuid = gocloak.PString(found.ID)
		}
		io.managed[t.clientID] = uuid
		h.uuid = uuid
		roles, err := availableRoles(ctx, s, g, t, h)
		if err != nil {
			return err
		}
		io.want[t.clientID] = append(io.want[t.clientID], roles.names...)
		io.available[t.clientID] = roles.byName
	}
	return nil
}

// self tells whether t is ac itself (its roles are restored in the same
// reconcile, before its grants).
func (t grantTarget) self(ac *authv1.AuthClient) bool {
	return t.key == client.ObjectKeyFromObject(ac)
}

// grantRoles are the roles of a target that can be held, by name with
// their ids (for those not held yet).
type grantRoles struct {
	names  []string
	byName map[string]keycloak.Role
}

// availableRoles keeps the roles of t that the service account holds or
// that Keycloak has (read only when one is not held yet). A declared role
// Keycloak does not hold is pending while the target is not Ready (its
// roles may not be created yet), or when the Ready target held it
// (status.roles: deleted in Keycloak since; the target is kicked to
// restore it), else not found.
func availableRoles(ctx context.Context, s *authClientScope, g *roleGrants, t grantTarget, h grantHeld) (grantRoles, error) {
	out := grantRoles{byName: map[string]keycloak.Role{}}
	var missing []string
	for _, role := range t.roles {
		if slices.Contains(h.names(), role) {
			out.names = append(out.names, role)
		} else {
			missing = append(missing, role)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	all, err := s.kc.ListClientRoles(ctx, s.realm(), h.uuid)
	if err != nil {
		return out, err
	}
	for _, role := range missing {
		i := slices.IndexFunc(all, func(r keycloak.Role) bool { return r.Name == role })
		switch {
		case i >= 0:
			out.names = append(out.names, role)
			out.byName[role] = all[i]
		case t.ready && slices.Contains(t.held, role) && !t.self(s.ac):
			// Deleted in Keycloak since the target made it: its reconcile
			// restores it and then brings this client back (kickGrantees).
			g.pending = append(g.pending, fmt.Sprintf("role %q of AuthClient %s was deleted in Keycloak; it is granted once it is created again", role, t.key))
			if !slices.Contains(g.restore, t.key) {
				g.restore = append(g.restore, t.key)
			}
		case t.ready:
			g.notFound = append(g.notFound, fmt.Sprintf("role %q of AuthClient %s is in its spec.roles but not in Keycloak", role, t.key))
		case t.stalled != "":
			g.stalled = append(g.stalled, fmt.Sprintf("role %q of AuthClient %s is not in Keycloak: it is stalled (%s); it is granted once it is Ready", role, t.key, t.stalled))
		default:
			g.pending = append(g.pending, fmt.Sprintf("role %q of AuthClient %s is not in Keycloak yet; it is granted once it is", role, t.key))
		}
	}
	return out, nil
}

// managedHolders adds to io.managed the clients whose roles the service
// account holds that are Nauthera's: granted by this client before
// (status.roleGrants), or marked with an AuthClient owner (roles put there
// in the console). Roles of other clients (realm-management, say) are an
// administrator's and are left alone; their owner is read on every
// reconcile that finds them, since nothing records it.
func managedHolders(ctx context.Context, s *authClientScope, io *grantIO, recorded map[string][]string) error {
	for id, h := range io.held {
		if _, ok := io.managed[id]; ok || len(h.roles) == 0 {
			continue
		}
		if len(recorded[id]) > 0 {
			io.managed[id] = h.uuid
			continue
		}
		if io.foreign[id] {
			// A target whose clientId is not its client: not ours.
			continue
		}
		c, err := s.kc.GetClient(ctx, s.realm(), h.uuid)
		switch {
		case keycloak.IsNotFound(err):
			continue
		case err != nil:
			return err
		}
		if desired.ClientOwner(c) != "" {
			io.managed[id] = h.uuid
		}
	}
	return nil
}

// applyRoleGrants carries out the plan: every removal first (a grant
// whose consent was withdrawn leaves before anything is added), then the
// additions.
func applyRoleGrants(ctx context.Context, s *authClientScope, io *grantIO, plan []desired.RoleGrantChange) error {
	log := ctrl.LoggerFrom(ctx)
	for _, ch := range plan {
		if len(ch.Remove) == 0 {
			continue
		}
		roles := slices.DeleteFunc(slices.Clone(io.held[ch.ClientID].roles), func(r keycloak.Role) bool { return !slices.Contains(ch.Remove, r.Name) })
		log.Info("Removing roles from the service account", "clientId", s.ac.EffectiveClientID(), "of", ch.ClientID, "roles", ch.Remove)
		if err := s.kc.RemoveUserClientRoles(ctx, s.realm(), io.userID, io.managed[ch.ClientID], roles); err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	for _, ch := range plan {
		if len(ch.Add) == 0 {
			continue
		}
		roles := make([]keycloak.Role, 0, len(ch.Add))
		for _, name := range ch.Add {
			roles = append(roles, io.available[ch.ClientID][name])
		}
		log.Info("Granting roles to the service account", "clientId", s.ac.EffectiveClientID(), "of", ch.ClientID, "roles", ch.Add)
		if err := s.kc.AddUserClientRoles(ctx, s.realm(), io.userID, io.managed[ch.ClientID], roles); err != nil {
			return err
		}
	}
	return nil
}

// reportGrantDrift emits DriftReverted for mappings changed outside
// Nauthera. Roles are named only for clients this client may be granted
// roles of; of others only the number is told.
func reportGrantDrift(ctx context.Context, s *authClientScope, g *roleGrants, plan []desired.RoleGrantChange) {
	if s.recreated {
		// A new client's service account starts without roles: granting
		// them again is no console edit (ClientRecreated says what happened).
		return
	}
	nameable := map[string]bool{}
	for _, t := range g.targets {
		nameable[t.clientID] = true
	}
	var parts []string
	others := 0
	for _, ch := range plan {
		switch {
		case len(ch.Drift) == 0:
		case nameable[ch.ClientID]:
			parts = append(parts, fmt.Sprintf("%s (%s)", ch.ClientID, strings.Join(ch.Drift, ", ")))
		default:
			others += len(ch.Drift)
		}
	}
	if others > 0 {
		parts = append(parts, fmt.Sprintf("%d role(s) of other clients removed", others))
	}
	if len(parts) == 0 {
		return
	}
	s.rep.Event(ctx, s.ac, corev1.EventTypeWarning, authv1.ReasonDriftReverted,
		"service-account role mappings changed in Keycloak were reverted: "+strings.Join(parts, "; "))
}

// withdrawRoleGrants takes out of the service account the roles it holds
// (status.roleGrants) that are no longer granted or consented to, on the
// paths that stop before the role grants are brought into line: whatever
// else fails, roles whose owner withdrew leave the tokens. It reads
// Keycloak only when something was withdrawn.
func (r *AuthClientReconciler) withdrawRoleGrants(ctx context.Context, s *authClientScope) error {
	ac := s.ac
	if len(ac.Status.RoleGrants) == 0 {
		return nil
	}
	g, err := r.resolveRoleGrants(ctx, s)
	if err != nil {
		return err
	}
	keep, err := r.keptOnWithdraw(ctx, s, g)
	if err != nil {
		return err
	}
	gone := map[string][]string{}
	for _, rg := range ac.Status.RoleGrants {
		for _, role := range rg.Roles {
			if !slices.Contains(keep[rg.ClientID], role) {
				gone[rg.ClientID] = append(gone[rg.ClientID], role)
			}
		}
	}
	if len(gone) == 0 {
		return nil
	}
	kc, realm := s.kc, s.realm()
	actual, err := kc.FindClient(ctx, realm, ac.EffectiveClientID())
	switch {
	case keycloak.IsNotFound(err):
		ac.Status.RoleGrants = nil
		return nil
	case err != nil:
		return err
	case desired.ClientOwner(actual) != desired.Owner(ac.Namespace, ac.Name):
		return nil
	}
	userID, err := kc.ServiceAccountUserID(ctx, realm, gocloak.PString(actual.ID))
	if keycloak.IsNotFound(err) {
		ac.Status.RoleGrants = nil
		return nil
	}
	if err != nil {
		return err
	}
	held, err := heldRoles(ctx, kc, realm, userID)
	if err != nil {
		return err
	}
	return removeWithdrawn(ctx, s, userID, held, gone)
}

// keptOnWithdraw are the roles (by clientId) the early-exit withdrawal
// leaves to the service account: those of consenting targets whose
// Keycloak client is theirs. Consent alone is not enough: an AuthClient of
// the grantee's own namespace (which consents implicitly) may name another
// team's clientId in its spec.clientId, and must not keep that client's
// roles in the tokens after their owner withdrew. A target Ready for its
// current generation had its Keycloak client checked by the operator; any
// other target's owner is read from Keycloak, and only when it would keep
// a role the service account was granted (status.roleGrants).
func (r *AuthClientReconciler) keptOnWithdraw(ctx context.Context, s *authClientScope, g *roleGrants) (map[string][]string, error) {
	recorded := desired.RecordedRoleGrants(s.ac.Status.RoleGrants)
	keep := map[string][]string{}
	for _, t := range g.targets {
		keeps := slices.ContainsFunc(t.roles, func(role string) bool { return slices.Contains(recorded[t.clientID], role) })
		if !keeps {
			continue
		}
		if ok, err := ownsClientID(ctx, s, t.key, t.clientID, t.ready); err != nil {
			return nil, err
		} else if ok {
			keep[t.clientID] = append(keep[t.clientID], t.roles...)
		}
	}
	return keep, nil
}

// removeWithdrawn removes the gone roles (by clientId) that the service
// account holds, and drops them from status.roleGrants.
func removeWithdrawn(ctx context.Context, s *authClientScope, userID string, held map[string]grantHeld, gone map[string][]string) error {
	recorded := desired.RecordedRoleGrants(s.ac.Status.RoleGrants)
	for id, roles := range gone {
		h := held[id]
		drop := slices.DeleteFunc(slices.Clone(h.roles), func(r keycloak.Role) bool { return !slices.Contains(roles, r.Name) })
		if len(drop) > 0 {
			ctrl.LoggerFrom(ctx).Info("Removing withdrawn roles from the service account", "clientId", s.ac.EffectiveClientID(), "of", id, "count", len(drop))
			if err := s.kc.RemoveUserClientRoles(ctx, s.realm(), userID, h.uuid, drop); err != nil && !keycloak.IsNotFound(err) {
				return err
			}
		}
		recorded[id] = slices.DeleteFunc(recorded[id], func(r string) bool { return slices.Contains(roles, r) })
	}
	s.ac.Status.RoleGrants = desired.RoleGrantsStatus(recorded)
	return nil
}

// roleGrantIndex lists the namespace/name of each AuthClient an
// AuthClient names in spec.roleGrants.
func roleGrantIndex(o client.Object) []string {
	ac := o.(*authv1.AuthClient)
	out := make([]string, 0, len(ac.Spec.RoleGrants))
	for _, g := range ac.Spec.RoleGrants {
		if k := g.Client.In(ac.Namespace).String(); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// roleGrantSourcesOf maps an AuthClient to the AuthClients that name it
// in their spec.roleGrants.
func (r *AuthClientReconciler) roleGrantSourcesOf(ctx context.Context, o client.Object) []reconcile.Request {
	return reconciler.Requests(r.clientsIndexed(ctx, indexRoleGrants, client.ObjectKeyFromObject(o).String()))
}

// roleGrantTargetChanged passes the events of an AuthClient that the
// clients granted its roles depend on: those of an audience (creation,
// deletion, a spec change such as its roleGrantAccess or roles, its
// readiness) and a change of the roles Keycloak holds for it (status.roles).
// A role the target restored in Keycloak changes none of them: the target
// kicks its grantees itself (kickGrantees).
var roleGrantTargetChanged = predicate.Funcs{
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		if audienceTargetChanged.Update(e) {
			return true
		}
		o, ok1 := e.ObjectOld.(*authv1.AuthClient)
		n, ok2 := e.ObjectNew.(*authv1.AuthClient)
		return !ok1 || !ok2 || !slices.Equal(o.Status.Roles, n.Status.Roles)
	},
}

// releaseRoleGrants removes from the service account of an orphaned
// Keycloak client (actual) the roles Nauthera granted it
// (status.roleGrants): the client lives on without its AuthClient, so
// nobody could take them back when their owners withdraw consent.
func releaseRoleGrants(ctx context.Context, ac *authv1.AuthClient, kc keycloak.Admin, realm string, actual *gocloak.Client) error {
	if len(ac.Status.RoleGrants) == 0 {
		return nil
	}
	userID, err := kc.ServiceAccountUserID(ctx, realm, gocloak.PString(actual.ID))
	if keycloak.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	held, err := heldRoles(ctx, kc, realm, userID)
	if err != nil {
		return err
	}
	for _, rg := range ac.Status.RoleGrants {
		h := held[rg.ClientID]
		drop := slices.DeleteFunc(slices.Clone(h.roles), func(r keycloak.Role) bool { return !slices.Contains(rg.Roles, r.Name) })
		if len(drop) == 0 {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Removing granted roles from the orphaned client's service account", "clientId", ac.EffectiveClientID(), "of", rg.ClientID, "count", len(drop))
		if err := kc.RemoveUserClientRoles(ctx, realm, userID, h.uuid, drop); err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	return nil
}
