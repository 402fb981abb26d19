package v1alpha1

// AdminIdentity is the Keycloak admin identity that manages one AuthServer's
// realm in place of the operator's own (least privilege per realm): a client
// of the operator's admin realm (usually master) whose service account holds
// the roles of this realm's management client ("<realm>-realm") and nothing
// else. It authenticates with a federated JWT: a token of a ServiceAccount in
// the AuthServer's namespace, which the operator requests from the API
// server (TokenRequest) for each login. Nothing secret is stored.
//
// Such an identity can read and change its realm (clients, scopes, identity
// providers, user federation, the realm's settings) and delete it (Keycloak
// asks only manage-realm for that), but cannot create realms or impersonate
// the realm's users, and gets HTTP 403 on every other realm. The realm must
// therefore exist first: create the AuthServer without adminIdentity (the
// operator's own identity creates the realm), give the identity its roles
// (`nauthera bootstrap-keycloak --managed-realm`), then set adminIdentity.
// See docs/guides/passwordless.md.
type AdminIdentity struct {
	// clientId is the admin client, in the operator's admin realm, whose
	// authenticator is federated-jwt with the subject
	// system:serviceaccount:<this namespace>:<serviceAccountName>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._:-]*$`
	ClientID string `json:"clientId,omitempty"`

	// serviceAccountName is a ServiceAccount in the AuthServer's namespace.
	// The operator needs `create` on its `serviceaccounts/token`
	// subresource (a Role in this namespace naming this ServiceAccount
	// only): the token it requests has Keycloak's admin realm as its only
	// audience, so it is worth nothing to the Kubernetes API.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}
