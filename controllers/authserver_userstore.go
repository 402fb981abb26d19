package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/ldapfilter"
)

// User federation, seen from the realm. The AuthServer owns its realm, so
// it puts the UserStore's LDAP component (and group mapper) there, keeps it
// in line, syncs users, and removes it when the reference or the UserStore
// goes. The UserStore reconciler only sums up what its AuthServers report.
//
// A UserStore failure never makes the realm un-Ready: its clients keep
// working. It is the UserStoreReady condition, with a Warning, and what
// worked before (an existing component) is left as it was.

// userStoreProblem is a failure to report in UserStoreReady.
type userStoreProblem struct {
	reason, msg string
	// remove: the component must go (the UserStore is gone or no longer allowed).
	remove bool
}

func (p *userStoreProblem) Error() string { return p.msg }

// userStoreRetry is how soon a failing federation is looked at again
// (missing Secret, Keycloak trouble); the resync is slower.
const userStoreRetry = time.Minute

// reconcileUserStore never fails the AuthServer's reconcile: every problem
// is UserStoreReady. It returns how soon to look again (0: at the resync),
// and an error only when persist found this copy of the AuthServer stale
// (then nothing was done that must happen once). persist writes the status
// before such a call (see Reconcile).
func (r *AuthServerReconciler) reconcileUserStore(ctx context.Context, s *serverScope) (time.Duration, error) {
	as, realm := s.as, s.as.Status.RealmName
	if as.Spec.UserStoreRef == nil {
		if as.Status.UserStore != nil {
			if err := r.removeFederation(ctx, s, "spec.userStoreRef was removed"); err != nil {
				userStoreFailed(ctx, s, authv1.ReasonKeycloakUnavailable, fmt.Sprintf("Cannot remove the LDAP federation from realm %q yet: %s", realm, publicError(ctx, "Removing the LDAP federation", err)))
				return userStoreRetry, nil
			}
		}
		reconciler.RemoveCondition(as, authv1.UserStoreCondition)
		return 0, nil
	}
	us, password, secretVersion, problem, err := r.userStoreFor(ctx, as)
	if err == nil && problem == nil {
		problem, err = r.applyFederation(ctx, s, newFederation(as, us, password, secretVersion))
	}
	if apierrors.IsConflict(err) {
		return 0, err
	}
	if err != nil {
		// Keycloak or the API server in trouble: said, retried soon; the
		// realm and its clients are not held up by it.
		userStoreFailed(ctx, s, reconciler.Classify(err).Reason, fmt.Sprintf("The LDAP federation of realm %q could not be checked or applied: %s", realm, publicError(ctx, "Applying the LDAP federation", err)))
		return userStoreRetry, nil
	}
	if problem == nil {
		return 0, nil
	}
	if problem.remove && as.Status.UserStore != nil {
		if err := r.removeFederation(ctx, s, problem.msg); err != nil {
			userStoreFailed(ctx, s, problem.reason, fmt.Sprintf("%s; removing the federation from realm %q failed and is retried: %s", problem.msg, realm, publicError(ctx, "Removing the LDAP federation", err)))
			return userStoreRetry, nil
		}
	}
	userStoreFailed(ctx, s, problem.reason, problem.msg)
	if problem.reason == authv1.ReasonBindSecretInvalid {
		// A Secret applied after the UserStore (GitOps) is picked up soon.
		return userStoreRetry, nil
	}
	return 0, nil
}

// userStoreFailed reports a problem in UserStoreReady.
func userStoreFailed(ctx context.Context, s *serverScope, reason, msg string) {
	s.rep.Condition(ctx, s.as, reconciler.NewCondition(authv1.UserStoreCondition, metav1.ConditionFalse, reason, msg))
}

// userStoreFor resolves the UserStore and its bind password, or the
// problem with them.
func (r *AuthServerReconciler) userStoreFor(ctx context.Context, as *authv1.AuthServer) (*authv1.UserStore, string, string, *userStoreProblem, error) {
	ref := as.Spec.UserStoreRef
	key := ref.In(as.Namespace)
	us := &authv1.UserStore{}
	if err := r.Get(ctx, key, us); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", "", &userStoreProblem{reason: authv1.ReasonUserStoreNotFound, remove: true,
				msg: fmt.Sprintf("UserStore %s not found", key)}, nil
		}
		return nil, "", "", nil, err
	}
	if !us.DeletionTimestamp.IsZero() {
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonUserStoreNotFound, remove: true, msg: fmt.Sprintf("UserStore %s is being deleted", key)}, nil
	}
	if us.Namespace != as.Namespace && !slices.Contains(us.Spec.AllowedNamespaces, as.Namespace) {
		// A UserStore holds a bind password: only its own namespace, or
		// those it names, may attach it to a realm.
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonUserStoreNotAllowed, remove: true,
			msg: fmt.Sprintf("UserStore %s does not serve namespace %q: it serves its own namespace and those in its spec.allowedNamespaces", key, as.Namespace)}, nil
	}
	if us.Namespace != as.Namespace && as.Spec.Keycloak != nil {
		// The bind password would go to a Keycloak the other namespace chose.
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonUserStoreNotAllowed, remove: true,
			msg: fmt.Sprintf("UserStore %s serves other namespaces only on the operator's own Keycloak, and AuthServer %s/%s names another in spec.keycloak", key, as.Namespace, as.Name)}, nil
	}
	if us.Spec.LDAP == nil {
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonInvalidSpec, msg: fmt.Sprintf("UserStore %s has no ldap settings", key)}, nil
	}
	if problem := filterProblem(us); problem != "" {
		// Admission refuses these (the CRD's CEL rules); a UserStore stored
		// before those rules existed is stopped here, before Keycloak.
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonInvalidSpec, msg: fmt.Sprintf("UserStore %s: %s", key, problem)}, nil
	}
	ref2 := us.Spec.LDAP.BindPasswordSecretRef
	if ref2 == nil {
		return us, "", "", nil, nil
	}
	// Read from the API server, not the cache: the cache holds only the
	// Secrets Nauthera writes. Its resourceVersion says whether it changed.
	s := &corev1.Secret{}
	skey := types.NamespacedName{Namespace: us.Namespace, Name: ref2.Name}
	if err := r.APIReader.Get(ctx, skey, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", "", &userStoreProblem{reason: authv1.ReasonBindSecretInvalid,
				msg: fmt.Sprintf("the bind password Secret %s of UserStore %s does not exist", skey, key)}, nil
		}
		return nil, "", "", nil, err
	}
	pw, ok := s.Data[ref2.Key]
	if !ok || len(pw) == 0 {
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonBindSecretInvalid,
			msg: fmt.Sprintf("the bind password Secret %s of UserStore %s has no key %q", skey, key, ref2.Key)}, nil
	}
	return us, string(pw), s.ResourceVersion, nil, nil
}

// filterProblem names the first filter of the UserStore that is not an
// LDAP filter (RFC 4515), and what is wrong with it.
func filterProblem(us *authv1.UserStore) string {
	filters := [][2]string{{"spec.ldap.userSearch.filter", string(us.Spec.LDAP.UserSearch.Filter)}}
	if g := us.Spec.LDAP.GroupSearch; g != nil {
		filters = append(filters, [2]string{"spec.ldap.groupSearch.filter", string(g.Filter)})
	}
	for _, f := range filters {
		if f[1] == "" {
			continue
		}
		if err := ldapfilter.Validate(f[1]); err != nil {
			return fmt.Sprintf("%s is not an LDAP filter: %v", f[0], err)
		}
	}
	return ""
}

// federation is what applyFederation puts in the realm and records: the
// UserStore, its bind password (never logged or reported), and the status
// being built.
type federation struct {
	us            *authv1.UserStore
	usKey         string
	password      string
	secretVersion string
	st            *authv1.RealmUserStoreStatus
	// request is the UserStore's sync annotation, as a key.
	request string
	// specChanged: the UserStore or its Secret changed since the last apply.
	specChanged bool
}

// String keeps the bind password out of anything that prints a federation
// (%v, %+v, %#v): only the UserStore and the status are shown.
func (f *federation) String() string {
	return fmt.Sprintf("federation of UserStore %s (bind password redacted; status %+v)", f.usKey, f.st)
}

// GoString is String, for %#v.
func (f *federation) GoString() string { return f.String() }

// newFederation starts from what the AuthServer's status records of us
// (nothing, if it records another UserStore).
func newFederation(as *authv1.AuthServer, us *authv1.UserStore, password, secretVersion string) *federation {
	usKey := client.ObjectKeyFromObject(us).String()
	st := as.Status.UserStore.DeepCopy()
	if st == nil || st.UserStore != usKey {
		st = &authv1.RealmUserStoreStatus{UserStore: usKey}
	}
	return &federation{us: us, usKey: usKey, password: password, secretVersion: secretVersion, st: st,
		request:     requestKey(us.Annotations[authv1.AnnotationSyncUsers]),
		specChanged: st.AppliedGeneration != us.Generation || st.BindSecretVersion != secretVersion}
}

// applyFederation makes the realm's LDAP component and group mapper match
// the UserStore, and syncs when due.
func (r *AuthServerReconciler) applyFederation(ctx context.Context, s *serverScope, f *federation) (*userStoreProblem, error) {
	as, realm, st := s.as, s.as.Status.RealmName, f.st
	actual, err := r.keepOneComponent(ctx, s, f)
	if err != nil {
		return nil, err
	}
	created := false
	var diff []string
	if actual != nil {
		diff = desired.ComponentDiff(desired.LDAPComponent(f.us, s.realmID, f.password), *actual)
	}
	if actual == nil || len(diff) > 0 || f.specChanged {
		var problem *userStoreProblem
		if created, problem, err = r.writeComponent(ctx, s, f, actual, diff); problem != nil || err != nil {
			return problem, err
		}
	} else {
		st.ComponentID = gocloak.PString(actual.ID)
	}
	as.Status.UserStore = st
	mapperID, err := r.reconcileGroupMapper(ctx, s, f.us, st.ComponentID, !f.specChanged)
	if err != nil {
		return nil, err
	}
	st.AppliedGeneration, st.BindSecretVersion = f.us.Generation, f.secretVersion

	// Sync after creation, after a change of the UserStore, and on request
	// (annotation); Keycloak's own periodic syncs do the rest.
	synced := false
	if created || f.specChanged || (f.request != "" && f.request != st.LastSyncRequest) {
		problem, err := r.syncUsers(ctx, s, f, mapperID)
		if problem != nil || err != nil {
			return problem, err
		}
		synced = true
	}
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition); c != nil && !synced {
		switch c.Reason {
		case authv1.ReasonLDAPNoUsers, authv1.ReasonLDAPSyncFailed:
			// The last sync found nobody or failed: it stays a Warning until a
			// sync succeeds (a change of the UserStore or the sync annotation).
			return &userStoreProblem{reason: c.Reason, msg: c.Message}, nil
		case authv1.ReasonLDAPSyncPending:
			// Not started again on its own: Keycloak may still be running it.
			return &userStoreProblem{reason: authv1.ReasonLDAPSyncFailed, msg: fmt.Sprintf(
				"%s, and the operator stopped before Keycloak answered: whether users were synced is unknown; annotate the UserStore with %s to sync again", c.Message, authv1.AnnotationSyncUsers)}, nil
		}
	}
	s.rep.Condition(ctx, as, reconciler.NewCondition(authv1.UserStoreCondition, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured,
		fmt.Sprintf("UserStore %s (%s) is federated into realm %q, read-only", f.usKey, f.us.Spec.LDAP.Server, realm)))
	return nil, nil
}

// keepOneComponent returns the realm's LDAP component of the UserStore (nil
// if none) and removes Nauthera's others: left by a UserStore the AuthServer
// no longer references, or a twin of the wanted one.
func (r *AuthServerReconciler) keepOneComponent(ctx context.Context, s *serverScope, f *federation) (*gocloak.Component, error) {
	realm := s.as.Status.RealmName
	own, err := r.ownComponents(ctx, s.kc, realm, s.realmID)
	if err != nil {
		return nil, err
	}
	// Of two with the wanted name (two reconciles that both created one),
	// the one the status records is kept: it is the one synced.
	var actual *gocloak.Component
	for _, c := range own {
		if gocloak.PString(c.Name) == desired.LDAPComponentName(f.us) && (actual == nil || gocloak.PString(c.ID) == f.st.ComponentID) {
			actual = c
		}
	}
	for _, c := range own {
		if c == actual {
			continue
		}
		if err := s.kc.DeleteComponent(ctx, realm, gocloak.PString(c.ID)); err != nil && !keycloak.IsNotFound(err) {
			return nil, err
		}
		s.rep.Event(ctx, s.as, corev1.EventTypeNormal, authv1.ReasonUserStoreRemoved, fmt.Sprintf(
			"Removed the LDAP federation %q from realm %q, which this AuthServer no longer references; the users it had imported were removed with it", gocloak.PString(c.Name), realm))
	}
	return actual, nil
}

// writeComponent creates the LDAP component (actual nil) or updates it,
// after a pre-flight test of the directory. It reports whether it created
// the component, or the problem that stopped it.
func (r *AuthServerReconciler) writeComponent(ctx context.Context, s *serverScope, f *federation, actual *gocloak.Component, diff []string) (bool, *userStoreProblem, error) {
	as, realm, st := s.as, s.as.Status.RealmName, f.st
	// Before anything is written: can Keycloak reach the directory and
	// bind? A failure leaves what exists as it is. A test that failed
	// is not repeated until the UserStore or its Secret changes (or a
	// sync is asked for): a wrong password retried on every resync
	// could lock the service account out.
	refusedFor := fmt.Sprintf("%d/%s/%s", f.us.Generation, f.secretVersion, f.request)
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition); st.RefusedFor == refusedFor && c != nil && c.Status == metav1.ConditionFalse {
		return false, &userStoreProblem{reason: c.Reason, msg: c.Message}, nil
	}
	if problem, err := r.testLDAP(ctx, s.kc, realm, f.us, f.password); problem != nil || err != nil {
		if problem != nil {
			st.RefusedFor = refusedFor
			as.Status.UserStore = st
		}
		return false, problem, err
	}
	st.RefusedFor = ""
	want := desired.LDAPComponent(f.us, s.realmID, f.password)
	log := ctrl.LoggerFrom(ctx)
	if actual == nil {
		// Written first, optimistically locked: of two reconciles that
		// read the AuthServer before either wrote, one creates the
		// component; the other's write conflicts.
		syncPending(as, f.usKey, realm)
		if err := r.persist(ctx, s); err != nil {
			return false, nil, err
		}
		log.Info("Creating LDAP federation in realm", "realm", realm, "userStore", f.usKey)
		id, err := s.kc.CreateComponent(ctx, realm, want)
		if err != nil {
			return false, nil, err
		}
		// Recorded at once: whatever fails next, removal finds it.
		st.ComponentID = id
		as.Status.UserStore = st
		s.rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonUserStoreFederated, fmt.Sprintf("Federated UserStore %s (%s) into realm %q", f.usKey, f.us.Spec.LDAP.Server, realm))
		return true, nil, nil
	}
	log.Info("Updating LDAP federation in realm", "realm", realm, "userStore", f.usKey, "fields", diff)
	// The password is always sent: Keycloak shows it masked, and
	// the mask sent back would keep an old one.
	if err := s.kc.UpdateComponent(ctx, realm, desired.MergeComponent(want, *actual, true)); err != nil {
		return false, nil, err
	}
	st.ComponentID = gocloak.PString(actual.ID)
	if !f.specChanged && len(diff) > 0 {
		s.rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to the LDAP federation %q of realm %q: %s", desired.LDAPComponentName(f.us), realm, strings.Join(diff, ", ")))
	}
	return false, nil, nil
}

// syncUsers syncs the users (and groups) of the federation and records the
// sync, or returns the problem that stopped it. The request (and the
// applied generation) is written to the API server before the sync,
// optimistically locked: a sync that outlasts the request (large
// directories) is not started again and again, and a second reconcile that
// read the AuthServer before this write (the cache lags, or another
// replica) fails its own write instead of syncing again.
func (r *AuthServerReconciler) syncUsers(ctx context.Context, s *serverScope, f *federation, mapperID string) (*userStoreProblem, error) {
	realm, st, usKey := s.as.Status.RealmName, f.st, f.usKey
	log := ctrl.LoggerFrom(ctx)
	st.LastSyncRequest = f.request
	// The condition says the sync is not confirmed yet: should the
	// operator stop before Keycloak answers, the next reconcile reports
	// that, rather than a federation that was never synced as ready.
	syncPending(s.as, usKey, realm)
	if err := r.persist(ctx, s); err != nil {
		return nil, err
	}
	res, err := s.kc.SyncUsers(ctx, realm, st.ComponentID, true)
	if err != nil {
		return &userStoreProblem{reason: authv1.ReasonLDAPSyncFailed, msg: fmt.Sprintf(
			"Syncing users of UserStore %s into realm %q failed: %s (Keycloak may still be running it; annotate the UserStore with %s to sync again)", usKey, realm, publicError(ctx, "Syncing users", err), authv1.AnnotationSyncUsers)}, nil
	}
	if res.Ignored {
		// The sync Keycloak is running covers this request: confirmed,
		// not pending (nor failed).
		log.Info("Keycloak is already syncing this federation", "realm", realm)
		return nil, nil
	}
	if mapperID != "" {
		if _, err := s.kc.SyncMapper(ctx, realm, st.ComponentID, mapperID); err != nil {
			return &userStoreProblem{reason: authv1.ReasonLDAPSyncFailed, msg: fmt.Sprintf("Syncing the groups of UserStore %s into realm %q failed: %s", usKey, realm, publicError(ctx, "Syncing groups", err))}, nil
		}
	}
	st.LastSync = &authv1.UserSyncStatus{Time: metav1.Now(), Realm: realm, Added: res.Added, Updated: res.Updated, Removed: res.Removed, Failed: res.Failed}
	log.Info("Synced users from LDAP", "realm", realm, "added", res.Added, "updated", res.Updated, "removed", res.Removed, "failed", res.Failed)
	if res.Added+res.Updated == 0 {
		return &userStoreProblem{reason: authv1.ReasonLDAPNoUsers, msg: fmt.Sprintf(
			"A sync of UserStore %s into realm %q found no user under %s with filter %s (added 0, updated 0, removed %d, failed %d): check userSearch.baseDN and filter, and that the bind may read them",
			usKey, realm, f.us.Spec.LDAP.UserSearch.BaseDN, orNone(string(f.us.Spec.LDAP.UserSearch.Filter)), res.Removed, res.Failed)}, nil
	}
	s.rep.Event(ctx, s.as, corev1.EventTypeNormal, authv1.ReasonUsersSynced, fmt.Sprintf("Synced users of UserStore %s into realm %q: %d added, %d updated, %d removed, %d failed", usKey, realm, res.Added, res.Updated, res.Removed, res.Failed))
	return nil, nil
}

// syncPending marks UserStoreReady as waiting for a sync's answer (no
// Event: it is written just before the sync, and replaced by its outcome).
func syncPending(as *authv1.AuthServer, usKey, realm string) {
	reconciler.SetCondition(as, authv1.UserStoreCondition, metav1.ConditionFalse, authv1.ReasonLDAPSyncPending, fmt.Sprintf(
		"A sync of UserStore %s into realm %q was requested at %s and is not confirmed", usKey, realm, time.Now().UTC().Format(time.RFC3339)))
}

// ownComponents lists the realm's user-storage components Nauthera made.
func (r *AuthServerReconciler) ownComponents(ctx context.Context, kc keycloak.Admin, realm, realmID string) ([]*gocloak.Component, error) {
	list, err := kc.ListComponents(ctx, realm, realmID, desired.ProviderTypeUserStorage)
	if err != nil {
		return nil, err
	}
	var out []*gocloak.Component
	for _, c := range list {
		if desired.IsOwnComponentName(gocloak.PString(c.Name)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// testLDAP asks Keycloak to connect and bind as the component will, also
// without a bind DN (an anonymous bind): only an LDAP server's answer
// passes, an open port alone does not (keycloak.NewLDAPTest).
//
// What the status says is deliberately coarse. Whoever may write a
// UserStore picks the host and port Keycloak connects to, from inside the
// cluster: telling "connection refused" from "timed out" from "not LDAP"
// (or a TLS port from a plain one) would make the UserStore a port scanner
// of the network Keycloak sits in. So every failure without an LDAP answer
// is one reason with one message, whatever Keycloak's code; only a refused
// bind, which an LDAP server must have answered, is told apart. Keycloak's
// code goes to the operator's log, for whoever runs the operator.
func (r *AuthServerReconciler) testLDAP(ctx context.Context, kc keycloak.Admin, realm string, us *authv1.UserStore, password string) (*userStoreProblem, error) {
	l := us.Spec.LDAP
	// The timeout bounds Keycloak's connection and bind (its default, 30 s,
	// outlasts the operator's request timeout): a silent firewall or a
	// listener that never answers must read as no LDAP answer, not as
	// Keycloak in trouble.
	timeout := kc.LDAPTestTimeout()
	start := time.Now()
	err := kc.TestLDAPConnection(ctx, realm, keycloak.NewLDAPTest(l.Server, l.BindDN, password, timeout))
	var terr *keycloak.LDAPTestError
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &terr):
		return nil, err
	}
	ctrl.LoggerFrom(ctx).Info("LDAP pre-flight failed", "server", l.Server, "realm", realm, "keycloakSays", terr.Code)
	// Nor may the time tell: a refused port fails at once, a silent one
	// after the timeout. Every failure is reported after the timeout; this
	// holds one worker that long, and a failed test is not repeated until
	// the UserStore or its Secret changes (RefusedFor).
	waitOut(ctx, start.Add(timeout))
	if terr.BindRefused() && l.BindDN != "" {
		return &userStoreProblem{reason: authv1.ReasonLDAPBindFailed, msg: fmt.Sprintf(
			"The LDAP server %s refused the bind as %q (wrong bindDN or password); the federation is left as it was", l.Server, l.BindDN)}, nil
	}
	anonymous := ""
	if l.BindDN == "" {
		// A directory that refuses anonymous binds cannot be told from
		// no LDAP at all: Keycloak's code for it is its catch-all, which
		// a silent port or an HTTP server yields too (on OpenJDK 17).
		anonymous = ", or it refuses anonymous binds: set bindDN and bindPasswordSecretRef"
	}
	return &userStoreProblem{reason: authv1.ReasonLDAPUnreachable, msg: fmt.Sprintf(
		"Keycloak got no LDAP answer from %s within %s: nothing answers there, or what answers is not an LDAP server%s "+
			"(check the host, the port, and ldap:// against ldaps://; the operator's log has Keycloak's reason); the federation is left as it was",
		l.Server, timeout, anonymous)}, nil
}

// waitOut returns at deadline, or sooner when ctx ends.
func waitOut(ctx context.Context, deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// publicError says how a step failed in words fit for status and Events:
// what Keycloak did (keycloak.Describe: no URL, no internals of the call),
// or the Kubernetes API's own message. The whole error goes to the log.
func publicError(ctx context.Context, what string, err error) string {
	ctrl.LoggerFrom(ctx).Info(what+" failed", "error", keycloak.Detail(err))
	var kerr *keycloak.Error
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &kerr):
		return keycloak.Describe(err)
	case errors.As(err, &status) && status.Status().Message != "":
		return status.Status().Message
	default:
		return "the Kubernetes API did not answer"
	}
}

// reconcileGroupMapper keeps the group mapper in line with groupSearch and
// returns its id ("" when there is none). driftIsEdit: a difference is a
// console edit (reported), not a spec change.
func (r *AuthServerReconciler) reconcileGroupMapper(ctx context.Context, s *serverScope, us *authv1.UserStore, parentID string, driftIsEdit bool) (string, error) {
	as, kc, realm := s.as, s.kc, s.as.Status.RealmName
	mappers, err := kc.ListComponents(ctx, realm, parentID, desired.ProviderTypeLDAPMapper)
	if err != nil {
		return "", err
	}
	var actual *gocloak.Component
	for _, m := range mappers {
		if gocloak.PString(m.Name) == desired.GroupMapperName {
			actual = m
		}
	}
	if us.Spec.LDAP.GroupSearch == nil {
		if actual != nil {
			return "", kc.DeleteComponent(ctx, realm, gocloak.PString(actual.ID))
		}
		return "", nil
	}
	want := desired.GroupMapper(us, parentID)
	if actual == nil {
		return kc.CreateComponent(ctx, realm, want)
	}
	if diff := desired.ComponentDiff(want, *actual); len(diff) > 0 {
		if err := kc.UpdateComponent(ctx, realm, desired.MergeComponent(want, *actual, false)); err != nil {
			return "", err
		}
		if driftIsEdit {
			s.rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to the group mapper %q of realm %q: %s", desired.GroupMapperName, realm, strings.Join(diff, ", ")))
		}
	}
	return gocloak.PString(actual.ID), nil
}

// removeFederation deletes Nauthera's LDAP components from the realm (all
// of them, found by name, whatever status says; Keycloak removes the users
// they imported) and says so. The scope's realmID may be empty (read here).
func (r *AuthServerReconciler) removeFederation(ctx context.Context, s *serverScope, why string) error {
	as, kc, rep, realm, realmID := s.as, s.kc, s.rep, s.as.Status.RealmName, s.realmID
	if realmID == "" {
		rr, err := kc.GetRealm(ctx, realm)
		if keycloak.IsNotFound(err) {
			as.Status.UserStore = nil
			return nil
		}
		if err != nil {
			return err
		}
		realmID = gocloak.PString(rr.ID)
	}
	own, err := r.ownComponents(ctx, kc, realm, realmID)
	if err != nil {
		return err
	}
	for _, c := range own {
		err := kc.DeleteComponent(ctx, realm, gocloak.PString(c.ID))
		if keycloak.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		ctrl.LoggerFrom(ctx).Info("Removed LDAP federation from realm", "realm", realm, "component", gocloak.PString(c.Name))
		rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonUserStoreRemoved, fmt.Sprintf(
			"Removed the LDAP federation %q from realm %q (%s); the users it had imported were removed with it", gocloak.PString(c.Name), realm, why))
	}
	as.Status.UserStore = nil
	return nil
}
