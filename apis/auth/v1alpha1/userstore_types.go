package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserStoreType is the kind of directory a UserStore federates.
// +kubebuilder:validation:Enum=ldap
type UserStoreType string

// UserStoreTypeLDAP federates an LDAP directory (OpenLDAP, Active Directory, ...).
const UserStoreTypeLDAP UserStoreType = "ldap"

// UserStoreSpec describes a directory whose users sign in to the realms of
// the AuthServers that reference it.
// +kubebuilder:validation:XValidation:rule="self.type != 'ldap' || has(self.ldap)",message="ldap is required when type is ldap",fieldPath=".ldap",reason=FieldValueRequired
type UserStoreSpec struct {
	// type of the directory. Only `ldap` is supported.
	// +required
	Type UserStoreType `json:"type"`

	// ldap configures an LDAP directory. Required when type is ldap.
	// +optional
	LDAP *LDAPSpec `json:"ldap,omitempty"`
}

// LDAPSpec configures LDAP user federation.
// +kubebuilder:validation:XValidation:rule="has(self.bindDN) == has(self.bindPasswordSecretRef)",message="bindDN and bindPasswordSecretRef go together: set both, or neither for an anonymous bind",fieldPath=".bindPasswordSecretRef"
type LDAPSpec struct {
	// server is the LDAP URL, for example ldaps://ldap.example.com:636.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^ldaps?://[^\s/?#]+(/.*)?$`
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^ldaps?://[^/?#]*@')`,message="server must not carry user info (user:password@): it is shown in kubectl get; use bindDN and bindPasswordSecretRef"
	Server string `json:"server"`

	// bindDN is the distinguished name the operator's Keycloak binds as.
	// Omitted binds anonymously.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+(\s*[,+]\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+)*$`
	BindDN string `json:"bindDN,omitempty"`

	// bindPasswordSecretRef selects the key of a Secret, in the UserStore's
	// namespace, that holds the bind password.
	// +optional
	BindPasswordSecretRef *SecretKeySelector `json:"bindPasswordSecretRef,omitempty"`

	// userSearch says where and how to find users.
	// +required
	UserSearch LDAPUserSearch `json:"userSearch"`

	// groupSearch says where and how to find groups; omitted maps no groups.
	// +optional
	GroupSearch *LDAPGroupSearch `json:"groupSearch,omitempty"`
}

// LDAPUserSearch says where and how to find users in LDAP.
type LDAPUserSearch struct {
	// baseDN is the subtree that holds the users, for example ou=users,dc=example,dc=com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+(\s*[,+]\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+)*$`
	BaseDN string `json:"baseDN"`

	// filter is an additional LDAP filter for users, in parentheses.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\(.+\)$`
	// +kubebuilder:validation:XValidation:rule="size(self.split('(')) == size(self.split(')'))",message="filter must have balanced parentheses"
	Filter string `json:"filter,omitempty"`

	// usernameAttribute is the LDAP attribute mapped to the Keycloak username. Defaults to uid.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:default=uid
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	UsernameAttribute string `json:"usernameAttribute,omitempty"`
}

// LDAPGroupSearch says where and how to find groups in LDAP.
type LDAPGroupSearch struct {
	// baseDN is the subtree that holds the groups, for example ou=groups,dc=example,dc=com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+(\s*[,+]\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+)*$`
	BaseDN string `json:"baseDN"`

	// filter is an additional LDAP filter for groups, in parentheses.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\(.+\)$`
	// +kubebuilder:validation:XValidation:rule="size(self.split('(')) == size(self.split(')'))",message="filter must have balanced parentheses"
	Filter string `json:"filter,omitempty"`

	// nameAttribute is the LDAP attribute that holds the group name. Defaults to cn.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:default=cn
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	NameAttribute string `json:"nameAttribute,omitempty"`
}

// UserStoreStatus is the observed state of a UserStore.
type UserStoreStatus struct {
	// observedGeneration is the last generation of the spec whose outcome is
	// known: Ready, or Stalled by a failure that retrying cannot fix. While the
	// operator waits or retries it keeps the previous value (kstatus: in progress).
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// UserStore is a directory (LDAP) whose users sign in to the realms of the
// AuthServers that reference it, through Keycloak user federation.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=us;userstore,categories=nauthera
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.ldap.server`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type UserStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the directory to federate.
	// +required
	Spec UserStoreSpec `json:"spec"`

	// status is the observed state of the federation.
	// +optional
	Status UserStoreStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *UserStore) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *UserStore) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// UserStoreList is a list of UserStores.
// +kubebuilder:object:root=true
type UserStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UserStore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&UserStore{}, &UserStoreList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *UserStore) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
