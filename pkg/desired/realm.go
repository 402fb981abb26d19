package desired

import (
	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Realm is the realm an AuthServer asks for: enabled, with the issuer URL as
// frontend URL, admin and login events on for the audit trail, and marked
// with its owner.
func Realm(as *authv1.AuthServer) gocloak.RealmRepresentation {
	name := as.EffectiveRealmName()
	display := as.Spec.DisplayName
	if display == "" {
		display = name
	}
	return gocloak.RealmRepresentation{
		Realm:                     gocloak.StringP(name),
		Enabled:                   gocloak.BoolP(true),
		DisplayName:               gocloak.StringP(display),
		EventsEnabled:             gocloak.BoolP(true),
		AdminEventsEnabled:        gocloak.BoolP(true),
		AdminEventsDetailsEnabled: gocloak.BoolP(true),
		Attributes: map[string]string{
			"frontendUrl": as.Spec.IssuerURL,
			AttrOwner:     Owner(as.Namespace, as.Name),
			AttrOwnerKind: "AuthServer",
			AttrOwnerUID:  string(as.UID),
		},
	}
}

// RealmDiff names the managed fields of want that actual does not match.
// Empty means no write is needed.
func RealmDiff(want, actual gocloak.RealmRepresentation) []string {
	var d []string
	d = diffBool(d, "enabled", want.Enabled, actual.Enabled)
	d = diffString(d, "displayName", want.DisplayName, actual.DisplayName)
	d = diffBool(d, "eventsEnabled", want.EventsEnabled, actual.EventsEnabled)
	d = diffBool(d, "adminEventsEnabled", want.AdminEventsEnabled, actual.AdminEventsEnabled)
	d = diffBool(d, "adminEventsDetailsEnabled", want.AdminEventsDetailsEnabled, actual.AdminEventsDetailsEnabled)
	return diffAttributes(d, want.Attributes, actual.Attributes)
}

// RealmOwner returns the owner recorded on a realm, or "" if none.
func RealmOwner(r *gocloak.RealmRepresentation) string {
	if r == nil {
		return ""
	}
	return r.Attributes[AttrOwner]
}
