package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationAdopt acknowledges an adoption: set on an AuthClient (or an
// AuthServer) to the value of its status.adoption.hash, it lets the operator
// make the first write to the Keycloak client (or realm) it shows the diff
// of. A value that is not the hash of the diff observed now (Keycloak changed
// meanwhile) writes nothing; the new diff and hash are shown instead.
const AnnotationAdopt = "auth.nauthera.io/adopt"

// AdoptionPolicy is what an AuthServer lets be adopted: Keycloak objects
// that exist but that Nauthera did not create. Omitted: nothing.
type AdoptionPolicy struct {
	// realm lets this AuthServer adopt its realm when the realm exists in
	// Keycloak and no AuthServer manages it (RealmConflict otherwise). The
	// first write still waits for the auth.nauthera.io/adopt annotation on
	// the AuthServer to hold status.adoption.hash.
	// +optional
	Realm bool `json:"realm,omitempty"`

	// clients says which namespaces' AuthClients may adopt which existing
	// Keycloak clients of the realm (with their spec.adopt). A client that
	// another AuthClient or realm already manages is never adopted.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Clients []ClientAdoptionRule `json:"clients,omitempty"`
}

// ClientAdoptionRule lets the AuthClients of some namespaces adopt some
// clientIds.
type ClientAdoptionRule struct {
	// namespaces whose AuthClients may adopt the clientIds below.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`

	// clientIds are exact clientIds (`legacy-portal`), or prefixes ending in
	// one `*` (`legacy-*` matches every clientId that starts with
	// `legacy-`). A `*` anywhere else, or alone, is refused: a rule must
	// name what it hands over.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`self.all(c, c.matches(r'^[!#-)+-\[\]-~]+[*]?$'))`,message="clientIds entries must be an exact clientId (printable ASCII without spaces, quotes or backslashes) or a prefix followed by one trailing *; * elsewhere or alone is refused"
	ClientIDs []string `json:"clientIds,omitempty"`
}

// AdoptionStatus is the review of an adoption: the diff between the object
// as Keycloak has it and as the spec wants it, and its hash to acknowledge.
type AdoptionStatus struct {
	// diff lists the managed fields that the first write will change, with
	// the value in Keycloak and the value wanted. Secrets never appear: a
	// client secret is kept, and shown as "kept". At most 30 entries.
	// +optional
	// +listType=atomic
	Diff []AdoptionDiffEntry `json:"diff,omitempty"`

	// omitted counts the changed fields not listed in diff.
	// +optional
	Omitted int32 `json:"omitted,omitempty"`

	// hash identifies the whole diff (every field, every value) and the
	// Keycloak object it was read from. Copy it into the
	// auth.nauthera.io/adopt annotation to acknowledge the adoption.
	// +optional
	Hash string `json:"hash,omitempty"`

	// observedAt is when this diff was first read.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`

	// adoptedAt is when the object was adopted; unset while the diff
	// waits for its acknowledgement. An adopted object's
	// deletionPolicy defaults to Orphan: it predates Nauthera, and other
	// systems may still rely on it.
	// +optional
	AdoptedAt *metav1.Time `json:"adoptedAt,omitempty"`
}

// AdoptionDiffEntry is one field the adoption changes.
type AdoptionDiffEntry struct {
	// field is the Keycloak field (attributes.<name> for an attribute,
	// defaultClientScopes.<name> or optionalClientScopes.<name> for a scope
	// assignment), secret (never its value: kept, or replaced when the
	// client goes secretless), or deletionPolicy when the AuthClient's
	// explicit Delete would delete the adopted client with it.
	// +required
	// +kubebuilder:validation:MinLength=1
	Field string `json:"field,omitempty"`
	// keycloak is the value Keycloak has now ("" when unset), shortened when long.
	// +optional
	Keycloak string `json:"keycloak,omitempty"`
	// desired is the value the spec asks for, shortened when long.
	// +optional
	Desired string `json:"desired,omitempty"`
}

// Adopted says whether the AuthClient's Keycloak client was adopted rather
// than created.
func (ac *AuthClient) Adopted() bool {
	return ac.Status.Adoption != nil && ac.Status.Adoption.AdoptedAt != nil
}

// EffectiveDeletionPolicy is spec.deletionPolicy, or when unset, Delete for a
// client Nauthera created and Orphan for one it adopted (adopted, read from
// status or from the Keycloak client's mark).
func (ac *AuthClient) EffectiveDeletionPolicy(adopted bool) DeletionPolicy {
	switch {
	case ac.Spec.DeletionPolicy != "":
		return ac.Spec.DeletionPolicy
	case adopted || ac.Adopted():
		return DeletionPolicyOrphan
	default:
		return DeletionPolicyDelete
	}
}
