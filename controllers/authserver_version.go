package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The Keycloak version, seen from an AuthServer: read when the operator
// connects (keycloak.ServerInfo, cached per connection for
// keycloak.ServerInfoTTL), recorded in status.keycloakVersion, and asked
// by pkg/kcversion what the server can do. A server older than the
// supported range stalls the AuthServer; a feature the server lacks is
// the FeatureNeedsKeycloak reason on that feature's condition. Both are
// looked at again after versionRecheck, so an upgrade (or a feature turned
// on) is seen without an edit, and nothing Keycloak would refuse is sent
// in between.

// versionRecheck is how soon an AuthServer stalled by its Keycloak's
// version or features is looked at again: when the server info read by
// then has expired (a shorter resync in tests comes first).
func (r *AuthServerReconciler) versionRecheck() time.Duration {
	if r.Resync > 0 && r.Resync < keycloak.ServerInfoTTL {
		return r.Resync
	}
	return keycloak.ServerInfoTTL
}

// readServer reads what the AuthServer's Keycloak says about itself into
// the scope and the status. It never fails the reconcile: a server info
// that cannot be read (an outage) leaves the version last read
// (status.keycloakVersion) to decide, so a blip lets no write through to a
// server refused before; with none, or for an identity without the rights,
// nothing is known, and Keycloak answers each request as it did before
// versions were read. It reports whether the server is supported.
func (r *AuthServerReconciler) readServer(ctx context.Context, s *serverScope) bool {
	as := s.as
	info, err := s.kc.ServerInfo(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Cannot read Keycloak's server info; the version last read decides", "version", as.Status.KeycloakVersion, "error", err.Error())
		s.server = kcversion.Server{Version: as.Status.KeycloakVersion}
	} else {
		// Cleaned: a version longer than the status field allows would make
		// the API server refuse every status patch of the AuthServer.
		version := kcversion.Clean(info.Version)
		s.server = kcversion.Server{Version: version, Features: info.Features}
		if as.Status.KeycloakVersion != version {
			ctrl.LoggerFrom(ctx).Info("Keycloak version", "version", version, "previous", as.Status.KeycloakVersion)
		}
		as.Status.KeycloakVersion = version
	}
	ok, msg := kcversion.Supported(s.server)
	if !ok {
		s.rep.Stalled(ctx, as, authv1.ReasonKeycloakVersionUnsupported, msg)
	}
	return ok
}

// needsFeature reports whether the AuthServer's Keycloak lacks what req
// needs; if so it sets the condition typ to False with reason
// FeatureNeedsKeycloak (a Warning Event on the transition).
func needsFeature(ctx context.Context, s *serverScope, typ string, req kcversion.Requirement) bool {
	ok, msg := kcversion.Check(s.server, req)
	if ok {
		return false
	}
	s.rep.Condition(ctx, s.as, reconciler.NewCondition(typ, metav1.ConditionFalse, authv1.ReasonFeatureNeedsKeycloak, msg))
	s.featureMissing = true
	return true
}

// unsupportedResult is the outcome of a reconcile stopped by an
// unsupported Keycloak: no error (retrying sooner would not help), looked
// at again once the server info may have changed.
func (r *AuthServerReconciler) unsupportedResult() ctrl.Result {
	return ctrl.Result{RequeueAfter: r.versionRecheck()}
}
