package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

func (r *AuthServerReconciler) reconcileUserStore(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter) error {
	realm := as.Status.RealmName
	if as.Spec.UserStoreRef == nil {
		if as.Status.UserStore != nil {
			if err := r.removeFederation(ctx, as, kc, rep, "spec.userStoreRef was removed"); err != nil {
				return err
			}
		}
		reconciler.RemoveCondition(as, authv1.UserStoreCondition)
		return nil
	}
	us, password, secretVersion, problem, err := r.userStoreFor(ctx, as)
	if err != nil {
		return err
	}
	if problem == nil {
		problem, err = r.applyFederation(ctx, as, kc, us, password, secretVersion, rep)
		if err != nil && (keycloak.IsTransient(err) && !keycloak.IsWriteFailed(err)) {
			return err
		}
		if err != nil {
			problem = &userStoreProblem{reason: authv1.ReasonKeycloakRejected, msg: fmt.Sprintf("Keycloak refused the LDAP federation in realm %q: %v", realm, err)}
		}
	}
	if problem != nil {
		if problem.remove && as.Status.UserStore != nil {
			if err := r.removeFederation(ctx, as, kc, rep, problem.msg); err != nil {
				return err
			}
		}
		r.userStoreCondition(ctx, as, rep, metav1.ConditionFalse, problem.reason, problem.msg)
		return nil
	}
	return nil
}

// userStoreFor resolves the UserStore and its bind password, or the
// problem with them.
func (r *AuthServerReconciler) userStoreFor(ctx context.Context, as *authv1.AuthServer) (*authv1.UserStore, string, string, *userStoreProblem, error) {
	ref := as.Spec.UserStoreRef
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if key.Namespace == "" {
		key.Namespace = as.Namespace
	}
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
	if us.Spec.LDAP == nil {
		return nil, "", "", &userStoreProblem{reason: authv1.ReasonInvalidSpec, msg: fmt.Sprintf("UserStore %s has no ldap settings", key)}, nil
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

// applyFederation makes the realm's LDAP component and group mapper match
// the UserStore, and syncs when due.
func (r *AuthServerReconciler) applyFederation(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, us *authv1.UserStore, password, secretVersion string, rep reconciler.Reporter) (*userStoreProblem, error) {
	log := ctrl.LoggerFrom(ctx)
	realm := as.Status.RealmName
	usKey := client.ObjectKeyFromObject(us).String()
	st := as.Status.UserStore.DeepCopy()
	if st == nil || st.UserStore != usKey {
		st = &authv1.RealmUserStoreStatus{UserStore: usKey}
	}
	rep2, err := kc.GetRealm(ctx, realm)
	if err != nil {
		return nil, err
	}
	want := desired.LDAPComponent(us, gocloak.PString(rep2.ID), password)
	actual, err := r.findComponent(ctx, kc, realm, gocloak.PString(rep2.ID), st.ComponentID, desired.LDAPComponentName(us))
	if err != nil {
		return nil, err
	}
	specChanged := st.AppliedGeneration != us.Generation || st.BindSecretVersion != secretVersion
	var diff []string
	if actual != nil {
		diff = desired.ComponentDiff(want, *actual)
	}
	created := false
	if actual == nil || len(diff) > 0 || specChanged {
		// Before anything is written: can Keycloak reach the directory and
		// bind? A failure leaves what exists as it is.
		if problem, err := r.testLDAP(ctx, kc, realm, us, password); problem != nil || err != nil {
			return problem, err
		}
		switch {
		case actual == nil:
			log.Info("Creating LDAP federation in realm", "realm", realm, "userStore", usKey)
			id, err := kc.CreateComponent(ctx, realm, want)
			if err != nil {
				return nil, err
			}
			st.ComponentID, created = id, true
			rep.Event(ctx, as, corev1.EventTypeNormal, "UserStoreFederated", fmt.Sprintf("Federated UserStore %s (%s) into realm %q", usKey, us.Spec.LDAP.Server, realm))
		default:
			log.Info("Updating LDAP federation in realm", "realm", realm, "userStore", usKey, "fields", diff)
			// The password is written when the Secret changed or the
			// component is new to this status; Keycloak keeps the stored
			// one otherwise (Keycloak shows it masked: no drift check).
			merged := desired.MergeComponent(want, *actual, st.BindSecretVersion != secretVersion || st.ComponentID == "")
			if err := kc.UpdateComponent(ctx, realm, merged); err != nil {
				return nil, err
			}
			st.ComponentID = gocloak.PString(actual.ID)
			if !specChanged && len(diff) > 0 {
				rep.Event(ctx, as, corev1.EventTypeWarning, "DriftReverted", fmt.Sprintf("Reverted changes made in Keycloak to the LDAP federation %q of realm %q: %s", desired.LDAPComponentName(us), realm, strings.Join(diff, ", ")))
			}
		}
	} else {
		st.ComponentID = gocloak.PString(actual.ID)
	}
	mapperID, err := r.reconcileGroupMapper(ctx, kc, realm, us, st.ComponentID)
	if err != nil {
		return nil, err
	}
	st.AppliedGeneration, st.BindSecretVersion = us.Generation, secretVersion
	as.Status.UserStore = st

	// Sync after creation and on request (annotation on the UserStore);
	// Keycloak's own periodic syncs do the rest.
	request := requestKey(us.Annotations[authv1.AnnotationSyncUsers])
	if created || (request != "" && request != st.LastSyncRequest) {
		res, err := kc.SyncUsers(ctx, realm, st.ComponentID, true)
		if err != nil {
			return nil, err
		}
		if mapperID != "" {
			if _, err := kc.SyncMapper(ctx, realm, st.ComponentID, mapperID); err != nil {
				return nil, err
			}
		}
		st.LastSync = &authv1.UserSyncStatus{Time: metav1.Now(), Realm: realm, Added: res.Added, Updated: res.Updated, Removed: res.Removed, Failed: res.Failed}
		st.LastSyncRequest = request
		log.Info("Synced users from LDAP", "realm", realm, "added", res.Added, "updated", res.Updated, "removed", res.Removed, "failed", res.Failed)
		if res.Added+res.Updated == 0 {
			return &userStoreProblem{reason: authv1.ReasonLDAPNoUsers, msg: fmt.Sprintf(
				"A sync of UserStore %s into realm %q found no user under %s with filter %s (added 0, updated 0, removed %d, failed %d): check userSearch.baseDN and filter",
				usKey, realm, us.Spec.LDAP.UserSearch.BaseDN, orNone(us.Spec.LDAP.UserSearch.Filter), res.Removed, res.Failed)}, nil
		}
		rep.Event(ctx, as, corev1.EventTypeNormal, "UsersSynced", fmt.Sprintf("Synced users of UserStore %s into realm %q: %d added, %d updated, %d removed, %d failed", usKey, realm, res.Added, res.Updated, res.Removed, res.Failed))
	}
	if c := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition); c != nil && c.Reason == authv1.ReasonLDAPNoUsers && st.LastSync != nil && st.LastSync.Added+st.LastSync.Updated == 0 {
		// Nobody was found at the last sync: it stays a Warning until a
		// sync finds users (a spec change or the sync annotation).
		return &userStoreProblem{reason: c.Reason, msg: c.Message}, nil
	}
	r.userStoreCondition(ctx, as, rep, metav1.ConditionTrue, authv1.ReasonUserStoreConfigured, fmt.Sprintf("UserStore %s (%s) is federated into realm %q, read-only", usKey, us.Spec.LDAP.Server, realm))
	return nil, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// testLDAP asks Keycloak to connect and bind as the component will.
func (r *AuthServerReconciler) testLDAP(ctx context.Context, kc keycloak.Admin, realm string, us *authv1.UserStore, password string) (*userStoreProblem, error) {
	l := us.Spec.LDAP
	t := keycloak.LDAPTest{Action: "testConnection", ConnectionURL: l.Server, AuthType: "none", UseTruststore: "always", StartTLS: "false"}
	if l.BindDN != "" {
		t.Action, t.AuthType, t.BindDN, t.BindCredential = "testAuthentication", "simple", l.BindDN, password
	}
	err := kc.TestLDAPConnection(ctx, realm, t)
	var kerr *keycloak.Error
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &kerr) || kerr.Kind != keycloak.KindRejected:
		return nil, err
	case strings.Contains(kerr.Message, "AuthenticationFailure"):
		return &userStoreProblem{reason: authv1.ReasonLDAPBindFailed, msg: fmt.Sprintf(
			"The LDAP server %s refused the bind as %q (wrong bindDN or password; Keycloak says %s); the federation is left as it was", l.Server, l.BindDN, kerr.Message)}, nil
	default:
		return &userStoreProblem{reason: authv1.ReasonLDAPUnreachable, msg: fmt.Sprintf(
			"Keycloak cannot connect to the LDAP server %s (Keycloak says %s); the federation is left as it was", l.Server, kerr.Message)}, nil
	}
}

// findComponent finds the UserStore's component: by the id in status, else
// by its name among the realm's user-storage components.
func (r *AuthServerReconciler) findComponent(ctx context.Context, kc keycloak.Admin, realm, realmID, id, name string) (*gocloak.Component, error) {
	if id != "" {
		c, err := kc.GetComponent(ctx, realm, id)
		if err == nil {
			return c, nil
		}
		if !keycloak.IsNotFound(err) {
			return nil, err
		}
	}
	list, err := kc.ListComponents(ctx, realm, realmID, desired.ProviderTypeUserStorage)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if gocloak.PString(c.Name) == name {
			return c, nil
		}
	}
	return nil, nil
}

// reconcileGroupMapper keeps the group mapper in line with groupSearch and
// returns its id ("" when there is none).
func (r *AuthServerReconciler) reconcileGroupMapper(ctx context.Context, kc keycloak.Admin, realm string, us *authv1.UserStore, parentID string) (string, error) {
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
	if len(desired.ComponentDiff(want, *actual)) > 0 {
		if err := kc.UpdateComponent(ctx, realm, desired.MergeComponent(want, *actual, false)); err != nil {
			return "", err
		}
	}
	return gocloak.PString(actual.ID), nil
}

// removeFederation deletes the realm's LDAP component (Keycloak removes
// the users it imported with it) and says so.
func (r *AuthServerReconciler) removeFederation(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter, why string) error {
	st := as.Status.UserStore
	realm := as.Status.RealmName
	if st.ComponentID != "" {
		err := kc.DeleteComponent(ctx, realm, st.ComponentID)
		if err != nil && !keycloak.IsNotFound(err) {
			return err
		}
		ctrl.LoggerFrom(ctx).Info("Removed LDAP federation from realm", "realm", realm, "userStore", st.UserStore)
		rep.Event(ctx, as, corev1.EventTypeNormal, "UserStoreRemoved", fmt.Sprintf(
			"Removed the federation of UserStore %s from realm %q (%s); the users it had imported were removed with it", st.UserStore, realm, why))
	}
	as.Status.UserStore = nil
	return nil
}

// userStoreCondition sets UserStoreReady, with an Event when its status or
// reason changes (a Warning when it is False).
func (r *AuthServerReconciler) userStoreCondition(ctx context.Context, as *authv1.AuthServer, rep reconciler.Reporter, status metav1.ConditionStatus, reason, msg string) {
	prev := meta.FindStatusCondition(as.Status.Conditions, authv1.UserStoreCondition)
	if prev == nil || prev.Status != status || prev.Reason != reason {
		typ := corev1.EventTypeNormal
		if status == metav1.ConditionFalse {
			typ = corev1.EventTypeWarning
		}
		if status == metav1.ConditionFalse || prev != nil {
			rep.Event(ctx, as, typ, reason, msg)
		}
	}
	reconciler.SetCondition(as, authv1.UserStoreCondition, status, reason, reconciler.Truncate(msg, reconciler.MaxConditionMessage))
}
