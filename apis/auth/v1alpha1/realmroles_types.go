package v1alpha1

// RealmRole is a realm role the platform team declares on the AuthServer:
// realm-wide authority (realm_access.roles in tokens), which app teams can
// neither declare nor request (they use client roles and role grants).
type RealmRole struct {
	// name of the role, as it appears in tokens (realm_access.roles).
	// Letters, digits and . _ : / -, starting with a letter or digit; at
	// most 100 characters. Keycloak's own roles (default-roles-<realm>,
	// offline_access, uma_authorization) and names starting with
	// "default-roles-" cannot be declared.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['offline_access', 'uma_authorization']) && !self.startsWith('default-roles-')",message="name must not be one of Keycloak's own realm roles (offline_access, uma_authorization, default-roles-*)"
	Name string `json:"name,omitempty"`

	// description says what the role allows, shown in the Keycloak console.
	// Plain text, at most 255 characters.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.matches('[<>]')`,message="description must be plain text without < or >"
	Description string `json:"description,omitempty"`
}

// RealmGroup is a top-level group of the realm and the realm roles its
// members hold. A group of that name that exists already (one an LDAP
// group mapper imports, say) is used, never taken over: its members stay
// as its source says, and Nauthera manages only the mappings of its own
// realm roles on it.
type RealmGroup struct {
	// name of the top-level group (as an LDAP group mapper names the groups
	// it imports: the group's cn). At most 255 characters, no slash, < or
	// >, no control character, and no space at either end (Keycloak refuses
	// a blank name).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^/<>\s]([^/<>\p{Cc}]*[^/<>\s])?$`
	Name string `json:"name,omitempty"`

	// realmRoles are names of spec.realmRoles the group's members hold.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	RealmRoles []string `json:"realmRoles,omitempty"`
}

// RealmGroupStatus is a group whose realm-role mappings Nauthera manages.
type RealmGroupStatus struct {
	// name of the group.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name,omitempty"`

	// managed says Nauthera created the group (and deletes it when it
	// leaves the spec); false: the group is someone else's (an LDAP
	// import, the console), and only Nauthera's role mappings on it are
	// managed.
	// +optional
	Managed bool `json:"managed,omitempty"`

	// realmRoles are the declared realm roles mapped to the group.
	// +optional
	// +listType=atomic
	RealmRoles []string `json:"realmRoles,omitempty"`
}
