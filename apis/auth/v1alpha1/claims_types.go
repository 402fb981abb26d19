package v1alpha1

// ClaimType is the kind of a claim: one of a small typed set of Keycloak
// protocol mappers. There is no raw mapper type.
// +kubebuilder:validation:Enum=HardCoded;UserAttribute;GroupMembership;ClientRoles
type ClaimType string

const (
	// ClaimHardCoded is a fixed value (Keycloak's oidc-hardcoded-claim-mapper).
	ClaimHardCoded ClaimType = "HardCoded"
	// ClaimUserAttribute copies a user attribute (oidc-usermodel-attribute-mapper).
	ClaimUserAttribute ClaimType = "UserAttribute"
	// ClaimGroupMembership lists the user's groups (oidc-group-membership-mapper).
	ClaimGroupMembership ClaimType = "GroupMembership"
	// ClaimClientRoles lists client roles (oidc-usermodel-client-role-mapper).
	ClaimClientRoles ClaimType = "ClientRoles"
)

// TokenType is a token or answer a claim reaches.
// +kubebuilder:validation:Enum=AccessToken;IDToken;UserInfo;Introspection
type TokenType string

const (
	// TokenAccess is the access token.
	TokenAccess TokenType = "AccessToken"
	// TokenID is the ID token.
	TokenID TokenType = "IDToken"
	// TokenUserInfo is the userinfo endpoint's answer.
	TokenUserInfo TokenType = "UserInfo"
	// TokenIntrospection is the token introspection endpoint's answer.
	TokenIntrospection TokenType = "Introspection"
)

// ClaimValueType is the JSON type of a claim's value.
// +kubebuilder:validation:Enum=String;Boolean;Long;Int;JSON
type ClaimValueType string

// Claim puts a claim into the client's tokens (a Keycloak protocol mapper
// that Nauthera creates and keeps in line).
// +kubebuilder:validation:XValidation:rule="self.type == 'HardCoded' ? has(self.hardCoded) : !has(self.hardCoded)",message="hardCoded is set exactly when type is HardCoded"
// +kubebuilder:validation:XValidation:rule="self.type == 'UserAttribute' ? has(self.userAttribute) : !has(self.userAttribute)",message="userAttribute is set exactly when type is UserAttribute"
// +kubebuilder:validation:XValidation:rule="self.type == 'GroupMembership' || !has(self.groupMembership)",message="groupMembership is set only when type is GroupMembership"
// +kubebuilder:validation:XValidation:rule="self.type == 'ClientRoles' || !has(self.clientRoles)",message="clientRoles is set only when type is ClientRoles"
// +kubebuilder:validation:XValidation:rule="self.type == 'ClientRoles' || has(self.name)",message="name is required (only a ClientRoles claim defaults to resource_access)"
// +kubebuilder:validation:XValidation:rule="!(self.type in ['HardCoded', 'UserAttribute']) || !has(self.name) || !self.name.matches('(?i)^(name|given_name|family_name|middle_name|nickname|preferred_username|profile|picture|website|email|email_verified|gender|birthdate|zoneinfo|locale|phone_number|phone_number_verified|updated_at|upn|groups|roles)([.].*)?$')",message="name: a HardCoded or UserAttribute claim must not set a standard identity claim (preferred_username, email, name, ...), groups or roles: a fixed value or an attribute users may edit would forge who the user is or what they may do"
type Claim struct {
	// name of the claim in the token; dots nest it (address.locality).
	// Required, except for ClientRoles, which defaults to Keycloak's
	// resource_access.<clientId>.roles. Registered JWT and OIDC claims
	// (iss, sub, aud, exp, azp, scope, ...), act / may_act (token
	// exchange), authorization (Keycloak's permissions) and
	// resource_access / realm_access cannot be named, in any letter case
	// (some token consumers match claim names case-insensitively): a token
	// must not carry forged identities, audiences, roles or permissions.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_:-]*(\.[A-Za-z_][A-Za-z0-9_:-]*)*$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^(iss|sub|aud|exp|nbf|iat|jti|azp|typ|nonce|auth_time|sid|session_state|acr|amr|at_hash|c_hash|s_hash|scope|client_id|cnf|act|may_act|resource_access|realm_access|allowed-origins|authorization)([.].*)?$')",message="name must not be a registered JWT or OIDC claim (in any letter case), nor act, authorization, resource_access or realm_access: tokens must not carry forged identities, audiences, roles or permissions"
	Name string `json:"name,omitempty"`

	// type of the claim: HardCoded, UserAttribute, GroupMembership or
	// ClientRoles. Exactly the field of the same name is set with it
	// (groupMembership and clientRoles may be omitted for their defaults).
	// +required
	Type ClaimType `json:"type,omitempty"`

	// tokens the claim reaches: AccessToken, IDToken, UserInfo,
	// Introspection. It reaches no other.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	Tokens []TokenType `json:"tokens,omitempty"`

	// hardCoded is the fixed value of a HardCoded claim.
	// +optional
	HardCoded *HardCodedClaim `json:"hardCoded,omitempty"`

	// userAttribute names the user attribute of a UserAttribute claim.
	// +optional
	UserAttribute *UserAttributeClaim `json:"userAttribute,omitempty"`

	// groupMembership shapes a GroupMembership claim.
	// +optional
	GroupMembership *GroupMembershipClaim `json:"groupMembership,omitempty"`

	// clientRoles says whose client roles a ClientRoles claim lists.
	// +optional
	ClientRoles *ClientRolesClaim `json:"clientRoles,omitempty"`
}

// HardCodedClaim is a claim with a fixed value.
// +kubebuilder:validation:XValidation:rule="!has(self.valueType) || self.valueType != 'Boolean' || self.value in ['true', 'false']",message="value must be true or false for valueType Boolean"
// +kubebuilder:validation:XValidation:rule="!has(self.valueType) || self.valueType != 'Long' || self.value.matches('^-?[0-9]{1,18}$')",message="value must be an integer of at most 18 digits for valueType Long"
// +kubebuilder:validation:XValidation:rule="!has(self.valueType) || self.valueType != 'Int' || self.value.matches('^-?[0-9]{1,9}$')",message="value must be an integer of at most 9 digits for valueType Int"
// +kubebuilder:validation:XValidation:rule="!has(self.valueType) || self.valueType != 'JSON' || self.value.matches('^[[:space:]]*[[{]')",message="value must be a JSON object or array for valueType JSON (it is parsed when the client is reconciled)"
type HardCodedClaim struct {
	// value of the claim. Not a secret: tokens are readable by their holder.
	// It must fit valueType: true or false for Boolean, an integer for
	// Long and Int, a JSON object or array for JSON.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value,omitempty"`

	// valueType is the JSON type of the value: String (default), Boolean,
	// Long, Int or JSON.
	// +optional
	// +kubebuilder:default=String
	ValueType ClaimValueType `json:"valueType,omitempty"`
}

// UserAttributeClaim copies a user attribute into a claim.
type UserAttributeClaim struct {
	// attribute is the user attribute's name (for example department, or
	// an attribute an LDAP mapper fills).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.:-]+$`
	Attribute string `json:"attribute,omitempty"`

	// multivalued makes the claim a list of all the attribute's values;
	// otherwise it holds the first.
	// +optional
	Multivalued bool `json:"multivalued,omitempty"`
}

// GroupMembershipClaim lists the user's groups.
type GroupMembershipClaim struct {
	// fullPath lists groups by full path (/engineering/backend) instead of
	// by name (backend).
	// +optional
	FullPath bool `json:"fullPath,omitempty"`
}

// ClientRolesClaim lists client roles of this client or of a client whose
// roles this client holds.
type ClientRolesClaim struct {
	// client is the AuthClient whose roles are listed: this one (omitted)
	// or one named in spec.roleGrants.
	// +optional
	Client *ObjectReference `json:"client,omitempty"`
}
