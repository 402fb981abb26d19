package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientType says whether a client can keep a secret.
// +kubebuilder:validation:Enum=Confidential;Public
type ClientType string

const (
	// ClientTypeConfidential clients run on a server and authenticate with a secret.
	ClientTypeConfidential ClientType = "Confidential"
	// ClientTypePublic clients (single-page and mobile apps) have no secret and must use PKCE.
	ClientTypePublic ClientType = "Public"
)

// AuthClientSpec describes an OpenID Connect client that an application needs.
// +kubebuilder:validation:XValidation:rule="has(self.clientId) == has(oldSelf.clientId) && (!has(self.clientId) || self.clientId == oldSelf.clientId)",message="clientId cannot be added, changed or removed after creation: it identifies the client in Keycloak",fieldPath=".clientId"
// +kubebuilder:validation:XValidation:rule="self.authServerRef == oldSelf.authServerRef",message="authServerRef cannot be changed: the client lives in that server's realm; create a new AuthClient instead",fieldPath=".authServerRef"
// +kubebuilder:validation:XValidation:rule="!(has(self.clientType) && self.clientType == 'Public' && has(self.grantTypes) && 'client_credentials' in self.grantTypes)",message="a Public client has no secret and cannot use client_credentials",fieldPath=".grantTypes"
// +kubebuilder:validation:XValidation:rule="(has(self.grantTypes) && size(self.grantTypes) > 0 && !('authorization_code' in self.grantTypes)) || (has(self.redirectUris) && size(self.redirectUris) > 0)",message="the authorization_code grant needs at least one redirect URI; it is on when grantTypes lists it, and by default when grantTypes is omitted or empty",fieldPath=".redirectUris",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!(has(self.serviceAccount) && has(self.clientType) && self.clientType == 'Public')",message="serviceAccount makes a Confidential client secretless; a Public client does not authenticate at all",fieldPath=".serviceAccount"
// +kubebuilder:validation:XValidation:rule="!has(self.roleGrants) || size(self.roleGrants) == 0 || (has(self.grantTypes) && 'client_credentials' in self.grantTypes)",message="roleGrants are held by the client's service account, which only a client with the client_credentials grant has: add client_credentials to grantTypes",fieldPath=".roleGrants"
// +kubebuilder:validation:XValidation:rule="!has(self.clientSecretRef) || ((!has(self.clientType) || self.clientType != 'Public') && !has(self.serviceAccount))",message="clientSecretRef is for a Confidential client with a client secret: a Public client has no secret, and a client with serviceAccount is secretless",fieldPath=".clientSecretRef"
type AuthClientSpec struct {
	// displayName is the client's name on Keycloak's consent and account
	// pages. Plain text: `<` and `>` are refused.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.matches('[<>]')`,message="displayName must be plain text without < or >: Keycloak renders it on its pages"
	DisplayName string `json:"displayName,omitempty"`

	// authServerRef names the AuthServer (Keycloak realm) that hosts the
	// client. The namespace defaults to the AuthClient's own. Immutable.
	// +required
	AuthServerRef ObjectReference `json:"authServerRef,omitzero"`

	// clientId is the OAuth client_id in Keycloak. Defaults to
	// `<namespace>.<name>`, unique per realm because namespaces are.
	// Immutable. The operator never takes over a client it did not create,
	// unless spec.adopt asks and the AuthServer allows it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[!#-\[\]-~]+$`
	ClientID string `json:"clientId,omitempty"`

	// clientType is Confidential (default: a server-side app with a secret)
	// or Public (a single-page or mobile app without secret, PKCE S256 enforced).
	// +optional
	// +kubebuilder:default=Confidential
	ClientType ClientType `json:"clientType,omitempty"`

	// serviceAccount makes the client secretless: workloads authenticate
	// with a token of this Kubernetes ServiceAccount (of the AuthClient's
	// namespace) instead of a client secret, so there is no secret to leak
	// or rotate. Keycloak checks the token's signature against the cluster's
	// service-account issuer, and its subject,
	// system:serviceaccount:<namespace>:<name>, against this client. The
	// Secret then holds no client_secret, and token_audience: the audience
	// the token must be requested for (the realm's issuer URL). A pod runs
	// as the ServiceAccount (spec.serviceAccountName) and mounts a projected
	// token, for example:
	//
	//	volumes:
	//	- name: keycloak-token
	//	  projected:
	//	    sources:
	//	    - serviceAccountToken:
	//	        path: token
	//	        audience: https://auth.example.com/realms/production-server
	//	        expirationSeconds: 3600
	//
	// It sends the file's content to the token endpoint as client_assertion,
	// with client_assertion_type
	// urn:ietf:params:oauth:client-assertion-type:jwt-bearer, in place of the
	// secret. The AuthServer must enable spec.serviceAccountAuthentication.
	// One ServiceAccount authenticates one client per AuthServer; `default`
	// is refused unless the AuthServer allows it.
	// +optional
	ServiceAccount *ServiceAccountReference `json:"serviceAccount,omitempty"`

	// grantTypes the client may use. Omitted or empty: authorization_code
	// and refresh_token (an AuthPolicy may narrow them), which need a
	// redirect URI. Add client_credentials for a service account.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=5
	GrantTypes []GrantType `json:"grantTypes,omitempty"`

	// redirectUris are the absolute URLs Keycloak may send users back to
	// after login, at most 255 characters each (Keycloak's limit). One
	// wildcard is allowed, as the last character of the path after the host
	// and a `/` (https://app.example.com/callback/*): it matches any path
	// below that prefix on that host. Wildcards in the scheme, host, port or
	// query, fragments, user info and javascript:/data: URIs are refused:
	// they would let Keycloak send authorization codes elsewhere.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:XValidation:rule="isURL(self.replace('*', 'x')) && url(self.replace('*', 'x')).getScheme() != '' && (!(url(self.replace('*', 'x')).getScheme() in ['http', 'https']) || url(self.replace('*', 'x')).getHostname() != '')",message="each redirect URI must be an absolute URL with a scheme and, for http(s), a host, for example https://app.example.com/callback"
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('*') || (self.indexOf('*') == size(self) - 1 && self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#*@]+/[^?#*]*\*$'))`,message="a redirect URI may hold one wildcard *, only as the last character of its path after a host and a /, for example https://app.example.com/callback/*; a wildcard in the scheme, host, port or query would let Keycloak send authorization codes to other sites"
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('#')`,message="a redirect URI must not have a fragment (#)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.lowerAscii().matches(r'^\s*(javascript|data|vbscript|file):')`,message="javascript:, data:, vbscript: and file: redirect URIs are refused"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')`,message="a redirect URI must not carry user info (user:password@)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="a redirect URI's port must be a number from 1 to 65535"
	RedirectURIs []string `json:"redirectUris,omitempty"`

	// postLogoutRedirectUris are the absolute URLs Keycloak may send users to
	// after logout, at most 255 characters each, with the same rules as
	// redirectUris; `##` is refused (Keycloak stores the list joined by it).
	// Omitted allows the redirectUris.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:XValidation:rule="isURL(self.replace('*', 'x')) && url(self.replace('*', 'x')).getScheme() != '' && (!(url(self.replace('*', 'x')).getScheme() in ['http', 'https']) || url(self.replace('*', 'x')).getHostname() != '')",message="each post-logout redirect URI must be an absolute URL with a scheme and, for http(s), a host"
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('*') || (self.indexOf('*') == size(self) - 1 && self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#*@]+/[^?#*]*\*$'))`,message="a post-logout redirect URI may hold one wildcard *, only as the last character of its path after a host and a /"
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('#')`,message="a post-logout redirect URI must not contain # (no fragment, and ## separates URIs in Keycloak)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.lowerAscii().matches(r'^\s*(javascript|data|vbscript|file):')`,message="javascript:, data:, vbscript: and file: post-logout redirect URIs are refused"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')`,message="a post-logout redirect URI must not carry user info (user:password@)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="a post-logout redirect URI's port must be a number from 1 to 65535"
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`

	// webOrigins are the origins allowed for CORS requests, for example
	// https://app.example.com or http://localhost:3000 (scheme, host and
	// optional port; at most 255 characters). `+` allows the origins of the
	// redirectUris, `*` every origin. Omitted means `+`. Host wildcards are
	// refused (Keycloak does not support them).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:XValidation:rule="self == '+' || self == '*' || (!self.contains('*') && isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '' && url(self).getEscapedPath() == '' && !self.contains('?') && !self.contains('#'))",message="each web origin must be `+`, `*` or an origin such as https://app.example.com (scheme, host and optional port; no path, query, fragment or wildcard)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="a web origin's port must be a number from 1 to 65535"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')`,message="a web origin must not carry user info (user:password@)"
	WebOrigins []string `json:"webOrigins,omitempty"`

	// scopes the client may request. openid and the OIDC standard scopes
	// (profile, email, address, phone, offline_access) map to Keycloak's
	// built-in client scopes; any other scope, such as `api:read`, is created
	// in the realm if missing. All are assigned as default scopes, except
	// offline_access which is optional.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[!#-&(-\[\]-~]+$`
	Scopes []string `json:"scopes,omitempty"`

	// deletionPolicy says what happens to the Keycloak client when the
	// AuthClient is deleted: Delete removes it, Orphan keeps it. Unset means
	// Delete for a client Nauthera created and Orphan for one it adopted
	// (spec.adopt): an adopted client predates Nauthera, and other systems
	// may still rely on it.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// adopt asks to take over an existing Keycloak client of this clientId
	// that Nauthera did not create (ClientIdConflict otherwise). An explicit
	// field, so that a clientId that happens to exist is never taken over
	// by accident. The AuthServer must allow it (spec.adoption.clients for
	// this namespace and clientId), and nothing is written until the
	// auth.nauthera.io/adopt annotation holds status.adoption.hash, the
	// hash of the diff shown in status.adoption. The client's secret is
	// kept. A client that another AuthClient manages is never adopted.
	// +optional
	Adopt bool `json:"adopt,omitempty"`

	// secretTemplate shapes the credentials Secret for an application
	// (Spring Boot, Quarkus, oauth2-proxy, environment variables). Omitted
	// keeps Nauthera's default keys.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// audiences are other AuthClients of the same AuthServer whose
	// clientIds this client's access tokens name in their `aud` claim, so
	// that the APIs they stand for accept the tokens (Keycloak's audience
	// mapper). The target must consent: one in this namespace does; one in
	// another namespace lists this namespace or this AuthClient in its
	// spec.audienceAccess. The namespace defaults to this AuthClient's.
	// An audience listed twice counts once.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Audiences []ObjectReference `json:"audiences,omitempty"`

	// audienceAccess says which AuthClients of other namespaces may name
	// this one in their spec.audiences, putting this client's clientId into
	// the `aud` claim of their access tokens. AuthClients of this namespace
	// always may. Omitted: no other namespace may. Withdrawing access
	// removes this client from their tokens' audience.
	// +optional
	AudienceAccess *AudienceAccess `json:"audienceAccess,omitempty"`

	// roles are the client roles of this client: the permissions the API
	// behind it understands. Nauthera creates, updates and deletes them in
	// Keycloak and reverts console edits. Once set, the list is the whole
	// set: roles added in the console are removed, and an empty list
	// removes every role. Omitted: roles are left alone. Each role carries
	// the attribute nauthera.io/owner. Names are compared exactly, as in
	// tokens; two names that differ only in letter case are refused.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.filter(b, b.name.lowerAscii() == a.name.lowerAscii()).size() == 1)",message="spec.roles: names must differ in more than letter case (Keycloak keeps orders:write and Orders:write apart, a database with a case-insensitive collation does not, and tokens carry names as they are)"
	Roles []ClientRole `json:"roles,omitempty"`

	// roleGrants are roles of other AuthClients (APIs) that this client's
	// service account holds, so its client-credentials tokens carry them
	// in resource_access.<clientId>.roles (and Keycloak then names the API
	// in the token's aud). The target must consent, as with audiences,
	// through its spec.roleGrantAccess. Needs client_credentials in
	// grantTypes: the roles are held by the client's service account.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	RoleGrants []RoleGrant `json:"roleGrants,omitempty"`

	// roleGrantAccess says which AuthClients of other namespaces may be
	// granted this client's roles (spec.roleGrants). AuthClients of this
	// namespace always may. Omitted: no other namespace may. Withdrawing
	// access removes the roles from their service accounts.
	// +optional
	RoleGrantAccess *RoleGrantAccess `json:"roleGrantAccess,omitempty"`

	// claims put claims into the client's tokens: a fixed value, a user
	// attribute, group membership, or client roles, each into the tokens it
	// names. Protocol mappers added in the console are left alone and
	// reported in status.unmanagedMappers.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="self.all(c, !has(c.name) || self.filter(d, has(d.name) && d.name == c.name).size() == 1)",message="each claim name may appear once"
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.type != 'ClientRoles' || has(c.name) || self.filter(d, d.type == 'ClientRoles' && !has(d.name) && (has(d.clientRoles) && has(d.clientRoles.client) ? d.clientRoles.client.name + '/' + (has(d.clientRoles.client.__namespace__) ? d.clientRoles.client.__namespace__ : '') : '') == (has(c.clientRoles) && has(c.clientRoles.client) ? c.clientRoles.client.name + '/' + (has(c.clientRoles.client.__namespace__) ? c.clientRoles.client.__namespace__ : '') : '')).size() == 1)",message="an unnamed ClientRoles claim may appear once per client"
	Claims []Claim `json:"claims,omitempty"`
	// clientSecretRef names a key of a Secret in this namespace whose value
	// becomes the client's secret in Keycloak (bring your own secret), for
	// a Confidential client with a client secret. The credentials Secret
	// mirrors it; changing the value rotates the client secret. The Secret
	// must consent (annotation auth.nauthera.io/client-secret-for naming
	// this AuthClient), and whoever applies the AuthClient must be allowed
	// to get it. Omitted: Keycloak generates the secret.
	// +optional
	ClientSecretRef *ClientSecretReference `json:"clientSecretRef,omitempty"`
}

// AudienceAccess is a target AuthClient's consent to appear in the
// audience of other clients' tokens.
type AudienceAccess struct {
	// namespaces whose AuthClients may name this client as an audience.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`

	// clients are single AuthClients, by namespace and name, that may name
	// this client as an audience.
	// +optional
	// +listType=map
	// +listMapKey=namespace
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Clients []NamespacedReference `json:"clients,omitempty"`
}

// NamespacedReference names an object of this API group in a given namespace.
type NamespacedReference struct {
	// namespace of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`
}

// AuthClientStatus is the observed state of an AuthClient.
type AuthClientStatus struct {
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

	// clientId is the client_id of the client in Keycloak.
	// +optional
	ClientID string `json:"clientId,omitempty"`

	// clientSecretRef names the Secret, in the AuthClient's namespace, that
	// holds the client's credentials and OIDC endpoints.
	// +optional
	ClientSecretRef *LocalObjectReference `json:"clientSecretRef,omitempty"`

	// adoption is the review of an adoption (spec.adopt): the diff to
	// acknowledge, or when the client was adopted.
	// +optional
	Adoption *AdoptionStatus `json:"adoption,omitempty"`

	// issuer is the issuer URL of the realm that hosts the client.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// serviceAccount is the subject (system:serviceaccount:<namespace>:<name>)
	// whose service-account tokens authenticate the client in Keycloak; empty
	// for clients with a secret.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`

	// policies are the AuthPolicies (namespace/name) that govern the client:
	// those its AuthServer's policySelector selects.
	// +optional
	// +listType=atomic
	Policies []string `json:"policies,omitempty"`

	// secretRotation is what rotation did and will do to the client secret.
	// +optional
	SecretRotation *SecretRotationStatus `json:"secretRotation,omitempty"`

	// audiences are the clientIds Nauthera put into the `aud` claim of this
	// client's access tokens: those of spec.audiences that consent.
	// +optional
	// +listType=atomic
	Audiences []string `json:"audiences,omitempty"`

	// roles are the client roles Keycloak holds for this client, sorted
	// (read only while spec.roles is set; empty otherwise).
	// +optional
	// +listType=atomic
	Roles []string `json:"roles,omitempty"`

	// roleGrants are the roles of other clients that Keycloak holds for
	// this client's service account.
	// +optional
	// +listType=atomic
	RoleGrants []RoleGrantStatus `json:"roleGrants,omitempty"`

	// claims are the names of the claims (protocol mappers) Nauthera keeps
	// on the client.
	// +optional
	// +listType=atomic
	Claims []string `json:"claims,omitempty"`

	// unmanagedMappers are protocol mappers on the client that Nauthera did
	// not create; it leaves them alone.
	// +optional
	// +listType=atomic
	UnmanagedMappers []string `json:"unmanagedMappers,omitempty"`
}

// SecretMergePolicy says whether a template's keys replace Nauthera's
// default keys or come on top of them.
// +kubebuilder:validation:Enum=Replace;Merge
type SecretMergePolicy string

const (
	// SecretMergeReplace: the Secret holds the template's keys only.
	SecretMergeReplace SecretMergePolicy = "Replace"
	// SecretMergeMerge: Nauthera's default keys, then the template's.
	SecretMergeMerge SecretMergePolicy = "Merge"
)

// SecretTemplate shapes the credentials Secret, in the spirit of
// external-secrets' target.template.
type SecretTemplate struct {
	// data maps Secret keys to Go templates over the credentials:
	// {{ .client_id }}, {{ .client_secret }} (confidential clients),
	// {{ .issuer_url }}, {{ .discovery_url }}, {{ .authorization_url }},
	// {{ .token_url }}, {{ .userinfo_url }}, {{ .end_session_url }},
	// {{ .jwks_url }}, {{ .scopes }} (space-separated),
	// {{ .redirect_uri }} (the first one) and {{ .token_audience }}
	// (secretless clients: the audience of their service-account token). Functions: upper, lower, quote,
	// b64enc, replace, trimPrefix, trimSuffix. A key without template
	// actions is a fixed value. A template that does not render (an unknown
	// value, a syntax error) is refused; no half-rendered Secret is written.
	// +optional
	// +kubebuilder:validation:MaxProperties=50
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[-._a-zA-Z0-9]+$') && size(k) <= 253 && k != '.' && !k.startsWith('..'))",message="data keys must be valid Secret keys: letters, digits, '-', '_' and '.', not . or starting with .."
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096)",message="each template is at most 4096 characters"
	Data map[string]string `json:"data,omitempty"`

	// mergePolicy is Replace (default), which writes the template's keys only;
	// Merge writes Nauthera's default keys and then the template's.
	// +optional
	// +kubebuilder:default=Replace
	MergePolicy SecretMergePolicy `json:"mergePolicy,omitempty"`

	// labels are added to the Secret (fixed values; Nauthera's own
	// auth.nauthera.io/ labels cannot be set, nor those of tools that copy
	// Secrets to other namespaces).
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('auth.nauthera.io/'))",message="labels under auth.nauthera.io/ are Nauthera's"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('reflector.v1.k8s.emberstack.com/') && !k.startsWith('replicator.v1.mittwald.de/') && !k.startsWith('kubed.appscode.com/') && !k.startsWith('config-syncer.appscode.com/'))",message="labels of Secret replication tools would copy the credentials to other namespaces"
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to the Secret (fixed values; Nauthera's own
	// auth.nauthera.io/ annotations cannot be set, nor those of tools that
	// copy Secrets to other namespaces: whoever may write an AuthClient must
	// not be able to send its credentials elsewhere).
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('auth.nauthera.io/'))",message="annotations under auth.nauthera.io/ are Nauthera's"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('reflector.v1.k8s.emberstack.com/') && !k.startsWith('replicator.v1.mittwald.de/') && !k.startsWith('kubed.appscode.com/') && !k.startsWith('config-syncer.appscode.com/'))",message="annotations of Secret replication tools would copy the credentials to other namespaces"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096)",message="each annotation value is at most 4096 characters"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AuthClient is an OpenID Connect client in a Keycloak realm, with its
// credentials mirrored into the Secret `<name>-client-secret`.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ac;authcl,categories=nauthera
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 239",message="metadata.name must be at most 239 characters: the credentials Secret is named <name>-client-secret, at most 253"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.clientSecretRef) || self.spec.clientSecretRef.name != self.metadata.name + '-client-secret'",message="spec.clientSecretRef names this AuthClient's own credentials Secret, which Nauthera writes: name a Secret of your own",fieldPath=".spec.clientSecretRef.name"
// +kubebuilder:validation:XValidation:rule="has(self.spec.clientId) || size(self.metadata.name) <= 191",message="metadata.name: without spec.clientId the clientId is <namespace>.<name>, and Keycloak stores at most 255 characters: use a name of at most 191 characters or set spec.clientId"
// +kubebuilder:printcolumn:name="Client ID",type=string,JSONPath=`.status.clientId`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.clientSecretRef.name`
// +kubebuilder:printcolumn:name="Roles",type=string,JSONPath=`.status.roles`,priority=1
// +kubebuilder:printcolumn:name="Policies",type=string,JSONPath=`.status.policies`,priority=1
// +kubebuilder:printcolumn:name="Service Account",type=string,JSONPath=`.status.serviceAccount`,priority=1
// +kubebuilder:printcolumn:name="Rotated",type=date,JSONPath=`.status.secretRotation.lastRotationTime`,priority=1
// +kubebuilder:printcolumn:name="Next Rotation",type=string,JSONPath=`.status.secretRotation.nextRotationTime`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthClient struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired client.
	// +required
	Spec AuthClientSpec `json:"spec,omitzero"`

	// status is the observed state of the client.
	// +optional
	Status AuthClientStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *AuthClient) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *AuthClient) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// EffectiveClientID is the client_id in Keycloak: spec.clientId, else `<namespace>.<name>`.
// Namespaces hold no dots, so the default never collides across namespaces.
func (in *AuthClient) EffectiveClientID() string {
	if in.Spec.ClientID != "" {
		return in.Spec.ClientID
	}
	return in.Namespace + "." + in.Name
}

// SecretName is the name of the Secret holding the client's credentials.
func (in *AuthClient) SecretName() string { return in.Name + "-client-secret" }

// AuthClientList is a list of AuthClients.
// +kubebuilder:object:root=true
type AuthClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthClient `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &AuthClient{}, &AuthClientList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *AuthClient) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
