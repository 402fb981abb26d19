package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// AttrAdopted marks a Keycloak client or realm that Nauthera adopted rather
// than created: with it, an AuthClient whose deletionPolicy is unset leaves
// the client in place when deleted, even if its status was lost.
const AttrAdopted = "nauthera.io/adopted"

// Bounds of an adoption diff in status: a client with hundreds of redirect
// URIs must not make the object too big to store or read.
const (
	// AdoptionDiffMax is how many changed fields status lists; the rest are counted.
	AdoptionDiffMax = 30
	// AdoptionValueMax is how many characters of a value status shows.
	AdoptionValueMax = 200
)

// keycloakBuiltinClients are the clients Keycloak makes in every realm: its
// consoles and its admin plumbing (realm-management holds the realm's admin
// roles). No allow-list entry hands them over: a prefix such as `a*` or
// `realm-*` must not let an app team rewrite, mirror the secret of, or (with
// deletionPolicy Delete) delete the realm's own clients.
var keycloakBuiltinClients = []string{"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"}

// BuiltinClient says whether clientID is one of Keycloak's built-in clients.
func BuiltinClient(clientID string) bool {
	return slices.Contains(keycloakBuiltinClients, clientID)
}

// AdoptionAllowed says whether the AuthServer's adoption policy lets the
// AuthClients of namespace adopt clientID. No policy allows nothing, and no
// policy allows one of Keycloak's built-in clients.
func AdoptionAllowed(p *authv1.AdoptionPolicy, namespace, clientID string) bool {
	if p == nil || BuiltinClient(clientID) {
		return false
	}
	for _, rule := range p.Clients {
		if !slices.Contains(rule.Namespaces, namespace) {
			continue
		}
		for _, pattern := range rule.ClientIDs {
			if ClientIDMatches(pattern, clientID) {
				return true
			}
		}
	}
	return false
}

// ClientIDMatches matches a clientId against an allow-list entry: an exact
// clientId, or a prefix followed by one trailing `*`. Hand-written rather
// than path.Match or a glob library: those give `?`, `[` and `*` meanings
// that clientIds (which may contain them) must not have, and a lone `*`
// (admission refuses it) must never match everything.
func ClientIDMatches(pattern, clientID string) bool {
	prefix, wildcard := strings.CutSuffix(pattern, "*")
	if !wildcard {
		return pattern == clientID
	}
	return prefix != "" && strings.HasPrefix(clientID, prefix)
}

// AdoptionDiff is what adopting a Keycloak object changes, field by field,
// and the hash that acknowledges it.
type AdoptionDiff struct {
	// Entries are every change, values whole (never a secret).
	Entries []authv1.AdoptionDiffEntry
	// Hash covers the object's internal id and every entry.
	Hash string
}

// Shown is the diff as status lists it: at most AdoptionDiffMax entries,
// values shortened to AdoptionValueMax characters, and how many were left out.
func (d AdoptionDiff) Shown() ([]authv1.AdoptionDiffEntry, int32) {
	n := min(len(d.Entries), AdoptionDiffMax)
	out := make([]authv1.AdoptionDiffEntry, 0, n)
	for _, e := range d.Entries[:n] {
		out = append(out, authv1.AdoptionDiffEntry{Field: e.Field, Keycloak: shorten(e.Keycloak), Desired: shorten(e.Desired)})
	}
	return out, int32(len(d.Entries) - n) //nolint:gosec // bounded by the client's fields
}

// shorten cuts a value to AdoptionValueMax characters and says how many
// were cut.
func shorten(v string) string {
	n := utf8.RuneCountInString(v)
	if n <= AdoptionValueMax {
		return v
	}
	return fmt.Sprintf("%s… (+%d characters)", string([]rune(v)[:AdoptionValueMax]), n-AdoptionValueMax)
}

// ClientAdoptionDiff is what bringing the Keycloak client actual into line
// with want and the scope plan changes, and what deleting the AuthClient
// would do to it (deletion, its spec.deletionPolicy). The client's secret is
// never read into it: a client with a secret shows `secret: kept` (or
// `replaced` when the spec makes it secretless).
func ClientAdoptionDiff(want, actual gocloak.Client, scopes []ScopeChange, deletion authv1.DeletionPolicy) AdoptionDiff {
	var entries []authv1.AdoptionDiffEntry
	for _, field := range ClientDiff(want, actual) {
		entries = append(entries, authv1.AdoptionDiffEntry{Field: field, Keycloak: clientField(actual, field), Desired: clientField(want, field)})
	}
	for _, s := range scopes {
		field := "defaultClientScopes." + s.Name
		if s.Optional {
			field = "optionalClientScopes." + s.Name
		}
		from, to := "assigned", "unassigned"
		if s.Add {
			from, to = to, from
		}
		entries = append(entries, authv1.AdoptionDiffEntry{Field: field, Keycloak: from, Desired: to})
	}
	if !gocloak.PBool(actual.PublicClient) && AuthenticationOf(actual) != AuthenticatorFederatedJWT {
		kept := "kept"
		if gocloak.PString(want.ClientAuthenticatorType) == AuthenticatorFederatedJWT {
			// The client goes secretless: its secret is replaced with one
			// nobody learns (see applyClientChanges), so apps using it stop.
			kept = "replaced (the client goes secretless; the current secret stops working)"
		}
		entries = append(entries, authv1.AdoptionDiffEntry{Field: "secret", Keycloak: "not shown", Desired: kept})
	}
	if deletion == authv1.DeletionPolicyDelete {
		// An explicit Delete (also one stored by the default that older
		// versions set) deletes a client that predates Nauthera with its
		// AuthClient: acknowledged with the rest, never by surprise.
		entries = append(entries, authv1.AdoptionDiffEntry{Field: "deletionPolicy",
			Keycloak: "Orphan (an adopted client's default: kept when the AuthClient is deleted)",
			Desired:  "Delete (spec.deletionPolicy: deleting the AuthClient deletes this Keycloak client)"})
	}
	return AdoptionDiff{Entries: entries, Hash: adoptionHash(gocloak.PString(actual.ID), entries)}
}

// RealmAdoptionDiff is what bringing the realm actual into line with want
// changes, and what deleting the AuthServer would do to it (deletion, its
// spec.deletionPolicy).
func RealmAdoptionDiff(want, actual gocloak.RealmRepresentation, deletion authv1.DeletionPolicy) AdoptionDiff {
	var entries []authv1.AdoptionDiffEntry
	for _, field := range RealmDiff(want, actual) {
		entries = append(entries, authv1.AdoptionDiffEntry{Field: field, Keycloak: realmField(actual, field), Desired: realmField(want, field)})
	}
	if deletion == authv1.DeletionPolicyDelete {
		// Deleting the AuthServer would delete a realm (its clients and
		// users) that predates Nauthera: acknowledged with the rest.
		entries = append(entries, authv1.AdoptionDiffEntry{Field: "deletionPolicy",
			Keycloak: "Orphan (the realm is kept when the AuthServer is deleted)",
			Desired:  "Delete (spec.deletionPolicy: deleting the AuthServer deletes this realm, its clients and users)"})
	}
	return AdoptionDiff{Entries: entries, Hash: adoptionHash(gocloak.PString(actual.ID), entries)}
}

// adoptionHash identifies a diff of the object with this internal id: a
// client deleted and made again by hand, or any changed value, gives
// another hash, and an acknowledgement of the old one writes nothing.
func adoptionHash(id string, entries []authv1.AdoptionDiffEntry) string {
	h := sha256.New()
	h.Write([]byte(id + "\n"))
	for _, e := range entries {
		// Length-prefixed, so that no value can pass for a field boundary.
		for _, s := range []string{e.Field, e.Keycloak, e.Desired} {
			h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
		}
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// clientField is the value of a field ClientDiff names, as text.
func clientField(c gocloak.Client, field string) string {
	if key, ok := strings.CutPrefix(field, "attributes."); ok {
		return c.Attributes[key]
	}
	switch field {
	case "name":
		return gocloak.PString(c.Name)
	case "description":
		return gocloak.PString(c.Description)
	case "protocol":
		return gocloak.PString(c.Protocol)
	case "clientAuthenticatorType":
		return gocloak.PString(c.ClientAuthenticatorType)
	case "redirectUris":
		return setText(c.RedirectURIs)
	case "webOrigins":
		return setText(c.WebOrigins)
	}
	b := map[string]*bool{
		"enabled": c.Enabled, "publicClient": c.PublicClient, "bearerOnly": c.BearerOnly,
		"standardFlowEnabled": c.StandardFlowEnabled, "implicitFlowEnabled": c.ImplicitFlowEnabled,
		"directAccessGrantsEnabled": c.DirectAccessGrantsEnabled, "serviceAccountsEnabled": c.ServiceAccountsEnabled,
	}[field]
	return strconv.FormatBool(gocloak.PBool(b))
}

// realmField is the value of a field RealmDiff names, as text.
func realmField(r gocloak.RealmRepresentation, field string) string {
	if key, ok := strings.CutPrefix(field, "attributes."); ok {
		return r.Attributes[key]
	}
	if field == "displayName" {
		return gocloak.PString(r.DisplayName)
	}
	b := map[string]*bool{
		"enabled": r.Enabled, "eventsEnabled": r.EventsEnabled,
		"adminEventsEnabled": r.AdminEventsEnabled, "adminEventsDetailsEnabled": r.AdminEventsDetailsEnabled,
	}[field]
	return strconv.FormatBool(gocloak.PBool(b))
}

// setText is a set of values as text, sorted (Keycloak keeps no order).
func setText(values []string) string {
	v := slices.Clone(values)
	slices.Sort(v)
	return strings.Join(slices.Compact(v), ", ")
}

// PendingStatus is status.adoption while the diff d waits for its
// acknowledgement: observedAt stays while the diff (its hash) stays.
func (d AdoptionDiff) PendingStatus(prev *authv1.AdoptionStatus, now metav1.Time) *authv1.AdoptionStatus {
	st := &authv1.AdoptionStatus{Hash: d.Hash, ObservedAt: &now}
	if prev != nil && prev.AdoptedAt == nil && prev.Hash == d.Hash && prev.ObservedAt != nil {
		st.ObservedAt = prev.ObservedAt
	}
	st.Diff, st.Omitted = d.Shown()
	return st
}

// AdoptedStatus is status.adoption once the diff d was acknowledged and written.
func (d AdoptionDiff) AdoptedStatus(pending *authv1.AdoptionStatus, now metav1.Time) *authv1.AdoptionStatus {
	st := &authv1.AdoptionStatus{Hash: d.Hash, AdoptedAt: &now}
	if pending != nil {
		st.ObservedAt = pending.ObservedAt
	}
	return st
}

// Acknowledged says whether the acknowledgement (the annotation's value)
// is this diff's hash.
func (d AdoptionDiff) Acknowledged(ack string) bool {
	return ack != "" && ack == d.Hash
}
