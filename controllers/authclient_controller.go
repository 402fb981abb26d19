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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// FieldOwner is the field manager of everything the operator writes.
const FieldOwner = "nauthera"

// indexAuthServerRef indexes AuthClients by the AuthServer they reference.
const indexAuthServerRef = "spec.authServerRef"

// AuthClientReconciler keeps a Keycloak client and a credentials Secret in
// line with each AuthClient.
type AuthClientReconciler struct {
	client.Client
	Connections *Connections
	Recorder    events.EventRecorder
	// Resync is how often a Ready AuthClient is checked against Keycloak
	// (drift in Keycloak has no watch).
	Resync time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// MaxBackoff caps the delay between retries after transient failures.
	MaxBackoff time.Duration
}

// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authclients/finalizers,verbs=update
// +kubebuilder:rbac:groups=auth.nauthera.io,resources=authservers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile ensures the Keycloak client and Secret of one AuthClient.
func (r *AuthClientReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	ac := &authv1.AuthClient{}
	if err := r.Get(ctx, req.NamespacedName, ac); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := ac.DeepCopy()
	rep := reporter{recorder: r.Recorder}
	defer func() {
		if err := patchStatus(ctx, r.Client, before, ac, func(o object) any { return o.(*authv1.AuthClient).Status }); err != nil && retErr == nil {
			retErr = err
		}
	}()

	if !ac.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, ac, rep)
	}
	if controllerutil.AddFinalizer(ac, Finalizer) {
		if err := r.Update(ctx, ac); err != nil {
			return ctrl.Result{}, err
		}
	}

	err := r.reconcile(ctx, ac, rep)
	if err == nil {
		ac.Status.ObservedGeneration = ac.Generation
		rep.ready(ctx, ac, authv1.ReasonClientProvisioned, "OIDC client has been successfully provisioned.")
		return ctrl.Result{RequeueAfter: jitter(r.Resync, req.String())}, nil
	}
	return rep.failed(ctx, ac, err, r.Resync)
}

func (r *AuthClientReconciler) reconcile(ctx context.Context, ac *authv1.AuthClient, rep reporter) error {
	if err := r.checkClientID(ctx, ac); err != nil {
		return err
	}
	as, err := r.authServer(ctx, ac)
	if err != nil {
		return err
	}
	kc, err := r.Connections.For(ctx, as)
	if err != nil {
		return err
	}
	kcClient, err := r.reconcileClient(ctx, ac, as, kc, rep)
	if err != nil {
		return err
	}
	secret := ""
	if ac.Spec.ClientType != authv1.ClientTypePublic {
		// The client representation carries the secret; read it separately
		// only if this Keycloak left it out.
		secret = gocloak.PString(kcClient.Secret)
		if secret == "" {
			if secret, err = kc.GetClientSecret(ctx, as.Status.RealmName, gocloak.PString(kcClient.ID)); err != nil {
				return err
			}
		}
	}
	if err := r.reconcileSecret(ctx, ac, as, secret, rep); err != nil {
		return err
	}
	ac.Status.ClientID = ac.EffectiveClientID()
	ac.Status.ClientSecretRef = &authv1.LocalObjectReference{Name: ac.SecretName()}
	ac.Status.Issuer = as.Status.Issuer
	return nil
}

// authServer returns the referenced AuthServer if this AuthClient may use it
// and its realm is ready.
func (r *AuthClientReconciler) authServer(ctx context.Context, ac *authv1.AuthClient) (*authv1.AuthServer, error) {
	key := authServerKey(ac)
	as := &authv1.AuthServer{}
	if err := r.Get(ctx, key, as); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, permanent(authv1.ReasonAuthServerNotFound, "AuthServer %s not found", key)
		}
		return nil, err
	}
	if sel := as.Spec.ClientNamespaceSelector; sel != nil {
		selector, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s has an invalid clientNamespaceSelector: %v", key, err)
		}
		ns := &corev1.Namespace{}
		if err := r.Get(ctx, types.NamespacedName{Name: ac.Namespace}, ns); err != nil {
			return nil, err
		}
		if !selector.Matches(labels.Set(ns.Labels)) {
			return nil, permanent(authv1.ReasonNamespaceNotAllowed, "AuthServer %s does not accept clients from namespace %q (its clientNamespaceSelector does not match)", key, ac.Namespace)
		}
	}
	if !as.DeletionTimestamp.IsZero() {
		return nil, permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is being deleted", key)
	}
	c := findReady(as)
	if c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1.ReasonKeycloakUnavailable {
		return nil, &failure{reason: authv1.ReasonKeycloakUnavailable, transient: true,
			msg: fmt.Sprintf("%s (reported by AuthServer %s)", c.Message, key)}
	}
	// Ready for any generation: an AuthServer spec edit must not flap every
	// client while the AuthServer reconciler catches up.
	if as.Status.RealmName == "" || c == nil || c.Status != metav1.ConditionTrue {
		if c == nil && time.Since(as.CreationTimestamp.Time) > 2*time.Minute {
			// Nobody reconciles it: not a wait any more, a misconfiguration.
			return nil, permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s still has no status minutes after its creation; is the operator watching namespace %q?", key, key.Namespace)
		}
		if c == nil || c.Reason == authv1.ReasonProgressing {
			// A new AuthServer: its realm usually exists within a second.
			return nil, &failure{reason: authv1.ReasonAuthServerNotReady, waiting: true,
				msg: fmt.Sprintf("Waiting for AuthServer %s to provision its realm", key)}
		}
		return nil, permanent(authv1.ReasonAuthServerNotReady, "AuthServer %s is not ready: %s: %s", key, c.Reason, c.Message)
	}
	return as, nil
}

// checkClientID refuses an explicit clientId shaped like another namespace's
// default (`<namespace>.<name>`): a team could otherwise claim a client ID
// before its rightful owner, and impersonate that application.
func (r *AuthClientReconciler) checkClientID(ctx context.Context, ac *authv1.AuthClient) error {
	prefix, _, ok := strings.Cut(ac.Spec.ClientID, ".")
	if !ok || prefix == ac.Namespace {
		return nil
	}
	err := r.Get(ctx, types.NamespacedName{Name: prefix}, &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return permanent(authv1.ReasonInvalidSpec, "clientId %q has the form of a default clientId of namespace %q; use a clientId that does not start with another namespace's name", ac.Spec.ClientID, prefix)
}

func authServerKey(ac *authv1.AuthClient) types.NamespacedName {
	ns := ac.Spec.AuthServerRef.Namespace
	if ns == "" {
		ns = ac.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: ac.Spec.AuthServerRef.Name}
}

// reconcileClient makes the Keycloak client match the AuthClient and
// returns it as Keycloak has it.
func (r *AuthClientReconciler) reconcileClient(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, kc keycloak.Admin, rep reporter) (*gocloak.Client, error) {
	log := ctrl.LoggerFrom(ctx)
	realm := as.Status.RealmName
	want := desired.Client(ac)
	clientID := ac.EffectiveClientID()

	actual, err := kc.FindClient(ctx, realm, clientID)
	if keycloak.IsNotFound(err) {
		return r.createClient(ctx, ac, kc, realm, want, rep)
	}
	if err != nil {
		return nil, err
	}
	me := desired.Owner(ac.Namespace, ac.Name)
	if owner := desired.ClientOwner(actual); owner != me {
		who := "a client not managed by Nauthera"
		if owner != "" {
			who = "AuthClient " + owner
		}
		return nil, permanent(authv1.ReasonClientIDConflict, "clientId %q already exists in realm %q and belongs to %s; the operator does not take it over", clientID, realm, who)
	}
	drifted := ac.Status.ObservedGeneration == ac.Generation && isReady(ac)
	if diff := desired.ClientDiff(want, *actual); len(diff) > 0 {
		log.Info("Updating Keycloak client", "clientId", clientID, "fields", diff)
		merged := desired.MergeClient(want, *actual)
		if err := kc.UpdateClient(ctx, realm, merged); err != nil {
			return nil, err
		}
		if drifted {
			rep.event(ctx, ac, corev1.EventTypeWarning, "DriftReverted", fmt.Sprintf("Reverted changes made in Keycloak to client %q: %s", clientID, strings.Join(diff, ", ")))
		}
		merged.Secret = actual.Secret
		actual = &merged
	}
	if plan := desired.ScopePlan(ac.Spec.Scopes, *actual); len(plan) > 0 {
		if err := r.applyScopes(ctx, kc, realm, gocloak.PString(actual.ID), ac.Spec.Scopes, plan); err != nil {
			return nil, err
		}
		if drifted {
			var names []string
			for _, p := range plan {
				names = append(names, p.Name)
			}
			rep.event(ctx, ac, corev1.EventTypeWarning, "DriftReverted", fmt.Sprintf("Reverted changes made in Keycloak to the scopes of client %q: %s", clientID, strings.Join(names, ", ")))
		}
	}
	return actual, nil
}

func (r *AuthClientReconciler) createClient(ctx context.Context, ac *authv1.AuthClient, kc keycloak.Admin, realm string, want gocloak.Client, rep reporter) (*gocloak.Client, error) {
	clientID := gocloak.PString(want.ClientID)
	scopeIDs, err := r.realmScopes(ctx, kc, realm, ac.Spec.Scopes)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(scopeIDs))
	for n := range scopeIDs {
		names = append(names, n)
	}
	want.DefaultClientScopes, want.OptionalClientScopes = desired.CreateScopes(ac.Spec.Scopes, names)
	ctrl.LoggerFrom(ctx).Info("Creating Keycloak client", "clientId", clientID, "realm", realm)
	id, err := kc.CreateClient(ctx, realm, want)
	switch {
	case keycloak.IsConflict(err):
		// Created between our lookup and our create: look again next time.
		return nil, &failure{reason: authv1.ReasonClientIDConflict, transient: true,
			msg: fmt.Sprintf("clientId %q appeared in realm %q while it was being created; checking again", clientID, realm)}
	case keycloak.IsNotFound(err):
		return nil, &failure{reason: authv1.ReasonAuthServerNotReady, transient: true,
			msg: fmt.Sprintf("realm %q does not exist in Keycloak; waiting for AuthServer %s to recreate it", realm, authServerKey(ac))}
	case err != nil:
		return nil, err
	}
	created, err := kc.GetClient(ctx, realm, id)
	if err != nil {
		return nil, err
	}
	rep.event(ctx, ac, corev1.EventTypeNormal, "ClientCreated", fmt.Sprintf("Created Keycloak client %q in realm %q", clientID, realm))
	return created, nil
}

// realmScopes returns the realm's client scopes by name, after creating the
// custom scopes the AuthClient asks for.
func (r *AuthClientReconciler) realmScopes(ctx context.Context, kc keycloak.Admin, realm string, requested []string) (map[string]string, error) {
	ids := map[string]string{}
	if len(requested) == 0 {
		return ids, nil
	}
	scopes, err := kc.ListClientScopes(ctx, realm)
	if err != nil {
		return nil, err
	}
	for _, s := range scopes {
		ids[gocloak.PString(s.Name)] = gocloak.PString(s.ID)
	}
	for _, name := range desired.CustomScopes(requested) {
		if ids[name] != "" {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Creating Keycloak client scope", "scope", name, "realm", realm)
		id, _, err := kc.EnsureClientScope(ctx, realm, gocloak.ClientScope{
			Name:        gocloak.StringP(name),
			Description: gocloak.StringP("Created by Nauthera for AuthClients that request it"),
			Protocol:    gocloak.StringP("openid-connect"),
			ClientScopeAttributes: &gocloak.ClientScopeAttributes{
				IncludeInTokenScope: gocloak.StringP("true"),
			},
		})
		if err != nil {
			return nil, err
		}
		ids[name] = id
	}
	return ids, nil
}

func (r *AuthClientReconciler) applyScopes(ctx context.Context, kc keycloak.Admin, realm, id string, requested []string, plan []desired.ScopeChange) error {
	ids, err := r.realmScopes(ctx, kc, realm, requested)
	if err != nil {
		return err
	}
	for _, p := range plan {
		scopeID := ids[p.Name]
		if scopeID == "" {
			return permanent(authv1.ReasonInvalidSpec, "client scope %q does not exist in realm %q", p.Name, realm)
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

// reconcileSecret writes the credentials Secret, changing it only when its
// content differs.
func (r *AuthClientReconciler) reconcileSecret(ctx context.Context, ac *authv1.AuthClient, as *authv1.AuthServer, clientSecret string, rep reporter) error {
	data := desired.SecretData(ac, as.Status.Issuer, clientSecret)
	hash := desired.Hash(data)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ac.SecretName(), Namespace: ac.Namespace}}
	op, err := controllerutil.CreateOrUpdate(ctx, client.WithFieldOwner(r.Client, FieldOwner), s, func() error {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[desired.LabelManagedBy] = desired.ManagedByValue
		s.Labels[desired.LabelAuthClient] = ac.Name
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[desired.AnnotationHash] = hash
		s.Annotations[desired.AnnotationAuthServer] = authServerKey(ac).String()
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		return controllerutil.SetControllerReference(ac, s, r.Scheme())
	})
	if apierrors.IsAlreadyExists(err) {
		// The cache holds only Secrets the operator manages: this one is someone else's.
		return permanent(authv1.ReasonInvalidSpec, "Secret %s/%s already exists and is not managed by Nauthera; delete or rename it", ac.Namespace, ac.SecretName())
	}
	if err != nil {
		return err
	}
	switch op {
	case controllerutil.OperationResultCreated:
		rep.event(ctx, ac, corev1.EventTypeNormal, "SecretCreated", fmt.Sprintf("Wrote credentials to Secret %s", ac.SecretName()))
	case controllerutil.OperationResultUpdated:
		rep.event(ctx, ac, corev1.EventTypeNormal, "SecretUpdated", fmt.Sprintf("Updated Secret %s", ac.SecretName()))
	}
	return nil
}

func (r *AuthClientReconciler) reconcileDelete(ctx context.Context, ac *authv1.AuthClient, rep reporter) error {
	if !controllerutil.ContainsFinalizer(ac, Finalizer) {
		return nil
	}
	if ac.Spec.DeletionPolicy != authv1.DeletionPolicyOrphan {
		if err := r.deleteClient(ctx, ac, rep); err != nil {
			rep.fail(ctx, ac, authv1.ReasonDeleting, "Cannot delete the Keycloak client yet: "+err.Error(), true)
			return err
		}
	}
	controllerutil.RemoveFinalizer(ac, Finalizer)
	if err := r.Update(ctx, ac); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// deleteClient deletes the Keycloak client if this AuthClient owns it. A
// vanished AuthServer, realm or credentials Secret never blocks deletion;
// an unreachable Keycloak does (it is retried), or the client would leak.
func (r *AuthClientReconciler) deleteClient(ctx context.Context, ac *authv1.AuthClient, rep reporter) error {
	as := &authv1.AuthServer{}
	if err := r.Get(ctx, authServerKey(ac), as); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	realm := as.Status.RealmName
	if realm == "" {
		return nil
	}
	err := func() error {
		kc, err := r.Connections.For(ctx, as)
		if err != nil {
			return err
		}
		// Not found: the client, or its whole realm, is gone already.
		actual, err := kc.FindClient(ctx, realm, ac.EffectiveClientID())
		if err == nil && desired.ClientOwner(actual) == desired.Owner(ac.Namespace, ac.Name) {
			ctrl.LoggerFrom(ctx).Info("Deleting Keycloak client", "clientId", ac.EffectiveClientID(), "realm", realm)
			err = kc.DeleteClient(ctx, realm, gocloak.PString(actual.ID))
		}
		return err
	}()
	return settleDeletion(err, func(err error) {
		rep.event(ctx, ac, corev1.EventTypeWarning, "ClientLeftBehind", fmt.Sprintf("Keycloak client %q in realm %q was not deleted: %v", ac.EffectiveClientID(), realm, err))
	})
}

// SetupWithManager registers the reconciler with its watches: the AuthClient,
// the Secret it owns, and the AuthServer it references.
func (r *AuthClientReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &authv1.AuthClient{}, indexAuthServerRef, func(o client.Object) []string {
		return []string{authServerKey(o.(*authv1.AuthClient)).String()}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status updates (our own) do not trigger a reconcile; spec changes,
		// deletion and annotations (a manual nudge) do.
		For(&authv1.AuthClient{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}, builder.WithPredicates(secretTampered)).
		Watches(&authv1.AuthServer{}, handler.EnqueueRequestsFromMapFunc(r.clientsOf)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles),
			RateLimiter:             rateLimiter(0, r.MaxBackoff),
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

// clientsOf maps an AuthServer to the AuthClients that reference it.
func (r *AuthClientReconciler) clientsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list authv1.AuthClientList
	key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}.String()
	if err := r.List(ctx, &list, client.MatchingFields{indexAuthServerRef: key}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AuthClients of AuthServer", "authServer", key)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ac := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ac)})
	}
	slices.SortFunc(reqs, func(a, b reconcile.Request) int { return strings.Compare(a.String(), b.String()) })
	return reqs
}
