package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
	"github.com/nauthera/nauthera/pkg/policy"
)

// reconcileRotation sets up, in the realm, the Keycloak client policy that
// rotates the secrets of the clients its AuthPolicies rotate (or removes
// it), and records what is in place in status.secretRotation: the AuthClient
// reconciler rotates a secret only once the realm's policy matches its own
// (else a rotation would have no grace period). eff is nil while the
// policies conflict: the realm is then left as it is.
//
// Problems here never make the realm un-Ready (its clients keep working);
// they are reported in the SecretRotationReady condition with a Warning.
func (r *AuthServerReconciler) reconcileRotation(ctx context.Context, s *serverScope, eff *policy.Effective) error {
	if eff == nil {
		return nil
	}
	as, kc, rep := s.as, s.kc, s.rep
	realm, owner := as.Status.RealmName, client.ObjectKeyFromObject(as).String()
	var want *authv1.RealmRotationStatus
	var profile, pol json.RawMessage
	if rot := eff.Rotation; rot != nil {
		plan, err := rot.Plan()
		if err != nil {
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.SecretRotationCondition, metav1.ConditionFalse, authv1.ReasonInvalidSpec, fmt.Sprintf("AuthPolicy %s: %v", rot.Policy, err)))
			return nil
		}
		if profile, err = desired.RotationProfile(plan, owner, rot.Policy); err == nil {
			pol, err = desired.RotationPolicy(owner)
		}
		if err != nil {
			// Not returned: an error here would make the realm un-Ready.
			rep.Condition(ctx, as, reconciler.NewCondition(authv1.SecretRotationCondition, metav1.ConditionFalse, authv1.ReasonInvalidSpec, fmt.Sprintf("AuthPolicy %s: %v", rot.Policy, err)))
			return nil
		}
		want = &authv1.RealmRotationStatus{Policy: rot.Policy, Schedule: rot.Schedule,
			GracePeriodSeconds: int64(plan.Grace / time.Second), ExpirationSeconds: int64(plan.Expiration / time.Second)}
	}
	if want != nil && needsFeature(ctx, s, authv1.SecretRotationCondition, kcversion.SecretRotation) {
		as.Status.SecretRotation = nil // nothing sent; no AuthClient rotates without the realm's policy
		return nil
	}
	if want == nil && as.Status.SecretRotation == nil {
		// Never set up: a realm without rotation costs no request.
		reconciler.RemoveCondition(as, authv1.SecretRotationCondition)
		return nil
	}

	profiles, err := kc.GetClientProfiles(ctx, realm)
	if err != nil {
		return err
	}
	policies, err := kc.GetClientPolicies(ctx, realm)
	if err != nil {
		return err
	}
	newProfiles, profilesChanged, err := desired.MergeOwned(profiles, desired.RotationName, profile)
	if err == nil {
		var policiesChanged bool
		var newPolicies []json.RawMessage
		if newPolicies, policiesChanged, err = desired.MergeOwned(policies, desired.RotationName, pol); err == nil {
			err = r.writeRotation(ctx, s, want != nil, ownedList{newProfiles, profilesChanged}, ownedList{newPolicies, policiesChanged})
			if err == nil && (profilesChanged || policiesChanged) && want != nil && as.Status.SecretRotation != nil && *as.Status.SecretRotation == *want {
				rep.Event(ctx, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted, fmt.Sprintf("Reverted changes made in Keycloak to the client policy %q of realm %q", desired.RotationName, realm))
			}
		}
	}
	if err != nil {
		if keycloak.IsTransient(err) && !keycloak.IsWriteFailed(err) {
			return err
		}
		msg := fmt.Sprintf("Cannot set up secret rotation in realm %q: %v", realm, err)
		reason := authv1.ReasonKeycloakRejected
		if kerr := (*keycloak.Error)(nil); errors.As(err, &kerr) && kerr.Operation == "clientprofiles.update" && kerr.Kind == keycloak.KindRejected {
			reason = authv1.ReasonRotationUnsupported
			msg += "; Keycloak 26.7 needs the client-secret-rotation feature (kc.sh build --features=client-secret-rotation; the chart's Keycloak has it), 26.8 and later have it on"
		}
		rep.Condition(ctx, as, reconciler.NewCondition(authv1.SecretRotationCondition, metav1.ConditionFalse, reason, msg+". Secrets are not rotated until this is fixed"))
		return nil
	}
	as.Status.SecretRotation = want
	if want == nil {
		reconciler.RemoveCondition(as, authv1.SecretRotationCondition)
		ctrl.LoggerFrom(ctx).Info("Removed secret rotation from realm", "realm", realm)
		return nil
	}
	rep.Condition(ctx, as, reconciler.NewCondition(authv1.SecretRotationCondition, metav1.ConditionTrue, authv1.ReasonRotationConfigured, fmt.Sprintf(
		"Secrets of clients governed by AuthPolicy %s rotate on schedule %q; a previous secret stays valid for %s; a secret not rotated for %s stops working",
		want.Policy, want.Schedule, time.Duration(want.GracePeriodSeconds)*time.Second, time.Duration(want.ExpirationSeconds)*time.Second)))
	return nil
}

// ownedList is a realm's list of client profiles or policies as it is to
// be written, and whether it differs from Keycloak's.
type ownedList struct {
	items   []json.RawMessage
	changed bool
}

// writeRotation writes the changed lists in the order Keycloak needs: a
// policy may only name a profile that exists, so the profile is written
// first when adding and last when removing.
func (r *AuthServerReconciler) writeRotation(ctx context.Context, s *serverScope, adding bool, profiles, policies ownedList) error {
	realm := s.as.Status.RealmName
	steps := []func() error{
		func() error {
			if !profiles.changed {
				return nil
			}
			ctrl.LoggerFrom(ctx).Info("Writing client profiles of realm", "realm", realm)
			return s.kc.PutClientProfiles(ctx, realm, profiles.items)
		},
		func() error {
			if !policies.changed {
				return nil
			}
			ctrl.LoggerFrom(ctx).Info("Writing client policies of realm", "realm", realm)
			return s.kc.PutClientPolicies(ctx, realm, policies.items)
		},
	}
	if !adding {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
