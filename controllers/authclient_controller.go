package controllers

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/keymutex"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/policy"
)

// FieldOwner is the field manager of everything the operator writes.
const FieldOwner = "nauthera"

// AuthClientReconciler keeps a Keycloak client and a credentials Secret in
// line with each AuthClient.
type AuthClientReconciler struct {
	client.Client
	// APIReader reads objects the manager's cache does not hold, such as a
	// Secret without the managed-by label.
	APIReader   client.Reader
	Connections *connection.Resolver
	Recorder    events.EventRecorder
	// Resync is how often a Ready AuthClient is checked against Keycloak
	// (drift in Keycloak has no watch).
	Resync time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// MaxBackoff caps the delay between retries after transient failures.
	MaxBackoff time.Duration
	// RestartWorkloads rolls the Deployments and StatefulSets that opt in
	// (auth.nauthera.io/restart-on-rotation) when their credentials change.
	// The operator then needs list and patch on them.
	RestartWorkloads bool
	// SecretNamespaces are the namespaces whose Secrets spec.clientSecretRef
	// may name, watched for changes (none: all); the operator's watched namespaces.
	SecretNamespaces []string
	// Drift, if set, enqueues the AuthClients whose Keycloak clients others
	// changed (from the realms' admin events); the reconciles tell it which
	// Keycloak client is whose.
	Drift *DriftWatch
	// Recheck is how soon an AuthClient stalled on something the operator
	// does not watch (a missing ServiceAccount, a role to grant that does not
	// exist yet) is looked at again; 0: min(10m, Resync).
	Recheck time.Duration

	// realmScopeCache keeps each realm's client scopes for creating clients.
	realmScopeCache scopeCache
	// claimLocks serialise the claims of one ServiceAccount (claimServiceAccount).
	claimLocks keymutex.KeyMutex
	// granteeKicks reconciles another AuthClient soon (kick): the grantees
	// of roles a reconcile restored in Keycloak (kickGrantees), and the
	// target a grantee found without a role it held; nil before
	// SetupWithManager.
	granteeKicks chan event.TypedGenericEvent[driftKick]
	// versions tells a reconcile that the cache has not caught up with the
	// last one's status write (reconciler.Versions).
	versions reconciler.Versions
}

// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients/finalizers,verbs=update
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile ensures the Keycloak client and Secret of one AuthClient.
func (r *AuthClientReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	ac, err := r.current(ctx, req.NamespacedName)
	if ac == nil {
		return ctrl.Result{}, err
	}
	before := ac.DeepCopy()
	rep := reconciler.Reporter{Recorder: r.Recorder, Kind: "AuthClient"}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("authServer", authServerKey(ac).String()))
	defer func() { retErr = r.writeStatus(ctx, before, ac, retErr) }()

	if !ac.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, ac, rep)
	}
	// Usually there already: the mutating webhook gives it to a new
	// AuthClient (internal/admission/finalizer.go), and this writes
	// nothing. Without the webhook, this is where it is added, before
	// anything reaches Keycloak.
	if err := reconciler.AddFinalizer(ctx, r.Client, ac); err != nil {
		return rep.Failed(ctx, ac, err, recheck(r.Recheck, r.Resync))
	}
	// The finalizer patch (if any) moved the resourceVersion; the status is as read.
	before = ac.DeepCopy()

	// Writes the status now, mid-reconcile (a rotation records what it is
	// about to do before doing it); the deferred patch then starts from it.
	// The patch is optimistically locked: a stale copy of the AuthClient
	// (the cache behind the API server) must not overwrite a pending
	// rotation another attempt recorded. A copy is patched, so that the
	// rest of this reconcile still sees the generation it started with.
	persist := func() error {
		cp := ac.DeepCopy()
		if err := r.Status().Patch(ctx, cp, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		// Only the resourceVersion is taken over (a later patch computed
		// from before must not carry the old one as a precondition).
		ac.ResourceVersion = cp.ResourceVersion
		before = ac.DeepCopy()
		return nil
	}
	s := &authClientScope{ac: ac, rep: rep, persist: persist}
	wake, note, err := r.reconcile(ctx, s)
	if s.kcClient != nil {
		r.Drift.noteClient(s.as, gocloak.PString(s.kcClient.ID), req.NamespacedName)
	}
	if err != nil {
		res, err := rep.Failed(ctx, ac, err, recheck(r.Recheck, r.Resync))
		if err == nil {
			// Refused for a reason retrying cannot fix (a policy
			// violation): rotation still runs on time.
			res.RequeueAfter = sooner(res.RequeueAfter, wake)
		}
		return res, err
	}
	rep.Ready(ctx, ac, authv1.ReasonClientProvisioned, readyMessage(note))
	after := reconciler.Jitter(r.Resync, req.String())
	if wake > 0 {
		after = min(after, wake)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// current reads the AuthClient key (nil: it is gone, or the read failed
// with the error returned). A copy that is not as this controller left it
// (reconciler.Versions: kicked again before the cache has its last write,
// or changed by someone else since) is read again from the API server, so
// that the status starts from the API server's.
func (r *AuthClientReconciler) current(ctx context.Context, key types.NamespacedName) (*authv1.AuthClient, error) {
	ac, err := reconciler.Current(ctx, &r.versions, r.Client, r.APIReader, key, func() *authv1.AuthClient { return &authv1.AuthClient{} })
	if ac == nil && err == nil {
		r.Drift.forgetClient(key)
	}
	return ac, err
}

// writeStatus patches ac's status from before (if it changed) and records
// the version it left ac at; it returns the reconcile's error, or the
// patch's.
func (r *AuthClientReconciler) writeStatus(ctx context.Context, before, ac *authv1.AuthClient, retErr error) error {
	err := reconciler.PatchStatus(ctx, r.Client, before, ac, func(o reconciler.Object) any { return o.(*authv1.AuthClient).Status })
	if err != nil && retErr == nil {
		retErr = err
	}
	r.versions.Record(ac, err, retErr)
	return retErr
}

// readyMessage is the Ready condition's message, with the note of what
// waits though the client is ready.
func readyMessage(note string) string {
	if note == "" {
		return "OIDC client has been successfully provisioned."
	}
	return "OIDC client has been successfully provisioned; " + note + "."
}

// sooner is the requeue of a failure, brought forward to wake (0: no
// wake) when rotation is due before it or it has none.
func sooner(after, wake time.Duration) time.Duration {
	if wake > 0 && (after == 0 || wake < after) {
		return wake
	}
	return after
}

// policiesOf returns the AuthPolicies that govern as's clients.
//
// A client never provisioned (fresh) reads them from the API server, not
// the cache: an AuthPolicy and a client applied in one sync may reach the
// cache after the client, and the client would be created as its policies
// forbid (a public client where they require a secret) and kept so. One
// list per new client; every later reconcile reads the cache.
func (r *AuthClientReconciler) policiesOf(ctx context.Context, as *authv1.AuthServer, fresh bool) ([]authv1.AuthPolicy, error) {
	if as.Spec.PolicySelector == nil {
		return nil, nil
	}
	var list authv1.AuthPolicyList
	var reader client.Reader = r.Client
	if fresh && r.APIReader != nil {
		reader = r.APIReader
	}
	if err := reader.List(ctx, &list, client.InNamespace(as.Namespace)); err != nil {
		return nil, err
	}
	return policy.Select(as, list.Items), nil
}

func conflictMessage(cs []policy.Conflict) string {
	msgs := make([]string, len(cs))
	for i, c := range cs {
		msgs[i] = c.Field + ": " + c.Message
	}
	return strings.Join(msgs, "; ")
}

// SetupWithManager registers the reconciler with its watches: the AuthClient,
// the Secret it owns, and the AuthServer it references.
func (r *AuthClientReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager) error {
	if err := requireIndexes(mgr); err != nil {
		return err
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	// Hashed: a fixed set of mutexes, nothing to clean up; two
	// ServiceAccounts that share one only wait for each other's claim.
	r.claimLocks = keymutex.NewHashed(0)
	secretRefs, err := r.referencedSecrets(mgr)
	if err != nil {
		return err
	}
	r.granteeKicks = make(chan event.TypedGenericEvent[driftKick], 1024)
	bld := ctrl.NewControllerManagedBy(mgr).
		// Status updates (our own) do not trigger a reconcile; spec changes,
		// deletion and annotations (a manual nudge) do.
		For(&authv1.AuthClient{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}, builder.WithPredicates(secretTampered)).
		// Only AuthServer changes its clients depend on fan out to them: a
		// label, an annotation or a status detail of its own (such as its
		// policies' condition) costs no client reconcile and no Keycloak read.
		Watches(&authv1.AuthServer{}, r.authServerEvents()).
		// A policy created, edited or deleted re-reconciles every client it
		// governs (before and after the change of its labels).
		Watches(&authv1.AuthPolicy{}, handler.EnqueueRequestsFromMapFunc(r.clientsGovernedBy), policySpecOrLabels).
		// A namespace whose labels change may stop (or start) matching an
		// AuthServer's clientNamespaceSelector: its clients are re-admitted
		// or disabled at once, not at the next resync.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.clientsIn), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// An AuthClient named as an audience that appears, goes, changes
		// its consent or gets its Keycloak client re-reconciles the clients
		// naming it.
		Watches(&authv1.AuthClient{}, handler.EnqueueRequestsFromMapFunc(r.audienceSourcesOf), builder.WithPredicates(audienceTargetChanged)).
		// A secretless AuthClient that goes, or stops or starts claiming a
		// ServiceAccount, re-reconciles the others that claim it: one of
		// them may hold it now.
		Watches(&authv1.AuthClient{}, handler.EnqueueRequestsFromMapFunc(r.serviceAccountClaimants), builder.WithPredicates(serviceAccountClaimChanged)).
		// An AuthClient named in spec.roleGrants that appears, goes,
		// changes its consent or roles, or gets its Keycloak client
		// re-reconciles the clients granted its roles.
		Watches(&authv1.AuthClient{}, handler.EnqueueRequestsFromMapFunc(r.roleGrantSourcesOf), builder.WithPredicates(roleGrantTargetChanged)).
		// A Secret named by spec.clientSecretRef that changes re-reconciles
		// the clients naming it (authclient_byosecret.go).
		WatchesRawSource(secretRefs).
		// Roles a reconcile restored in Keycloak (deleted there, their
		// mappings with them) re-reconcile the clients granted them, and a
		// grantee that finds such a role missing, its target: the target's
		// status does not change, so no watch above sees either.
		WatchesRawSource(source.TypedChannel[driftKick, reconcile.Request](r.granteeKicks, kickHandler))
	if r.Drift != nil {
		// Keycloak clients another admin changed (driftwatch.go).
		bld = bld.WatchesRawSource(r.Drift.clientSource())
	}
	return bld.WithOptions(controller.Options{
		MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles),
		RateLimiter:             reconciler.RateLimiter(0, r.MaxBackoff),
	}).
		Named("authclient").
		Complete(r)
}

// secretTampered passes the Secret events that need a reconcile: a deletion,
// or an edit that made the content disagree with the hash annotation the
// operator wrote with it. The operator's own writes keep both in step, so
// they cost no extra reconcile (and no Keycloak read).
var secretTampered = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		s, ok := e.ObjectNew.(*corev1.Secret)
		return !ok || desired.Hash(s.Data) != s.Annotations[desired.AnnotationHash] ||
			s.Labels[desired.LabelManagedBy] != desired.ManagedByValue
	},
}

// clientsIndexed lists, from the cache, the AuthClients that index maps key
// to, for the watch handlers: they cannot return an error, so a failure is
// logged and maps to none.
func (r *AuthClientReconciler) clientsIndexed(ctx context.Context, index, key string) []authv1.AuthClient {
	var list authv1.AuthClientList
	if err := r.List(ctx, &list, client.MatchingFields{index: key}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthClients", "index", index, "key", key)
		return nil
	}
	return list.Items
}

// clientsOf maps an AuthServer to the AuthClients that reference it.
func (r *AuthClientReconciler) clientsOf(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := reconciler.Requests(r.clientsIndexed(ctx, indexAuthServerRef, client.ObjectKeyFromObject(o).String()))
	slices.SortFunc(reqs, func(a, b reconcile.Request) int { return strings.Compare(a.String(), b.String()) })
	return reqs
}

// clientsIn maps a Namespace to the AuthClients in it.
func (r *AuthClientReconciler) clientsIn(ctx context.Context, o client.Object) []reconcile.Request {
	var list authv1.AuthClientList
	if err := r.List(ctx, &list, client.InNamespace(o.GetName())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthClients of namespace", "namespace", o.GetName())
		return nil
	}
	return reconciler.Requests(list.Items)
}

// clientsGovernedBy maps an AuthPolicy to the AuthClients of the AuthServers
// in its namespace that select it. For an update, controller-runtime maps
// the old and the new object, so clients a label change releases are
// reconciled too.
func (r *AuthClientReconciler) clientsGovernedBy(ctx context.Context, o client.Object) []reconcile.Request {
	p, ok := o.(*authv1.AuthPolicy)
	if !ok {
		return nil
	}
	var servers authv1.AuthServerList
	if err := r.List(ctx, &servers, client.InNamespace(p.Namespace)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthServers for AuthPolicy", "authPolicy", klog.KObj(p))
		return nil
	}
	var reqs []reconcile.Request
	for i := range servers.Items {
		if policy.Selects(&servers.Items[i], p) {
			reqs = append(reqs, r.clientsOf(ctx, &servers.Items[i])...)
		}
	}
	return reqs
}

// authServerChange is what an AuthServer update means for its clients.
type authServerChange int

const (
	// serverUnchanged: nothing its clients read changed (a label, an
	// annotation, its policies' condition), or it went un-Ready (a Keycloak
	// outage): the clients' Keycloak clients and Secrets are as they were,
	// and reconciling them would only repeat the outage's error N times.
	serverUnchanged authServerChange = iota
	// serverRecovered: it became Ready again. Every client is looked at
	// once, spread over a few seconds: those that failed meanwhile catch up,
	// and a Keycloak that came back without its data (a restored database,
	// an in-memory dev instance) gets its clients back at once, not at the
	// next resync.
	serverRecovered
	// serverChanged: its spec, deletion or a status field its clients read
	// (realm, issuer, session timeouts, rotation) changed: every client.
	serverChanged
)

// classifyAuthServerUpdate says which clients an AuthServer update concerns.
func classifyAuthServerUpdate(o, n *authv1.AuthServer) authServerChange {
	if o.Generation != n.Generation || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() {
		return serverChanged
	}
	os, ns := o.Status, n.Status
	if !equality.Semantic.DeepEqual(os.SecretRotation, ns.SecretRotation) {
		// Rotation set up (or changed) in the realm: due rotations may go ahead.
		return serverChanged
	}
	if !equality.Semantic.DeepEqual(os.ServiceAccountAuthentication, ns.ServiceAccountAuthentication) ||
		issuerStatus(o) != issuerStatus(n) {
		// Service-account authentication set up, changed or checked:
		// secretless clients wait for it, or say it is not usable yet.
		return serverChanged
	}
	if os.RealmName != ns.RealmName || os.Issuer != ns.Issuer ||
		os.RealmSessionIdleSeconds != ns.RealmSessionIdleSeconds || os.RealmOfflineSessionIdleSeconds != ns.RealmOfflineSessionIdleSeconds {
		return serverChanged
	}
	if !reconciler.IsReady(o) && reconciler.IsReady(n) {
		return serverRecovered
	}
	return serverUnchanged
}

// recoverySpread is how long the reconciles of an AuthServer's clients are
// spread after it recovers, per client (at most maxRecoverySpread in all),
// so that a Keycloak coming back is not met by all of them at once.
const (
	recoverySpread    = 10 * time.Millisecond
	maxRecoverySpread = 30 * time.Second
)

// issuerStatus is the status and reason of an AuthServer's
// ServiceAccountIssuerReady condition ("" when it has none).
func issuerStatus(as *authv1.AuthServer) string {
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

// authServerEvents enqueues the AuthClients of an AuthServer for the
// changes they depend on. A readiness flap (Keycloak down, then back)
// costs at most one reconcile per client: none when it goes, one, spread,
// when it comes back.
func (r *AuthClientReconciler) authServerEvents() handler.EventHandler {
	enqueue := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], spread bool) {
		items := r.clientsIndexed(ctx, indexAuthServerRef, client.ObjectKeyFromObject(o).String())
		window := min(maxRecoverySpread, time.Duration(len(items))*recoverySpread)
		for i := range items {
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])}
			if !spread || !reconciler.IsReady(&items[i]) {
				// Those that failed meanwhile first.
				q.Add(req)
				continue
			}
			q.AddAfter(req, window*time.Duration(i)/time.Duration(len(items)))
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q, false)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q, false)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			o, ok1 := e.ObjectOld.(*authv1.AuthServer)
			n, ok2 := e.ObjectNew.(*authv1.AuthServer)
			if !ok1 || !ok2 {
				return
			}
			switch classifyAuthServerUpdate(o, n) {
			case serverChanged:
				enqueue(ctx, n, q, false)
			case serverRecovered:
				enqueue(ctx, n, q, true)
			}
		},
	}
}

// keptAuthentication is the condition of a client whose Keycloak client
// keeps authenticating as it does, other than its spec and policies now
// ask. It says which side differs, never blaming the spec when the policy
// moved: a spec that asks for another kind of credential than Keycloak's
// client has (edited past the webhook, or the client edited in Keycloak),
// or, the kind being the same, the policies' method (changed since the
// client was made, or the client edited in Keycloak).
func keptAuthentication(gov governance, violations []policy.Violation, otherCredential bool) error {
	side := "the spec is not what differs: the authentication method its AuthPolicies require (or the client's in Keycloak) changed"
	done := "grant types, scopes, token settings, secret rotation and the Secret are still kept in line"
	if otherCredential {
		side = "the spec asks for another kind of client than the Keycloak client is"
		done = "grant types, scopes and token settings are kept in line; the Secret is left as it is, with the credential Keycloak still accepts"
	}
	return reconciler.Permanent(authv1.ReasonAuthenticationNotChanged, "%s; %s; the Keycloak client keeps authenticating as it does (%s) and is not switched to %s, which would lock its workloads out; %s",
		policy.Message(violations), side, gov.kept.Have, gov.kept.Asked, done)
}
