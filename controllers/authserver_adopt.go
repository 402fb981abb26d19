package controllers

import (
	"context"
	"fmt"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// adoptRealm decides about a realm that exists in Keycloak and that no
// AuthServer manages (actual). Without spec.adoption.realm it is refused
// (RealmConflict). With it, the diff is shown in status.adoption and only
// read until the auth.nauthera.io/adopt annotation holds its hash; then the
// realm's managed fields and Nauthera's owner marks are written, and the
// realm is returned as Keycloak has it after the write.
func (r *AuthServerReconciler) adoptRealm(ctx context.Context, as *authv1.AuthServer, kc keycloak.Admin, rep reconciler.Reporter, actual *gocloak.RealmRepresentation) (*gocloak.RealmRepresentation, error) {
	name := as.EffectiveRealmName()
	if as.Spec.Adoption == nil || !as.Spec.Adoption.Realm {
		as.Status.Adoption = nil
		return nil, reconciler.Permanent(authv1.ReasonRealmConflict, "realm %q already exists in Keycloak and is not managed by Nauthera; refusing to take it over (set spec.realmName to use another realm, or spec.adoption.realm to adopt it)", name)
	}
	want := desired.Realm(as)
	want.Attributes[desired.AttrAdopted] = "true"
	d := desired.RealmAdoptionDiff(want, *actual, as.Spec.DeletionPolicy)
	ack := as.Annotations[authv1.AnnotationAdopt]
	if !d.Acknowledged(ack) {
		as.Status.Adoption = d.PendingStatus(as.Status.Adoption, metav1.Now())
		return nil, adoptionPending(fmt.Sprintf("realm %q", name), len(d.Entries), ack)
	}
	ctrl.LoggerFrom(ctx).Info("Adopting Keycloak realm", "realm", name, "fields", desired.RealmDiff(want, *actual))
	if err := kc.UpdateRealm(ctx, want); err != nil {
		return nil, err
	}
	after, err := kc.GetRealm(ctx, name)
	if err != nil {
		return nil, err
	}
	as.Status.Adoption = d.AdoptedStatus(as.Status.Adoption, metav1.Now())
	rep.Event(ctx, as, corev1.EventTypeNormal, authv1.ReasonRealmAdopted,
		fmt.Sprintf("Adopted Keycloak realm %q after its diff (%s) was acknowledged", name, d.Hash))
	return after, nil
}
