package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthServerSpec describes a Keycloak realm that Nauthera manages.
// +kubebuilder:validation:XValidation:rule="!has(self.groups) || self.groups.all(g, !has(g.realmRoles) || g.realmRoles.all(r, has(self.realmRoles) && self.realmRoles.exists(x, x.name == r)))",message="every groups[].realmRoles entry must name one of spec.realmRoles",fieldPath=".groups"
// +kubebuilder:validation:XValidation:rule="!(has(self.adminIdentity) && has(self.keycloak))",message="adminIdentity applies to the operator's own Keycloak: it cannot be combined with keycloak (whose adminCredentialsSecretRef already names this realm's admin identity)",fieldPath=".adminIdentity"
// +kubebuilder:validation:XValidation:rule="has(self.realmName) == has(oldSelf.realmName) && (!has(self.realmName) || self.realmName == oldSelf.realmName)",message="realmName cannot be added, changed or removed after creation: create a new AuthServer to use another realm",fieldPath=".realmName"
type AuthServerSpec struct {
	// issuerUrl is the public URL of the server, for example
	// https://auth.example.com. It becomes the realm's frontend URL, so the
	// login pages, the discovery document and the `iss` claim of every token
	// use it. status.issuer reports the issuer Keycloak actually serves.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="issuerUrl must be an absolute http or https URL, for example https://auth.example.com"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="issuerUrl must not have a query or a fragment"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')`,message="issuerUrl must not carry user info (user:password@): it is published in every token and discovery document"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="issuerUrl's port must be a number from 1 to 65535"
	IssuerURL string `json:"issuerUrl,omitempty"`

	// realmName is the name of the Keycloak realm. Defaults to the
	// AuthServer's name. Realm names are unique per Keycloak: the operator
	// refuses a realm that another AuthServer, or nobody, already owns.
	// Immutable once set. At most 237 characters (Keycloak's limit); `master`
	// in any case is refused.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=237
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule=`!self.lowerAscii().matches('^master[._-]*$')`,message="realmName must not be master (in any case, or with trailing dots, dashes or underscores): that is Keycloak's administration realm"
	RealmName string `json:"realmName,omitempty"`

	// displayName is shown on the realm's login pages. Defaults to the realm
	// name. Plain text: `<` and `>` are refused.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.matches('[<>]')`,message="displayName must be plain text without < or >: Keycloak renders it on the login page"
	DisplayName string `json:"displayName,omitempty"`

	// policySelector selects the AuthPolicy objects, in the AuthServer's own
	// namespace only (an app team cannot label a policy of its own into
	// force), that constrain and default the clients of this server.
	// Omitted selects no policy; an empty selector ({}) selects every
	// AuthPolicy of the namespace, as in the rest of Kubernetes.
	// +optional
	PolicySelector *LabelSelector `json:"policySelector,omitempty"`

	// clientNamespaceSelector selects the namespaces whose AuthClients may
	// attach to this server. Omitted allows every namespace. To list
	// namespaces by name, match the `kubernetes.io/metadata.name` label.
	// +optional
	ClientNamespaceSelector *LabelSelector `json:"clientNamespaceSelector,omitempty"`

	// allowedClientIdPrefixes lets AuthClients use explicit clientIds that
	// start with one of these prefixes from any namespace this server admits,
	// for example `com.example.` or `grafana.`. Without it, an explicit
	// clientId whose part before the first dot could be a namespace name must
	// be the AuthClient's own namespace: otherwise a team could claim another
	// namespace's default clientId (<namespace>.<name>) before it exists.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=2
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[!#-\[\]-~]+\.$`
	AllowedClientIDPrefixes []string `json:"allowedClientIdPrefixes,omitempty"`

	// adoption lets existing Keycloak objects that Nauthera did not create be
	// adopted: the realm itself (realm: true), and which clientIds the
	// AuthClients of which namespaces may adopt. Omitted: none (RealmConflict,
	// ClientIdConflict). Every adoption shows its diff in status.adoption and
	// writes only once the auth.nauthera.io/adopt annotation holds its hash.
	// +optional
	Adoption *AdoptionPolicy `json:"adoption,omitempty"`

	// tls configures the certificate of the public endpoint.
	// +optional
	TLS *AuthServerTLS `json:"tls,omitempty"`

	// userStoreRef names the UserStore whose users sign in to this realm.
	// +optional
	UserStoreRef *ObjectReference `json:"userStoreRef,omitempty"`

	// serviceAccountAuthentication lets the AuthClients of this server
	// authenticate with Kubernetes service-account tokens instead of client
	// secrets (their spec.serviceAccount). The realm gets a Keycloak identity
	// provider, alias nauthera-kubernetes, that trusts the cluster's
	// service-account token issuer. Keycloak must reach the issuer's
	// /.well-known/openid-configuration and /openid/v1/jwks and trust its
	// certificate; the ServiceAccountIssuerReady condition checks that.
	// Removing the field removes the identity provider: secretless clients
	// stop working.
	// +optional
	ServiceAccountAuthentication *ServiceAccountAuthentication `json:"serviceAccountAuthentication,omitempty"`

	// keycloak names the Keycloak server that hosts the realm. Omitted uses
	// the Keycloak the operator was installed with.
	// +optional
	Keycloak *KeycloakConnection `json:"keycloak,omitempty"`

	// adminIdentity manages this realm with an admin identity of its own
	// (a federated-JWT client holding this realm's management roles only)
	// instead of the operator's. Only with the operator's Keycloak (no spec.keycloak).
	// +optional
	AdminIdentity *AdminIdentity `json:"adminIdentity,omitempty"`

	// deletionPolicy says what happens to the realm when the AuthServer is
	// deleted: Orphan (default) keeps it with all its clients and users,
	// Delete removes it.
	// +optional
	// +kubebuilder:default=Orphan
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// realmRoles are realm roles of the realm, owned by the AuthServer:
	// created, updated, deleted when removed, drift reverted. Realm-wide
	// authority is the platform team's; no AuthClient can declare or
	// request a realm role.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	RealmRoles []RealmRole `json:"realmRoles,omitempty"`

	// groups are top-level groups of the realm and the realmRoles their
	// members hold, such as the groups an LDAP group mapper puts users in.
	// A group that does not exist is created (and deleted when removed);
	// one that exists is used without being taken over.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	Groups []RealmGroup `json:"groups,omitempty"`
}

// AuthServerTLS configures the TLS certificate of an AuthServer's public endpoint.
type AuthServerTLS struct {
	// certSecretRef names a Secret of type kubernetes.io/tls, in the
	// AuthServer's namespace, that holds the certificate and its key.
	// +required
	CertSecretRef LocalObjectReference `json:"certSecretRef,omitzero"`
}

// KeycloakConnection says how to reach a Keycloak server and log in to its
// admin API.
type KeycloakConnection struct {
	// url is the base URL of the Keycloak server, for example
	// https://keycloak.example.com (no /auth suffix for Keycloak 17 and later).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="url must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')`,message="url must not carry user info (user:password@): put credentials in adminCredentialsSecretRef"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="url's port must be a number from 1 to 65535"
	URL string `json:"url,omitempty"`

	// adminCredentialsSecretRef names a Secret in the AuthServer's namespace
	// with either `username` and `password` of an admin user, or
	// `client_id` and `client_secret` of a service-account client allowed to
	// manage realms.
	// +required
	AdminCredentialsSecretRef LocalObjectReference `json:"adminCredentialsSecretRef,omitzero"`

	// adminRealm is the realm the admin credentials belong to. Defaults to master.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=237
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`
	// +kubebuilder:default=master
	AdminRealm string `json:"adminRealm,omitempty"`
}

// AuthServerStatus is the observed state of an AuthServer.
type AuthServerStatus struct {
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

	// realmName is the name of the Keycloak realm this AuthServer owns.
	// +optional
	RealmName string `json:"realmName,omitempty"`

	// keycloakVersion is the version of the Keycloak server hosting the
	// realm, read when the operator connects (GET /admin/serverinfo) and
	// again every 10 minutes; empty when the admin identity may not read it
	// (Keycloak 26.4 shows it to admins of the master realm only).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	KeycloakVersion string `json:"keycloakVersion,omitempty"`

	// adoption is the review of the realm's adoption (spec.adoption.realm):
	// the diff to acknowledge, or when the realm was adopted.
	// +optional
	Adoption *AdoptionStatus `json:"adoption,omitempty"`

	// issuer is the issuer that Keycloak serves for the realm, read from its
	// discovery document.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// discoveryUrl is the URL of the realm's OpenID Connect discovery document.
	// +optional
	DiscoveryURL string `json:"discoveryUrl,omitempty"`

	// realmSessionIdleSeconds is the realm's SSO session idle timeout: no
	// refresh token outlives it, so a policy's refreshTokenTTL is applied
	// up to it.
	// +optional
	RealmSessionIdleSeconds int32 `json:"realmSessionIdleSeconds,omitempty"`

	// realmOfflineSessionIdleSeconds is the realm's offline session idle
	// timeout, the same bound for offline tokens.
	// +optional
	RealmOfflineSessionIdleSeconds int32 `json:"realmOfflineSessionIdleSeconds,omitempty"`

	// secretRotation is the secret rotation set up in the realm for the
	// clients of this AuthServer; absent when no selected policy rotates.
	// +optional
	SecretRotation *RealmRotationStatus `json:"secretRotation,omitempty"`

	// userStore is the user federation set up in the realm.
	// +optional
	UserStore *RealmUserStoreStatus `json:"userStore,omitempty"`

	// serviceAccountAuthentication is the service-account token issuer the
	// realm trusts; absent when spec.serviceAccountAuthentication is.
	// +optional
	ServiceAccountAuthentication *ServiceAccountAuthenticationStatus `json:"serviceAccountAuthentication,omitempty"`

	// certificate is what the certificate of spec.tls.certSecretRef says.
	// +optional
	Certificate *CertificateStatus `json:"certificate,omitempty"`

	// realmRoles are the declared realm roles the realm holds.
	// +optional
	// +listType=atomic
	RealmRoles []string `json:"realmRoles,omitempty"`

	// groups are the groups whose realm-role mappings Nauthera manages.
	// +optional
	// +listType=atomic
	Groups []RealmGroupStatus `json:"groups,omitempty"`
}

// CertificateStatus is the certificate of an AuthServer's public endpoint.
type CertificateStatus struct {
	// secretName is the Secret it was read from.
	// +required
	SecretName string `json:"secretName"`
	// notAfter is when it expires.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`
	// dnsNames are the names it covers.
	// +optional
	// +listType=atomic
	DNSNames []string `json:"dnsNames,omitempty"`
}

// CertificateCondition on an AuthServer says whether spec.tls.certSecretRef
// holds a usable certificate for the issuer's host; its reasons come from
// pkg/certs (CertificateValid, CertificateExpiringSoon, CertificateExpired,
// CertificateHostMismatch, CertificateInvalid, CertificateNotYetValid) and
// CertificateNotFound.
const CertificateCondition = "CertificateReady"

// AuthServer is a Keycloak realm managed by Nauthera: the place where
// AuthClients get their OIDC clients and users sign in.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="has(self.spec.realmName) || self.metadata.name != 'master'",message="metadata.name: an AuthServer named master needs spec.realmName: master is Keycloak's administration realm"
// +kubebuilder:validation:XValidation:rule="has(self.spec.realmName) || size(self.metadata.name) <= 237",message="metadata.name: without spec.realmName the realm is named after the AuthServer, and Keycloak stores at most 237 characters: use a shorter name or set spec.realmName"
// +kubebuilder:resource:shortName=as;authsrv,categories=nauthera
// +kubebuilder:printcolumn:name="Realm",type=string,JSONPath=`.status.realmName`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.status.issuer`
// +kubebuilder:printcolumn:name="Cert Expiry",type=string,JSONPath=`.status.certificate.notAfter`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Keycloak",type=string,JSONPath=`.status.keycloakVersion`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthServer struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired realm.
	// +required
	Spec AuthServerSpec `json:"spec,omitzero"`

	// status is the observed state of the realm.
	// +optional
	Status AuthServerStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *AuthServer) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *AuthServer) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// EffectiveRealmName is the realm this AuthServer owns: spec.realmName, else its name.
func (in *AuthServer) EffectiveRealmName() string {
	if in.Spec.RealmName != "" {
		return in.Spec.RealmName
	}
	return in.Name
}

// AuthServerList is a list of AuthServers.
// +kubebuilder:object:root=true
type AuthServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthServer `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &AuthServer{}, &AuthServerList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *AuthServer) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
