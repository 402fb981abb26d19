package v1alpha1

// ClientRole is a client role of the AuthClient's Keycloak client: a
// permission the API behind the client understands, such as orders:write.
type ClientRole struct {
	// name of the role, as it appears in tokens
	// (resource_access.<clientId>.roles). Letters, digits and . _ : / -,
	// starting with a letter or digit; at most 100 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`
	Name string `json:"name,omitempty"`

	// description says what the role allows, shown in the Keycloak console.
	// Plain text, at most 255 characters.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.matches('[<>]')`,message="description must be plain text without < or >"
	Description string `json:"description,omitempty"`
}

// RoleGrant asks for roles of another AuthClient (an API) for this client's
// service account.
type RoleGrant struct {
	// client is the AuthClient whose roles are granted. The namespace
	// defaults to this AuthClient's. It must belong to the same AuthServer
	// and consent: one in this namespace does; one in another namespace
	// lists this namespace or this AuthClient in its spec.roleGrantAccess.
	// +required
	Client ObjectReference `json:"client,omitzero"`

	// roles are names of the target's spec.roles to grant.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`
	Roles []string `json:"roles,omitempty"`
}

// RoleGrantAccess is an AuthClient's consent to let the service accounts of
// AuthClients in other namespaces hold its roles. It is separate from
// spec.audienceAccess: holding a role is a stronger right than being
// accepted as a token's audience, and consenting to one must not imply the
// other.
type RoleGrantAccess struct {
	// namespaces whose AuthClients may be granted this client's roles.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`

	// clients are single AuthClients, by namespace and name, that may be
	// granted this client's roles.
	// +optional
	// +listType=map
	// +listMapKey=namespace
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Clients []NamespacedReference `json:"clients,omitempty"`

	// roles limits which of this client's roles other namespaces may be
	// granted. Omitted: any of spec.roles.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	Roles []string `json:"roles,omitempty"`
}

// RoleGrantStatus is a grant Keycloak holds for the client's service account.
type RoleGrantStatus struct {
	// clientId of the client whose roles are granted.
	// +required
	// +kubebuilder:validation:MinLength=1
	ClientID string `json:"clientId,omitempty"`

	// roles granted to the service account.
	// +optional
	// +listType=atomic
	Roles []string `json:"roles,omitempty"`
}
