package desired

import (
	"slices"

	"github.com/Nerzal/gocloak/v14"
)

func diffBool(d []string, field string, want, actual *bool) []string {
	if want != nil && gocloak.PBool(want) != gocloak.PBool(actual) {
		return append(d, field)
	}
	return d
}

func diffString(d []string, field string, want, actual *string) []string {
	if want != nil && gocloak.PString(want) != gocloak.PString(actual) {
		return append(d, field)
	}
	return d
}

// diffSet compares two lists as sets: Keycloak does not keep their order.
func diffSet(d []string, field string, want, actual []string) []string {
	if !sameSet(want, actual) {
		return append(d, field)
	}
	return d
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// diffAttributes names each wanted attribute whose value differs. An absent
// attribute equals an empty one: Keycloak stores some attributes as "".
// Attributes the operator does not manage are left alone.
func diffAttributes(d []string, want, actual map[string]string) []string {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if want[k] != actual[k] {
			d = append(d, "attributes."+k)
		}
	}
	return d
}
