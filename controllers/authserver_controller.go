package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// AuthServerReconciler keeps a Keycloak realm in line with each AuthServer.
type AuthServerReconciler struct {
	client.Client
	// APIReader reads objects the manager's cache does not hold: the bind
	// password Secret of a UserStore.
	APIReader   client.Reader
	Connections *connection.Resolver
	Recorder    events.EventRecorder
	// Resync is how often a Ready AuthServer is checked against Keycloak.
	Resync time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// MaxBackoff caps the delay between retries after transient failures.
	MaxBackoff time.Duration
	// Issuers reads the service-account issuer of the operator's API
	// server, for spec.serviceAccountAuthentication without an issuer.
	// Nil reads it from the manager's API server.
	Issuers IssuerSource
	// Drift, if set, enqueues the AuthServers whose realm-level objects
	// others changed (from the realms' admin events).
	Drift *DriftWatch
	// Recheck is how soon what the operator does not watch is looked at
	// again: a failed realm, an invalid or soon renewed certificate, an
	// LDAP federation or service-account issuer that is not ready; 0:
	// min(10m, Resync).
	Recheck time.Duration

	// versions tells a reconcile that the cache has not caught up with the
	// last one's status write (reconciler.Versions).
	versions reconciler.Versions
}

// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=userstores,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Leader election: the Lease and the LeaderElection Events it records on it through the core/v1
// Events API (make e2e-cluster saw them refused in a real cluster under the chart's RBAC) live in the
// operator's own namespace only, so a namespaced Role (config/rbac; the chart's leader-election Role).
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=system
// +kubebuilder:rbac:urls=/.well-known/openid-configuration,verbs=get

// serverScope is what one reconcile of an AuthServer works on: the object,
// the reporter, the Keycloak connection and the realm's internal id (set as
// the steps learn them), and the status as last written.
type serverScope struct {
	as  *authv1.AuthServer
	rep reconciler.Reporter
	kc  keycloak.Admin
	// realmID is the realm's internal id, the parent of its components;
	// "" until reconcileRealm read it (removeFederation reads it then).
	realmID string
	// server is what Keycloak said about itself (readServer): its version
	// and enabled features, each empty when unknown.
	server kcversion.Server
	// featureMissing: a step found a feature this Keycloak lacks
	// (needsFeature); the AuthServer is looked at again after versionRecheck.
	featureMissing bool
	// before is the AuthServer as last read or written: the deferred
	// status patch and persist diff against it.
	before *authv1.AuthServer
	// stale: a mid-reconcile write found that this copy is not the latest
	// (another reconcile wrote first); nothing of it is written then.
	stale bool
}

// Reconcile ensures the realm of one AuthServer.
func (r *AuthServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	// A copy the cache has not brought up to this controller's last status
	// write (a drift kick within milliseconds) is read from the API server.
	as, err := reconciler.Current(ctx, &r.versions, r.Client, r.APIReader, req.NamespacedName, func() *authv1.AuthServer { return &authv1.AuthServer{} })
	if as == nil {
		return ctrl.Result{}, err
	}
	s := &serverScope{as: as, before: as.DeepCopy(), rep: reconciler.Reporter{Recorder: r.Recorder, Kind: "AuthServer"}}
	defer func() { retErr = r.writeStatus(ctx, s, retErr) }()

	if !as.DeletionTimestamp.IsZero() {
		certificateExpiry.DeleteLabelValues(as.Namespace, as.Name)
		return ctrl.Result{}, r.reconcileDelete(ctx, s)
	}
	if err := reconciler.AddFinalizer(ctx, r.Client, as); err != nil {
		return s.rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	// The finalizer patch moved the resourceVersion; the status is as read.
	s.before = as.DeepCopy()
	return r.reconcileSteps(ctx, s, req.String())
}

// writeStatus patches the status from s.before (if it changed; nothing
// when persist found the copy stale) and records the version it left the
// AuthServer at; it returns the reconcile's error, or the patch's.
func (r *AuthServerReconciler) writeStatus(ctx context.Context, s *serverScope, retErr error) error {
	if s.stale {
		r.versions.Invalidate(client.ObjectKeyFromObject(s.as))
		return retErr
	}
	err := reconciler.PatchStatus(ctx, r.Client, s.before, s.as, func(o reconciler.Object) any { return o.(*authv1.AuthServer).Status })
	if err != nil && retErr == nil {
		retErr = err
	}
	r.versions.Record(s.as, err, retErr)
	return retErr
}

// reconcileSteps runs the steps of a live AuthServer in order. The realm,
// its issuer, the policies and rotation fail the reconcile; the user store,
// the certificate, the realm roles (but for an outage) and the
// service-account issuer never do (each has its own condition), and say
// how soon to look again. key spreads the resync.
func (r *AuthServerReconciler) reconcileSteps(ctx context.Context, s *serverScope, key string) (ctrl.Result, error) {
	as, rep := s.as, s.rep
	// First: the certificate needs no Keycloak, and matters most when
	// Keycloak cannot be reached (an expired public certificate).
	certRetry := r.reconcileCertificate(ctx, as, rep)
	if err := checkSelectors(as); err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	kc, err := r.Connections.For(ctx, as)
	if err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	s.kc = kc
	if !r.readServer(ctx, s) {
		return r.unsupportedResult(), nil
	}
	if s.realmID, err = r.reconcileRealm(ctx, as, kc, rep); err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	if err := r.reconcileIssuer(ctx, as, kc); err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	eff, err := r.reconcilePolicies(ctx, as, rep)
	if err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	if err := r.reconcileRotation(ctx, s, eff); err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	after := reconciler.Jitter(r.Resync, key)
	usRetry, err := r.reconcileUserStore(ctx, s)
	if err != nil {
		if apierrors.IsConflict(err) {
			ctrl.LoggerFrom(ctx).V(1).Info("The AuthServer changed during the reconcile, retrying", "error", err)
		}
		return ctrl.Result{}, err
	}
	// After the user store: the groups its LDAP group mapper imports exist
	// by now, and are used rather than created.
	rrRetry, err := r.realmRolesStep(ctx, s)
	if err != nil {
		return rep.Failed(ctx, as, err, recheck(r.Recheck, r.Resync))
	}
	saRetry := r.reconcileServiceAccounts(ctx, s)
	if s.featureMissing {
		after = min(after, r.versionRecheck())
	}
	for _, retry := range []time.Duration{usRetry, certRetry, rrRetry, saRetry} {
		if retry > 0 {
			after = min(after, retry)
		}
	}
	if needsRecheck(as) {
		after = min(after, recheck(r.Recheck, r.Resync))
	}
	rep.Ready(ctx, as, authv1.ReasonRealmProvisioned, fmt.Sprintf("Realm %q is provisioned; issuer %s", as.Status.RealmName, as.Status.Issuer))
	return ctrl.Result{RequeueAfter: after}, nil
}

// persist writes the status now, mid-reconcile, before a Keycloak call
// that must run once per request (a user sync): optimistically locked, so
// that a copy older than another reconcile's write (the cache lags behind
// the API server) fails here instead of acting twice. A copy is patched, so
// that the rest of this reconcile sees what it started with.
func (r *AuthServerReconciler) persist(ctx context.Context, s *serverScope) error {
	cp := s.as.DeepCopy()
	if err := r.Status().Patch(ctx, cp, client.MergeFromWithOptions(s.before, client.MergeFromWithOptimisticLock{})); err != nil {
		s.stale = apierrors.IsConflict(err)
		return err
	}
	s.as.ResourceVersion = cp.ResourceVersion
	s.before = s.as.DeepCopy()
	return nil
}

// reconcileRealm makes the realm match the AuthServer and returns its
// internal id (the parent of its components), read on the way.
func (r *AuthServerReconciler) reconcileRealm(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter) (string, error) {
	log := ctrl.LoggerFrom(ctx)
	want := desired.Realm(as)
	name := as.EffectiveRealmName()
	actual, err := kc.GetRealm(ctx, name)
	if keycloak.IsNotFound(err) {
		var created *gocloak.RealmRepresentation
		if created, actual, err = r.createRealm(ctx, as, kc, rep, want); err != nil {
			return "", err
		}
		if created != nil {
			recordSessions(as, created)
			return gocloak.PString(created.ID), nil
		}
		// It exists after all: ours (an earlier attempt stored it) or
		// someone else's, which the owner check below refuses.
	} else if err != nil {
		return "", err
	}
	recordSessions(as, actual)
	me := desired.Owner(as.Namespace, as.Name)
	switch owner := desired.RealmOwner(actual); {
	case owner == "":
		// Refused, or adopted once acknowledged (authserver_adopt.go).
		if actual, err = r.adoptRealm(ctx, as, kc, rep, actual); err != nil {
			return "", err
		}
	case owner != me:
		return "", reconciler.Permanent(authv1.ReasonRealmConflict, "realm %q is owned by AuthServer %s; two AuthServers cannot share a realm", name, owner)
	}
	if diff := desired.RealmDiff(want, *actual); len(diff) > 0 {
		what := fmt.Sprintf("realm %q", name)
		if reconciler.StillNotApplied(as, what, diff, want) {
			return "", reconciler.NotApplied(what, diff, want, "AuthServer")
		}
		log.Info("Updating Keycloak realm", "realm", name, "fields", diff)
		if err := kc.UpdateRealm(ctx, want); err != nil {
			return "", err
		}
		// Read back: a change Keycloak accepts without making is not drift.
		after, err := kc.GetRealm(ctx, name)
		if err != nil {
			return "", err
		}
		if still := desired.RealmDiff(want, *after); len(still) > 0 {
			return "", reconciler.NotApplied(fmt.Sprintf("realm %q", name), still, want, "AuthServer")
		}
		if !gocloak.PBool(actual.AdminEventsEnabled) {
			// Nothing was recorded while they were off: drift detection
			// resyncs the realm (driftwatch.go).
			r.Drift.eventsReenabled(as, name)
		}
		if reconciler.IsReady(as) {
			rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to realm %q: %s", name, strings.Join(diff, ", ")))
		}
	}
	as.Status.RealmName = name
	return gocloak.PString(actual.ID), nil
}

// createRealm creates the realm and returns it as created. When the create
// may have been stored all the same (it timed out, lost its connection, got
// a 5xx or a database failure, or found the realm existing: an earlier
// attempt whose answer was lost, still committing when this one looked),
// the realm is looked up at once and returned as existing, for the caller's
// owner check; it is never taken over on the strength of the failure alone.
func (r *AuthServerReconciler) createRealm(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter, want gocloak.RealmRepresentation) (created, existing *gocloak.RealmRepresentation, _ error) {
	name := as.EffectiveRealmName()
	ctrl.LoggerFrom(ctx).Info("Creating Keycloak realm", "realm", name)
	err := kc.CreateRealm(ctx, want)
	if err != nil && keycloak.CreateOutcomeUnknown(err) {
		found, ferr := kc.GetRealm(ctx, name)
		switch {
		case ferr == nil:
			if desired.RealmOwner(found) == desired.Owner(as.Namespace, as.Name) {
				ctrl.LoggerFrom(ctx).Info("The realm's create failed but an attempt of ours stored it; carrying on with it", "realm", name, "error", err)
				rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonRealmCreated, fmt.Sprintf("Created Keycloak realm %q", name))
			}
			return nil, found, nil
		case keycloak.IsNotFound(ferr) && keycloak.IsConflict(err):
			return nil, nil, &reconciler.Failure{Reason: authv1.ReasonRealmConflict, Msg: fmt.Sprintf("realm %q appeared while it was being created, and is gone again; checking again", name), Transient: true}
		case keycloak.IsNotFound(ferr):
			// Not (yet) stored: the create's own error, retried with backoff.
			return nil, nil, err
		default:
			return nil, nil, ferr
		}
	}
	if err != nil {
		return nil, nil, err
	}
	rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonRealmCreated, fmt.Sprintf("Created Keycloak realm %q", name))
	as.Status.RealmName = name
	// Read once more for the session timeouts Keycloak chose.
	created, err = kc.GetRealm(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return created, nil, nil
}

// reconcileIssuer reads the issuer Keycloak serves, when it may have changed.
func (r *AuthServerReconciler) reconcileIssuer(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin) error {
	if as.Status.Issuer != "" && reconciler.IsReady(as) {
		return nil
	}
	disc, err := kc.GetDiscovery(ctx, as.Status.RealmName)
	if err != nil {
		return err
	}
	as.Status.Issuer = disc.Issuer
	as.Status.DiscoveryURL = strings.TrimRight(disc.Issuer, "/") + "/.well-known/openid-configuration"
	return nil
}

func (r *AuthServerReconciler) reconcileDelete(ctx context.Context, s *serverScope) error {
	as, rep := s.as, s.rep
	if !controllerutil.ContainsFinalizer(as, reconciler.Finalizer) {
		return nil
	}
	if as.Spec.DeletionPolicy != authv1.DeletionPolicyDelete && as.Status.UserStore != nil {
		// An orphaned realm keeps its clients, never the directory's bind
		// password and federation: nobody would manage them any more.
		err := func() error {
			kc, err := r.Connections.For(ctx, as)
			if err != nil {
				return err
			}
			s.kc = kc
			return r.removeFederation(ctx, s, "the AuthServer was deleted and its realm orphaned")
		}()
		if err := reconciler.SettleDeletion(err, func(err error) {
			rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonUserStoreLeftBehind, fmt.Sprintf("The LDAP federation of realm %q was not removed: %v", as.Status.RealmName, err))
		}); err != nil {
			rep.Fail(ctx, as, authv1.ReasonDeleting, "Cannot remove the LDAP federation from the realm yet: "+err.Error(), true)
			return err
		}
	}
	if as.Spec.DeletionPolicy == authv1.DeletionPolicyDelete && as.Status.RealmName != "" {
		if err := r.deleteRealm(ctx, as, rep); err != nil {
			rep.Fail(ctx, as, authv1.ReasonDeleting, "Cannot delete the Keycloak realm yet: "+err.Error(), true)
			return err
		}
	}
	return reconciler.RemoveFinalizer(ctx, r.Client, as)
}

// deleteRealm deletes the realm if this AuthServer owns it. Only a transient
// failure is returned (and retried); anything that retrying cannot fix
// leaves the realm behind with a Warning Event rather than blocking deletion.
func (r *AuthServerReconciler) deleteRealm(ctx context.Context, as *authv1.AuthServer, rep reconciler.Reporter) error {
	name := as.Status.RealmName
	err := func() error {
		kc, err := r.Connections.For(ctx, as)
		if err != nil {
			return err
		}
		realm, err := kc.GetRealm(ctx, name)
		if err == nil && desired.RealmOwner(realm) == desired.Owner(as.Namespace, as.Name) {
			ctrl.LoggerFrom(ctx).Info("Deleting Keycloak realm", "realm", name)
			err = kc.DeleteRealm(ctx, name)
		}
		return err
	}()
	return reconciler.SettleDeletion(err, func(err error) {
		rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonRealmLeftBehind, fmt.Sprintf("Realm %q was not deleted: %v", name, err))
	})
}

// SetupWithManager registers the reconciler. It lists through the indexes
// SetupIndexes registers.
func (r *AuthServerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := requireIndexes(mgr); err != nil {
		return err
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	issuers, err := issuerSource(mgr, r.Issuers)
	if err != nil {
		return err
	}
	r.Issuers = issuers
	bld := ctrl.NewControllerManagedBy(mgr).
		// Status updates (our own) do not trigger a reconcile; spec changes,
		// deletion and annotations (a manual nudge) do.
		For(&authv1.AuthServer{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Policies are combined per AuthServer: a conflict is reported here.
		Watches(&authv1.AuthPolicy{}, handler.EnqueueRequestsFromMapFunc(r.serversIn), policySpecOrLabels).
		// A UserStore's change (spec, sync annotation, deletion) reaches
		// the realms that federate it.
		Watches(&authv1.UserStore{}, handler.EnqueueRequestsFromMapFunc(r.serversUsing), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{})))
	if r.Drift != nil {
		// Realm-level objects another admin changed (driftwatch.go).
		bld = bld.WatchesRawSource(r.Drift.serverSource())
	}
	return bld.WithOptions(controller.Options{
		MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles),
		RateLimiter:             reconciler.RateLimiter(0, r.MaxBackoff),
	}).
		Named("authserver").
		Complete(r)
}

// checkSelectors reports a selector the API server admitted but that cannot
// be used (a matchLabels key or value that is not a label key or value) on
// the AuthServer itself, rather than as a mystery on every client.
func checkSelectors(as *authv1.AuthServer) error {
	if _, err := as.Spec.ClientNamespaceSelector.AsSelector(); err != nil {
		return reconciler.Permanent(authv1.ReasonInvalidSpec, "spec.clientNamespaceSelector is invalid: %w", err)
	}
	if _, err := as.Spec.PolicySelector.AsSelector(); err != nil {
		return reconciler.Permanent(authv1.ReasonInvalidSpec, "spec.policySelector is invalid: %w", err)
	}
	return nil
}

// reconcilePolicies reports on the AuthServer whether the policies it
// selects can be combined (PoliciesConsistent). A conflict is not resolved
// silently: the clients are refused (PolicyConflict) until it is fixed, while
// the realm itself stays Ready.
//
// It returns what the policies add up to, or nil while they conflict.
func (r *AuthServerReconciler) reconcilePolicies(ctx context.Context, as *authv1.AuthServer, rep reconciler.Reporter) (*policy.Effective, error) {
	if as.Spec.PolicySelector == nil {
		reconciler.RemoveCondition(as, authv1.PoliciesCondition)
		return &policy.Effective{}, nil
	}
	var list authv1.AuthPolicyList
	if err := r.List(ctx, &list, client.InNamespace(as.Namespace)); err != nil {
		return nil, err
	}
	selected := policy.Select(as, list.Items)
	eff, conflicts := policy.Combine(selected)
	if len(conflicts) > 0 {
		msgs := make([]string, len(conflicts))
		for i, c := range conflicts {
			msgs[i] = c.Field + ": " + c.Message
		}
		msg := "The selected AuthPolicies contradict each other; their clients are refused until this is resolved: " + strings.Join(msgs, "; ")
		rep.Condition(ctx, as, reconciler.NewCondition(authv1.PoliciesCondition, metav1.ConditionFalse, authv1.ReasonPolicyConflict, msg))
		return nil, nil
	}
	msg := "No AuthPolicy matches the policySelector"
	if len(selected) > 0 {
		msg = "Governed by " + strings.Join(eff.Policies, ", ")
	}
	rep.Condition(ctx, as, reconciler.NewCondition(authv1.PoliciesCondition, metav1.ConditionTrue, authv1.ReasonPolicyAccepted, msg))
	return &eff, nil
}

// serversUsing maps a UserStore to the AuthServers that reference it.
func (r *AuthServerReconciler) serversUsing(ctx context.Context, o client.Object) []reconcile.Request {
	var list authv1.AuthServerList
	if err := r.List(ctx, &list, client.MatchingFields{indexUserStoreRef: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthServers of UserStore", "userStore", o.GetNamespace()+"/"+o.GetName())
		return nil
	}
	return reconciler.Requests(list.Items)
}

// serversIn maps an object to the AuthServers of its namespace.
func (r *AuthServerReconciler) serversIn(ctx context.Context, o client.Object) []reconcile.Request {
	var list authv1.AuthServerList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthServers", "namespace", o.GetNamespace())
		return nil
	}
	return reconciler.Requests(list.Items)
}

// recordSessions keeps the realm's session timeouts in the status: the
// AuthClient reconciler bounds policy refresh lifespans by them.
func recordSessions(as *authv1.AuthServer, realm *gocloak.RealmRepresentation) {
	as.Status.RealmSessionIdleSeconds = int32(gocloak.PInt(realm.SSOSessionIdleTimeout))
	as.Status.RealmOfflineSessionIdleSeconds = int32(gocloak.PInt(realm.OfflineSessionIdleTimeout))
}

// defaultRecheck is how soon what the operator has no watch or admin event
// for is looked at again: the resync interval this had before drift was
// found from admin events (the resync is a day since).
const defaultRecheck = 10 * time.Minute

// recheck is the wake-up of an object waiting on something outside the
// operator's watches: d (0: defaultRecheck), never later than the resync.
func recheck(d, resync time.Duration) time.Duration {
	if d <= 0 {
		d = defaultRecheck
	}
	return min(d, resync)
}

// needsRecheck says whether a Ready AuthServer depends on something that
// changes without a watch event or an admin event: its certificate or its
// UserStore's bind password (Secrets read directly, not watched: a renewal
// or a rotated password is picked up within the recheck, as it was within
// the old 10-minute resync), or a side condition that is not True (an LDAP
// federation, the service-account issuer, realm roles) and may come right
// on its own.
func needsRecheck(as *authv1.AuthServer) bool {
	if as.Spec.TLS != nil || as.Spec.UserStoreRef != nil {
		return true
	}
	for _, t := range []string{authv1.CertificateCondition, authv1.UserStoreCondition, authv1.ServiceAccountIssuerCondition, authv1.RealmRolesCondition} {
		if c := meta.FindStatusCondition(as.Status.Conditions, t); c != nil && c.Status != metav1.ConditionTrue {
			return true
		}
	}
	return false
}
