package desired

import (
	"fmt"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// WithOwnSecret is the diff of adopting a client whose spec.clientSecretRef
// names the secret it gets (bring-your-own secret): once adopted, the
// byoSecret step sets that value in Keycloak, so the client's secret is not
// kept but set from the Secret. The entry names the Secret and key, never
// compares values (no outcome depends on a secret value), and the hash
// covers it, so an acknowledgement of a diff that said "kept" does not
// acknowledge this one. id is the Keycloak client's internal id, as for
// ClientAdoptionDiff.
func (d AdoptionDiff) WithOwnSecret(id string, ref authv1.ClientSecretReference) AdoptionDiff {
	entry := authv1.AdoptionDiffEntry{Field: "secret", Keycloak: "not shown", Desired: fmt.Sprintf(
		"set from key %q of Secret %q (spec.clientSecretRef); the current secret stops working unless it is that value", ref.Key, ref.Name)}
	out := AdoptionDiff{Entries: make([]authv1.AdoptionDiffEntry, 0, len(d.Entries)+1)}
	found := false
	for _, e := range d.Entries {
		if e.Field == "secret" {
			e, found = entry, true
		}
		out.Entries = append(out.Entries, e)
	}
	if !found {
		out.Entries = append(out.Entries, entry)
	}
	out.Hash = adoptionHash(id, out.Entries)
	return out
}
