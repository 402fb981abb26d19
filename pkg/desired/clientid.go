package desired

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// CheckClientID enforces the rule for explicit clientIds. Default clientIds
// have the form <namespace>.<name>, unique per realm because namespaces
// are. An explicit clientId of that form naming another namespace could be
// claimed before that namespace (or its AuthClient) exists, and then lock
// out the rightful owner, so the rule must not depend on what exists now:
// an explicit clientId whose part before the first '.' could be a namespace
// name (a DNS-1123 label) must be the AuthClient's own namespace. clientIds
// without a dot (my-app), with the own namespace as prefix (team-a.web) or
// with a prefix no namespace can have (App.Web, api:read) are allowed.
//
// An AuthServer may allow prefixes (allowedClientIdPrefixes, such as
// "com.example."): explicit clientIds starting with one are allowed from any
// namespace it admits.
func CheckClientID(ac *authv1.AuthClient, allowedPrefixes []string) error {
	id := ac.Spec.ClientID
	prefix, _, dotted := strings.Cut(id, ".")
	if id == "" || !dotted || prefix == ac.Namespace || len(validation.IsDNS1123Label(prefix)) > 0 {
		return nil
	}
	for _, p := range allowedPrefixes {
		if strings.HasPrefix(id, p) {
			return nil
		}
	}
	return fmt.Errorf("spec.clientId %q has the form <namespace>.<name> of the default clientIds of namespace %q; "+
		"an explicit clientId may start with this AuthClient's namespace (%q), must not start with a namespace-like prefix and a dot, "+
		"or must start with a prefix its AuthServer lists in allowedClientIdPrefixes",
		id, prefix, ac.Namespace+".")
}
