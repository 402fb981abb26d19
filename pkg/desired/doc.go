// Package desired translates Nauthera objects into the Keycloak
// representations and Kubernetes Secret payloads they should produce, and
// compares them with what exists. It is pure logic: no I/O, so every rule
// here is covered by table-driven unit tests.
package desired

// Attribute keys the operator writes on Keycloak objects it owns. The owner
// is the Kubernetes object's namespace/name: the identity that survives a
// delete-and-recreate in GitOps, so a recreated object adopts what its
// predecessor orphaned (and its credentials stay the same).
const (
	AttrOwner     = "nauthera.io/owner"
	AttrOwnerKind = "nauthera.io/owner-kind"
	AttrOwnerUID  = "nauthera.io/owner-uid"
)

// Owner formats an owner attribute value.
func Owner(namespace, name string) string { return namespace + "/" + name }
