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
	Type UserStoreType `json:"type,omitempty"`

	// ldap configures an LDAP directory. Required when type is ldap.
	// +optional
	LDAP *LDAPSpec `json:"ldap,omitempty"`

	// allowedNamespaces lists the namespaces, besides the UserStore's own,
	// whose AuthServers may federate this directory. A UserStore holds a
	// bind password: an AuthServer elsewhere that references it is refused
	// (UserStoreNotAllowed) unless its namespace is listed here, and even
	// then only if it uses the operator's own Keycloak (an AuthServer that
	// names another Keycloak in spec.keycloak would hand the password to it).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
}

// LDAPSpec configures LDAP user federation.
// +kubebuilder:validation:XValidation:rule="has(self.bindDN) == has(self.bindPasswordSecretRef)",message="bindDN and bindPasswordSecretRef go together: set both, or neither for an anonymous bind",fieldPath=".bindPasswordSecretRef"
type LDAPSpec struct {
	// server is the LDAP URL, for example ldaps://ldap.example.com:636. A
	// port, when given, is a number from 1 to 65535.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^ldaps?://[^\s/?#]+(/\S*)?$`
	// +kubebuilder:validation:XValidation:rule=`!self.contains('@')`,message="server must not carry user info (user:password@): it is shown in kubectl get; use bindDN and bindPasswordSecretRef"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^ldaps?://(\[[^\]/?#]*\]|[^/?#\[\]:]*)(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/.*)?$')`,message="server must be ldap://host or ldaps://host, with an IPv6 address in brackets, and a port, when given, a number from 1 to 65535"
	Server string `json:"server,omitempty"`

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
	UserSearch LDAPUserSearch `json:"userSearch,omitzero"`

	// groupSearch says where and how to find groups; omitted maps no groups.
	// +optional
	GroupSearch *LDAPGroupSearch `json:"groupSearch,omitempty"`

	// fullSyncPeriod is how often Keycloak imports every user of the
	// directory, from 1m to 8760h. Defaults to 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('8760h')",message="fullSyncPeriod must be between 1m and 8760h"
	FullSyncPeriod *metav1.Duration `json:"fullSyncPeriod,omitempty"`

	// changedUsersSyncPeriod is how often Keycloak imports the users
	// changed since the last sync, from 1m to 8760h. Defaults to 15m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('8760h')",message="changedUsersSyncPeriod must be between 1m and 8760h"
	ChangedUsersSyncPeriod *metav1.Duration `json:"changedUsersSyncPeriod,omitempty"`
}

// LDAPUserSearch says where and how to find users in LDAP.
type LDAPUserSearch struct {
	// baseDN is the subtree that holds the users, for example ou=users,dc=example,dc=com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+(\s*[,+]\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+)*$`
	BaseDN string `json:"baseDN,omitempty"`

	// filter is an additional LDAP filter for users (RFC 4515), such as
	// (&(objectClass=person)(!(cn=guest))). &, | and ! nest at most 6 deep.
	// +optional
	Filter LDAPFilter `json:"filter,omitempty"`

	// usernameAttribute is the LDAP attribute mapped to the Keycloak username. Defaults to uid.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:default=uid
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	UsernameAttribute string `json:"usernameAttribute,omitempty"`

	// objectClasses are the object classes of user entries. Defaults to
	// inetOrgPerson and organizationalPerson.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	// +kubebuilder:validation:items:MaxLength=255
	ObjectClasses []string `json:"objectClasses,omitempty"`

	// uuidAttribute is the LDAP attribute that identifies a user for good.
	// Defaults to entryUUID (OpenLDAP); Active Directory uses objectGUID.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	UUIDAttribute string `json:"uuidAttribute,omitempty"`
}

// LDAPGroupSearch says where and how to find groups in LDAP.
type LDAPGroupSearch struct {
	// baseDN is the subtree that holds the groups, for example ou=groups,dc=example,dc=com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+(\s*[,+]\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)=([^,+\\]|\\.)+)*$`
	BaseDN string `json:"baseDN,omitempty"`

	// filter is an additional LDAP filter for groups (RFC 4515), such as
	// (cn=team-*). &, | and ! nest at most 6 deep.
	// +optional
	Filter LDAPFilter `json:"filter,omitempty"`

	// objectClasses are the object classes of group entries. Defaults to
	// groupOfNames (Active Directory: group).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`
	// +kubebuilder:validation:items:MaxLength=255
	ObjectClasses []string `json:"objectClasses,omitempty"`

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

	// conditions are Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// authServers are the AuthServers (namespace/name) whose realms
	// federate this directory.
	// +optional
	// +listType=atomic
	AuthServers []string `json:"authServers,omitempty"`

	// realms is how many realms federate this directory.
	// +optional
	Realms *int32 `json:"realms,omitempty"`

	// lastSync is the latest sync of users from the directory into a realm.
	// +optional
	LastSync *UserSyncStatus `json:"lastSync,omitempty"`
}

// UserSyncStatus is the outcome of one sync of users into a realm.
type UserSyncStatus struct {
	// time the sync ran.
	// +required
	Time metav1.Time `json:"time"`
	// realm the users were synced into.
	// +optional
	Realm string `json:"realm,omitempty"`
	// added counts the users added.
	// +required
	Added int32 `json:"added"`
	// updated counts the users updated.
	// +required
	Updated int32 `json:"updated"`
	// removed counts the users removed.
	// +required
	Removed int32 `json:"removed"`
	// failed counts the users that could not be synced.
	// +required
	Failed int32 `json:"failed"`
}

// RealmUserStoreStatus is the federation an AuthServer set up in its realm.
type RealmUserStoreStatus struct {
	// userStore is the UserStore (namespace/name).
	// +required
	UserStore string `json:"userStore"`
	// componentId is the Keycloak LDAP component in the realm.
	// +optional
	ComponentID string `json:"componentId,omitempty"`
	// appliedGeneration is the UserStore generation last applied.
	// +optional
	AppliedGeneration int64 `json:"appliedGeneration,omitempty"`
	// bindSecretVersion is the resourceVersion of the bind password Secret
	// last applied (Keycloak never shows the password back; a new version
	// of the Secret is written to Keycloak).
	// +optional
	BindSecretVersion string `json:"bindSecretVersion,omitempty"`
	// lastSync is the latest sync into this realm.
	// +optional
	LastSync *UserSyncStatus `json:"lastSync,omitempty"`
	// refusedFor records the UserStore generation and bind Secret version
	// whose connection or bind test failed: not tested again until one
	// changes (or a sync is requested), so that a wrong password does not
	// lock the service account out.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	RefusedFor string `json:"refusedFor,omitempty"`

	// lastSyncRequest is the value of the UserStore's sync annotation last acted upon.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastSyncRequest string `json:"lastSyncRequest,omitempty"`
}

// UserStore is a directory (LDAP) whose users sign in to the realms of the
// AuthServers that reference it, through Keycloak user federation.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=us;userstore,categories=nauthera
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.ldap.server`
// +kubebuilder:printcolumn:name="Realms",type=integer,JSONPath=`.status.realms`
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSync.time`
// +kubebuilder:printcolumn:name="Users Added",type=integer,JSONPath=`.status.lastSync.added`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type UserStore struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the directory to federate.
	// +required
	Spec UserStoreSpec `json:"spec,omitzero"`

	// status is the observed state of the federation.
	// +optional
	Status UserStoreStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *UserStore) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *UserStore) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// AnnotationSyncUsers on a UserStore syncs its users into every realm that
// federates it, once per new value.
const AnnotationSyncUsers = "auth.nauthera.io/sync-users"

// Reasons and the AuthServer condition of user federation.
const (
	// UserStoreCondition on an AuthServer says whether its UserStore is federated into the realm.
	UserStoreCondition = "UserStoreReady"
	// ReasonUserStoreNotFound: userStoreRef names a UserStore that does not exist.
	ReasonUserStoreNotFound = "UserStoreNotFound"
	// ReasonUserStoreNotAllowed: the UserStore does not serve the AuthServer's namespace.
	ReasonUserStoreNotAllowed = "UserStoreNotAllowed"
	// ReasonLDAPUnreachable: Keycloak cannot connect to the LDAP server.
	ReasonLDAPUnreachable = "LDAPUnreachable"
	// ReasonLDAPBindFailed: the LDAP server refused the bind DN or password.
	ReasonLDAPBindFailed = "LDAPBindFailed"
	// ReasonLDAPNoUsers: a sync imported no user (the base DN or filter finds nobody).
	ReasonLDAPNoUsers = "LDAPNoUsers"
	// ReasonBindSecretInvalid: the bind password Secret or its key is missing.
	ReasonBindSecretInvalid = "BindSecretInvalid"
	// ReasonLDAPSyncFailed: Keycloak failed to sync users from the directory.
	ReasonLDAPSyncFailed = "LDAPSyncFailed"
	// ReasonLDAPSyncPending: a sync was asked of Keycloak and its answer
	// not yet seen; left in the status, the operator stopped mid-sync.
	ReasonLDAPSyncPending = "LDAPSyncPending"
	// ReasonNotReferenced: no AuthServer references the UserStore.
	ReasonNotReferenced = "NotReferenced"
)

// UserStoreList is a list of UserStores.
// +kubebuilder:object:root=true
type UserStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UserStore `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &UserStore{}, &UserStoreList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *UserStore) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// LDAPFilter is an LDAP filter (RFC 4515) whose &, | and ! nest at most 6
// deep. The API server checks both with regular expressions (CEL has no
// parser); the reconciler parses it again (pkg/ldapfilter).
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule=`self.matches(r'^(?:\([&|!]|\((?:(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+)(?:;[A-Za-z0-9-]+)*(?:[~<>]=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*|=(?:(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})|\*)*|(?::[dD][nN])?(?::(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+))?:=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*)|(?::[dD][nN])?:(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+):=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*)\)|\))+$')`,message="filter must be an LDAP filter (RFC 4515): comparisons such as (uid=alice), (cn=a*) or (memberOf:1.2.840.113556.1.4.1941:=cn=x) joined with (&...), (|...) and (!...); write (, ), * and the backslash in a value as a backslash and two hex digits"
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^(?:\([&|!]|\((?:(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+)(?:;[A-Za-z0-9-]+)*(?:[~<>]=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*|=(?:(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})|\*)*|(?::[dD][nN])?(?::(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+))?:=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*)|(?::[dD][nN])?:(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+):=(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})*)\)|\))+$') || self.matches(r'^(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))+\)|\(!(?:\([^&|!()][^()]*\)|\([&|](?:\([^&|!()][^()]*\))+\)|\(!(?:\([^&|!()][^()]*\))\))\))\))\))\))\))$')`,message="filter must be one filter whose parentheses nest: & and | take one or more filters, ! exactly one, at most 6 deep"
type LDAPFilter string
