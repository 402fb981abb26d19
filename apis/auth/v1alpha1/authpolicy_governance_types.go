package v1alpha1

// Permission says whether something is allowed.
// +kubebuilder:validation:Enum=Allowed;Forbidden
type Permission string

const (
	// Allowed: permitted (within the other limits of the policy).
	Allowed Permission = "Allowed"
	// Forbidden: not permitted at all.
	Forbidden Permission = "Forbidden"
)

// RoleGrantPolicy limits the role grants (AuthClient spec.roleGrants) that
// cross a namespace: the roles an API in one namespace gives the service
// account of a client in another. A grant within one namespace is not
// limited: one team owns both clients there, and could put the role on
// its own client anyway. Every limit set must be met; the API's own
// consent (its spec.roleGrantAccess) is needed as well.
//
// Namespaces are named, not selected by label, and clients are not
// selected by their labels: an app team labels its own AuthClients (and
// often its namespace's objects) as it likes, so a label would let it
// grant itself into an allowed set; namespace names are fixed.
// +kubebuilder:validation:XValidation:rule="!has(self.acrossNamespaces) || self.acrossNamespaces == 'Allowed' || (!has(self.granteeNamespaces) && !has(self.roles))",message="granteeNamespaces and roles have no effect when acrossNamespaces is Forbidden: remove them"
type RoleGrantPolicy struct {
	// acrossNamespaces says whether roles may be granted across namespaces
	// at all: Allowed (the default, within granteeNamespaces and roles) or
	// Forbidden (every grant of a role of an AuthClient in another
	// namespace is refused).
	// +optional
	// +kubebuilder:default=Allowed
	AcrossNamespaces Permission `json:"acrossNamespaces,omitempty"`

	// granteeNamespaces are the namespaces whose AuthClients may be granted
	// roles of AuthClients in other namespaces. Omitted: any namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	GranteeNamespaces []string `json:"granteeNamespaces,omitempty"`

	// roles are the role names that may be granted across namespaces, such
	// as orders:read (a name matches whichever API declares it). Any other
	// role is granted within its own namespace only. Omitted: any role.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`
	Roles []string `json:"roles,omitempty"`
}

// ClaimPolicy limits the custom claims (AuthClient spec.claims) governed
// clients may put into their tokens. A claim that breaks it is refused
// whole: its mapper is not created (or is removed), so a token never
// carries a claim the security team did not allow, not even in part.
// +kubebuilder:validation:XValidation:rule="!has(self.custom) || self.custom == 'Allowed' || (!has(self.allowedTypes) && !has(self.allowedTokens))",message="allowedTypes and allowedTokens have no effect when custom is Forbidden: remove them"
type ClaimPolicy struct {
	// custom says whether governed clients may declare custom claims at
	// all: Allowed (the default, within allowedTypes and allowedTokens) or
	// Forbidden (no spec.claims).
	// +optional
	// +kubebuilder:default=Allowed
	Custom Permission `json:"custom,omitempty"`

	// allowedTypes are the claim types governed clients may declare
	// (HardCoded, UserAttribute, GroupMembership, ClientRoles). Omitted:
	// every type.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	AllowedTypes []ClaimType `json:"allowedTypes,omitempty"`

	// allowedTokens are the tokens custom claims may reach (AccessToken,
	// IDToken, UserInfo, Introspection); for example, leaving out IDToken
	// keeps custom claims out of what a browser app sees. Omitted: every
	// token.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	AllowedTokens []TokenType `json:"allowedTokens,omitempty"`
}
