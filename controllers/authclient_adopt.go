package controllers

import (
	"context"
	"fmt"
	"strings"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// stepAdoption adopts the existing Keycloak client that spec.adopt asks for,
// before the keycloakClient step would refuse it (ClientIdConflict). Until
// the diff it shows in status.adoption is acknowledged (the
// auth.nauthera.io/adopt annotation holds its hash) it only reads Keycloak.
// Once adopted (status.clientId set) the client is an ordinary managed one
// and this step does nothing.
func (r *AuthClientReconciler) stepAdoption(ctx context.Context, s *authClientScope) stepResult {
	ac := s.ac
	if !ac.Spec.Adopt || ac.Status.ClientID != "" {
		return goOn()
	}
	realm, clientID := s.realm(), ac.EffectiveClientID()
	// Decided before any read: an app team learns nothing of the realm's
	// clients from a request its AuthServer does not allow.
	if !desired.AdoptionAllowed(s.as.Spec.Adoption, ac.Namespace, clientID) {
		ac.Status.Adoption = nil
		return endWith(reconciler.Permanent(authv1.ReasonAdoptionNotPermitted,
			"spec.adopt: AuthServer %s does not let namespace %q adopt clientId %q (its spec.adoption.clients; Keycloak's built-in clients are never adopted); nothing was read or written in Keycloak",
			authServerKey(ac), ac.Namespace, clientID))
	}
	actual, err := s.kc.FindClient(ctx, realm, clientID)
	if err != nil && !keycloak.IsNotFound(err) {
		return endWith(err)
	}
	switch owner := desired.ClientOwner(actual); {
	case actual != nil && owner == desired.Owner(ac.Namespace, ac.Name):
		// Adopted by an earlier reconcile whose status was not written.
		ac.Status.ClientID = clientID
		if actual.Attributes[desired.AttrAdopted] == "true" && !ac.Adopted() {
			now := metav1.Now()
			ac.Status.Adoption = &authv1.AdoptionStatus{AdoptedAt: &now}
		}
		return goOn()
	case actual == nil || owner != "":
		// Missing, or managed by another AuthClient or Nauthera object:
		// one message for both, so that it tells nobody whether the
		// clientId exists or who holds it.
		ac.Status.Adoption = nil
		return endWith(reconciler.Permanent(authv1.ReasonAdoptionNotPermitted,
			"spec.adopt: realm %q has no Keycloak client %q that can be adopted: adoption takes only a client that exists in the realm and that Nauthera does not manage already; nothing was written",
			realm, clientID))
	}
	if err := r.adoptClient(ctx, s, actual); err != nil {
		return endWith(err)
	}
	// Adopted: the rest of the chain brings it into line (audiences) and
	// mirrors its secret into the Secret.
	return goOn()
}

// adoptClient shows the diff of adopting the unmanaged Keycloak client
// actual, and adopts it once the diff is acknowledged: its managed fields,
// scopes and Nauthera's owner marks are written; its secret is kept.
func (r *AuthClientReconciler) adoptClient(ctx context.Context, s *authClientScope, actual *gocloak.Client) error {
	ac, realm, clientID := s.ac, s.realm(), s.ac.EffectiveClientID()
	want := wantedClient(s)
	// As for a client it created: one whose authentication the policies
	// forbid keeps the one it has (reported by the keycloakClient step).
	kept := desired.ApplyAuthentication(want, *actual, s.gov.authViolation != "")
	want = kept.Client
	want.Attributes[desired.AttrAdopted] = "true"
	ch := clientChanges{diff: desired.ClientDiff(want, *actual), scopes: desired.ScopePlan(s.gov.scopes, *actual)}
	d := desired.ClientAdoptionDiff(want, *actual, ch.scopes, ac.Spec.DeletionPolicy)
	secretFate := "its secret was kept"
	if ac.BringsOwnSecret() {
		// The byoSecret step sets the referenced value after adoption.
		d = d.WithOwnSecret(gocloak.PString(actual.ID), *ac.Spec.ClientSecretRef)
		secretFate = "its secret is set from spec.clientSecretRef"
	}
	ack := ac.Annotations[authv1.AnnotationAdopt]
	if !d.Acknowledged(ack) {
		ac.Status.Adoption = d.PendingStatus(ac.Status.Adoption, metav1.Now())
		return adoptionPending(fmt.Sprintf("Keycloak client %q in realm %q", clientID, realm), len(d.Entries), ack)
	}
	// The checks a created client passes, before the first write.
	if err := r.checkSecretName(ctx, ac, s.gov.secret); err != nil {
		return err
	}
	if gocloak.PString(want.ClientAuthenticatorType) == desired.AuthenticatorFederatedJWT {
		if err := s.gov.claimServiceAccount(); err != nil {
			return err
		}
	}
	ctrl.LoggerFrom(ctx).Info("Adopting Keycloak client", "clientId", clientID, "realm", realm, "fields", ch.diff)
	if err := r.applyClientChanges(ctx, s, want, actual, ch); err != nil {
		return err
	}
	ac.Status.Adoption = d.AdoptedStatus(ac.Status.Adoption, metav1.Now())
	ac.Status.ClientID = clientID
	s.rep.Event(ctx, ac, corev1.EventTypeNormal, authv1.ReasonClientAdopted,
		fmt.Sprintf("Adopted Keycloak client %q in realm %q after its diff (%s) was acknowledged; %s", clientID, realm, d.Hash, secretFate))
	return nil
}

// adoptionPending is the failure that waits for the acknowledgement of an
// adoption's diff: a Stalled reason (retrying changes nothing), read again
// on resync and on every change of the object (the annotation included).
func adoptionPending(what string, changes int, ack string) error {
	var b strings.Builder
	if ack != "" {
		// A stale acknowledgement: never written on.
		b.WriteString("the diff acknowledged by the " + authv1.AnnotationAdopt + " annotation is no longer the current one (the object changed in Keycloak since); ")
	}
	fmt.Fprintf(&b, "%s is not managed by Nauthera; adopting it changes %d field(s), listed in status.adoption.diff. Nothing is written until the annotation %s holds status.adoption.hash", what, changes, authv1.AnnotationAdopt)
	return reconciler.Permanent(authv1.ReasonAdoptionPending, "%s", b.String())
}
