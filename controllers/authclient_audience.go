package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
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
)

// audiencePendingRetry is how often an audience that waits for its target's
// Keycloak client is looked at again, besides the watch on the target.
const audiencePendingRetry = 30 * time.Second

// audienceTarget is an AuthClient named in spec.audiences that consents.
type audienceTarget struct {
	key      types.NamespacedName
	clientID string
	// ready: the target is Ready for its current generation, so the
	// operator checked in this generation that it owns its Keycloak client.
	ready bool
	// stalled: the target is Stalled (its reason), so it will not get a
	// Keycloak client before its owner acts.
	stalled string
}

// audienceProblems are the audiences that cannot be added, by reason.
type audienceProblems struct {
	notPermitted, notFound, stalled, pending []string
}

// err is the failure to report for the problems, most serious first: a
// refusal, a missing target, a target that is stuck, a target still
// without a Keycloak client (a wait, looked at again when the target's
// readiness changes, and every audiencePendingRetry).
func (p *audienceProblems) err() error {
	all := strings.Join(slices.Concat(p.notPermitted, p.notFound, p.stalled, p.pending), "; ")
	switch {
	case len(p.notPermitted) > 0:
		return reconciler.Permanent(authv1.ReasonAudienceNotPermitted, "%s", all)
	case len(p.notFound) > 0:
		return reconciler.Permanent(authv1.ReasonAudienceNotFound, "%s", all)
	case len(p.stalled) > 0:
		// Not a wait: the target needs its owner; its watch brings this
		// client back when it is Ready.
		return reconciler.Permanent(authv1.ReasonAudiencePending, "%s", all)
	case len(p.pending) > 0:
		return reconciler.Wait(authv1.ReasonAudiencePending, audiencePendingRetry, "%s", all)
	}
	return nil
}

// audienceKey is the namespace/name an audience reference of ac names.
func audienceKey(ac *authv1.AuthClient, ref authv1.ObjectReference) types.NamespacedName {
	return ref.In(ac.Namespace)
}

// resolveAudiences reads the AuthClients ac names as audiences (from the
// cache) and keeps those that exist, share ac's AuthServer and consent.
func (r *AuthClientReconciler) resolveAudiences(ctx context.Context, ac *authv1.AuthClient, problems *audienceProblems) ([]audienceTarget, error) {
	var out []audienceTarget
	seen := map[types.NamespacedName]bool{}
	for i, ref := range ac.Spec.Audiences {
		key := audienceKey(ac, ref)
		if seen[key] {
			continue
		}
		seen[key] = true
		field := fmt.Sprintf("spec.audiences[%d]", i)
		if key == client.ObjectKeyFromObject(ac) {
			// Its own clientId: the client's tokens name itself.
			out = append(out, audienceTarget{key: key, clientID: ac.EffectiveClientID(), ready: true})
			continue
		}
		target := &authv1.AuthClient{}
		if err := r.Get(ctx, key, target); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, err
			}
			target = nil
		}
		exists := target != nil && target.DeletionTimestamp.IsZero()
		sameNamespace := key.Namespace == ac.Namespace
		switch {
		case !sameNamespace && (!exists || !desired.AudienceConsents(target, ac.Namespace, ac.Name)):
			// One message for both: another namespace's AuthClients are
			// not this client's owner's to discover.
			problems.notPermitted = append(problems.notPermitted, fmt.Sprintf(
				"%s: AuthClient %s does not exist or does not accept tokens issued to this client; its owner can allow it by adding namespace %q (or AuthClient %s/%s) to its spec.audienceAccess",
				field, key, ac.Namespace, ac.Namespace, ac.Name))
		case !exists:
			problems.notFound = append(problems.notFound, fmt.Sprintf("%s: AuthClient %s does not exist", field, key))
		case authServerKey(target) != authServerKey(ac):
			problems.notPermitted = append(problems.notPermitted, fmt.Sprintf(
				"%s: AuthClient %s belongs to AuthServer %s, not %s; an audience must be a client of the same realm",
				field, key, authServerKey(target), authServerKey(ac)))
		default:
			t := audienceTarget{key: key, clientID: target.EffectiveClientID(), ready: reconciler.IsReady(target)}
			if meta.IsStatusConditionTrue(target.Status.Conditions, authv1.StalledCondition) {
				if c := reconciler.FindReady(target); c != nil {
					t.stalled = c.Reason
				}
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// verifiedAudiences returns the clientIds of the targets whose Keycloak
// client is theirs: a clientId put into tokens must be the client the
// consenting AuthClient holds, not a client of that name someone else
// created (an AuthClient refused with ClientIdConflict). The owner is read
// from Keycloak for an audience the client (actual, nil before it exists)
// does not have yet, and for one whose target is not Ready for its current
// generation; an audience the client has whose target is Ready (the
// operator checked its ownership in this generation) costs no read, so
// steady state costs none.
func (r *AuthClientReconciler) verifiedAudiences(ctx context.Context, s *authClientScope, actual *gocloak.Client) ([]string, error) {
	ac, kc, realm, targets, problems := s.ac, s.kc, s.realm(), s.audiences, s.problems
	var have []string
	if actual != nil {
		have = desired.AudiencesOf(*actual)
	}
	var out []string
	add := func(id string) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, t := range targets {
		if t.key == client.ObjectKeyFromObject(ac) || (t.ready && slices.Contains(have, t.clientID)) {
			add(t.clientID)
			continue
		}
		found, err := kc.FindClient(ctx, realm, t.clientID)
		switch {
		case keycloak.IsNotFound(err) && t.stalled != "":
			problems.stalled = append(problems.stalled, fmt.Sprintf("audience AuthClient %s has no Keycloak client: it is stalled (%s); its clientId is added once it is Ready", t.key, t.stalled))
			continue
		case keycloak.IsNotFound(err):
			problems.pending = append(problems.pending, fmt.Sprintf("audience AuthClient %s has no Keycloak client yet; its clientId is added once it has", t.key))
			continue
		case err != nil:
			return nil, err
		}
		if owner := desired.ClientOwner(found); owner != desired.Owner(t.key.Namespace, t.key.Name) {
			problems.notPermitted = append(problems.notPermitted, fmt.Sprintf(
				"audience AuthClient %s: clientId %q in realm %q is not its client; it is not put into this client's tokens", t.key, t.clientID, realm))
			continue
		}
		add(t.clientID)
	}
	return out, nil
}

// withdrawAudiences takes out of the Keycloak client the audiences it has
// (status.audiences) that are no longer kept (keptOnAudienceWithdraw), on
// the paths that stop before the client is brought into line (a policy
// conflict, a broken Secret template): whatever else fails, a clientId
// whose owner withdrew stays out of the tokens. It reads the client from
// Keycloak only when something was withdrawn.
func (r *AuthClientReconciler) withdrawAudiences(ctx context.Context, s *authClientScope) error {
	ac, kc, realm := s.ac, s.kc, s.realm()
	keep, err := keptOnAudienceWithdraw(ctx, s)
	if err != nil {
		return err
	}
	var gone []string
	for _, id := range ac.Status.Audiences {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	actual, err := kc.FindClient(ctx, realm, ac.EffectiveClientID())
	switch {
	case keycloak.IsNotFound(err):
		ac.Status.Audiences = nil
		return nil
	case err != nil:
		return err
	case desired.ClientOwner(actual) != desired.Owner(ac.Namespace, ac.Name):
		return nil
	}
	var stay []string
	for _, id := range desired.AudiencesOf(*actual) {
		if !slices.Contains(gone, id) {
			stay = append(stay, id)
		}
	}
	plan := desired.PlanAudiences(stay, *actual)
	ctrl.LoggerFrom(ctx).Info("Removing withdrawn audiences from Keycloak client", "clientId", ac.EffectiveClientID(), "count", len(plan.Remove))
	if err := applyAudiences(ctx, kc, realm, gocloak.PString(actual.ID), desired.AudiencePlan{Remove: plan.Remove}); err != nil {
		return err
	}
	ac.Status.Audiences = stay
	return nil
}

// keptOnAudienceWithdraw are the clientIds of status.audiences the
// early-exit withdrawal leaves in the tokens: those of consenting targets
// whose Keycloak client is theirs. Consent alone is not enough: an
// AuthClient of the client's own namespace (which consents implicitly) may
// name another team's clientId in its spec.clientId, and must not keep that
// clientId in the tokens after its owner withdrew. A target Ready for its
// current generation had its Keycloak client checked by the operator; any
// other target's owner is read from Keycloak, and only when its clientId is
// in status.audiences, so steady state costs no read.
func keptOnAudienceWithdraw(ctx context.Context, s *authClientScope) (map[string]bool, error) {
	keep := map[string]bool{}
	for _, t := range s.audiences {
		if keep[t.clientID] || !slices.Contains(s.ac.Status.Audiences, t.clientID) {
			continue
		}
		if ok, err := ownsClientID(ctx, s, t.key, t.clientID, t.ready); err != nil {
			return nil, err
		} else if ok {
			keep[t.clientID] = true
		}
	}
	return keep, nil
}

// ownsClientID says whether the AuthClient key owns the Keycloak client
// clientID: a target Ready for its current generation had its client
// checked by the operator (no request); any other's owner marker is read
// from Keycloak (a missing client owns nothing). Shared by the early-exit
// withdrawals of audiences and role grants.
func ownsClientID(ctx context.Context, s *authClientScope, key types.NamespacedName, clientID string, ready bool) (bool, error) {
	if ready {
		return true, nil
	}
	found, err := s.kc.FindClient(ctx, s.realm(), clientID)
	switch {
	case keycloak.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return desired.ClientOwner(found) == desired.Owner(key.Namespace, key.Name), nil
}

// applyAudiences carries out an audience plan on the client with internal id.
func applyAudiences(ctx context.Context, kc keycloak.Admin, realm, id string, plan desired.AudiencePlan) error {
	for _, mapperID := range plan.Remove {
		if err := kc.DeleteClientMapper(ctx, realm, id, mapperID); err != nil && !keycloak.IsNotFound(err) {
			return err
		}
	}
	for _, m := range plan.Fix {
		if err := kc.UpdateClientMapper(ctx, realm, id, m); err != nil {
			return err
		}
	}
	for _, clientID := range plan.Add {
		m := desired.AudienceMapper(clientID)
		err := kc.CreateClientMapper(ctx, realm, id, m)
		if err != nil && keycloak.CreateOutcomeUnknown(err) {
			// Stored all the same (a timeout, a 5xx or a database failure
			// after Keycloak wrote it, or an earlier attempt of ours)? Our
			// mapper, with its type and settings as we make them, is
			// carried on with; anything else is left to the next plan.
			stored, ferr := hasMapper(ctx, kc, realm, id, clientID)
			if ferr != nil {
				return ferr
			}
			if stored {
				continue
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hasMapper reports whether the client with internal id has the managed
// audience mapper for audience exactly as desired.AudienceMapper makes it.
func hasMapper(ctx context.Context, kc keycloak.Admin, realm, id, audience string) (bool, error) {
	cl, err := kc.GetClient(ctx, realm, id)
	if err != nil {
		return false, err
	}
	return desired.HasAudienceMapper(*cl, audience), nil
}

// audienceChanges describes a plan for logs and Events.
func audienceChanges(plan desired.AudiencePlan) []string {
	var out []string
	for _, id := range plan.Add {
		out = append(out, "add "+id)
	}
	for _, m := range plan.Fix {
		out = append(out, "restore "+m.Config["included.client.audience"])
	}
	if n := len(plan.Remove); n > 0 {
		out = append(out, fmt.Sprintf("remove %d", n))
	}
	return out
}

// audienceSourcesOf maps an AuthClient to the AuthClients that name it in
// their spec.audiences.
func (r *AuthClientReconciler) audienceSourcesOf(ctx context.Context, o client.Object) []reconcile.Request {
	return reconciler.Requests(r.clientsIndexed(ctx, indexAudiences, client.ObjectKeyFromObject(o).String()))
}

// audienceTargetChanged passes the events of an AuthClient that the clients
// naming it as an audience depend on: its creation and deletion, a spec
// change (its audienceAccess) and its readiness (its Keycloak client exists).
var audienceTargetChanged = predicate.Funcs{
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*authv1.AuthClient)
		n, ok2 := e.ObjectNew.(*authv1.AuthClient)
		if !ok1 || !ok2 {
			return true
		}
		if o.Generation != n.Generation || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() {
			return true
		}
		ro, rn := reconciler.FindReady(o), reconciler.FindReady(n)
		return (ro == nil) != (rn == nil) || (ro != nil && ro.Status != rn.Status)
	},
}
