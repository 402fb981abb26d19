package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientAuthenticationMethod is how a confidential client authenticates at the token endpoint.
// +kubebuilder:validation:Enum=client_secret_basic;client_secret_post;client_secret_jwt;private_key_jwt;service_account_token
type ClientAuthenticationMethod string

const (
	ClientAuthSecretBasic ClientAuthenticationMethod = "client_secret_basic"
	ClientAuthSecretPost  ClientAuthenticationMethod = "client_secret_post"
	ClientAuthSecretJWT   ClientAuthenticationMethod = "client_secret_jwt"
	ClientAuthPrivateKey  ClientAuthenticationMethod = "private_key_jwt"
	// ClientAuthServiceAccountToken: secretless, a Kubernetes
	// service-account token as client assertion (AuthClient spec.serviceAccount).
	ClientAuthServiceAccountToken ClientAuthenticationMethod = "service_account_token"
)

// AuthPolicySpec constrains and defaults the clients of the AuthServers that select it.
type AuthPolicySpec struct {
	// token sets the lifetimes of the tokens issued to governed clients.
	// +optional
	Token *TokenPolicy `json:"token,omitempty"`

	// allowedGrantTypes lists the grant types governed clients may use.
	// A client asking for another is refused. Omitted allows all; an empty
	// list is refused (it would allow nothing).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	AllowedGrantTypes []GrantType `json:"allowedGrantTypes,omitempty"`

	// enforcePKCE requires PKCE with S256 for the authorization code flow of
	// every governed client.
	// +optional
	EnforcePKCE bool `json:"enforcePKCE,omitempty"`

	// allowedScopes lists the scopes governed clients may request. A client
	// asking for another is refused. Omitted allows all; an empty list is
	// refused (it would allow nothing).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[!#-&(-\[\]-~]+$`
	AllowedScopes []string `json:"allowedScopes,omitempty"`

	// clientAuthentication sets how confidential clients authenticate and
	// how their secrets rotate.
	// +optional
	ClientAuthentication *ClientAuthenticationPolicy `json:"clientAuthentication,omitempty"`

	// roleGrants limits which roles governed clients may be granted across
	// namespaces (AuthClient spec.roleGrants). A forbidden grant is
	// refused as a PolicyViolation naming it and is not given to (or is
	// taken from) the client's service account; the client and its
	// credentials are kept. Omitted: the API's consent decides alone.
	// +optional
	RoleGrants *RoleGrantPolicy `json:"roleGrants,omitempty"`

	// claims limits the custom claims governed clients may declare
	// (AuthClient spec.claims): whether any, of which types, reaching which
	// tokens. A forbidden claim is refused as a PolicyViolation naming it
	// and its mapper is not created (or is removed); the client and its
	// credentials are kept. Omitted: any claim.
	// +optional
	Claims *ClaimPolicy `json:"claims,omitempty"`
}

// TokenPolicy sets token lifetimes, as Go durations such as `15m` or `24h`.
// +kubebuilder:validation:XValidation:rule="!has(self.accessTokenTTL) || !has(self.refreshTokenTTL) || duration(self.refreshTokenTTL) >= duration(self.accessTokenTTL)",message="refreshTokenTTL must not be shorter than accessTokenTTL",fieldPath=".refreshTokenTTL"
type TokenPolicy struct {
	// accessTokenTTL is the lifetime of access tokens, from 10s to 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="accessTokenTTL must be between 10s and 24h"
	AccessTokenTTL *metav1.Duration `json:"accessTokenTTL,omitempty"`

	// refreshTokenTTL is the lifetime of refresh tokens (the client
	// session's idle timeout), from 10s to 8760h (a year).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('8760h')",message="refreshTokenTTL must be between 10s and 8760h"
	RefreshTokenTTL *metav1.Duration `json:"refreshTokenTTL,omitempty"`

	// idTokenTTL is the lifetime of ID tokens, from 10s to 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="idTokenTTL must be between 10s and 24h"
	IDTokenTTL *metav1.Duration `json:"idTokenTTL,omitempty"`
}

// ClientAuthenticationPolicy sets how confidential clients authenticate.
type ClientAuthenticationPolicy struct {
	// method is the token endpoint authentication method governed clients
	// must use: client_secret_basic or client_secret_post (a client
	// secret), client_secret_jwt (a JWT signed with the secret),
	// private_key_jwt (not supported yet: such clients are reported), or
	// service_account_token (secretless: a Kubernetes service-account token,
	// AuthClient spec.serviceAccount). A client that authenticates otherwise
	// is refused as a PolicyViolation.
	// +optional
	Method ClientAuthenticationMethod `json:"method,omitempty"`

	// secretRotation rotates client secrets on a schedule without downtime.
	// +optional
	SecretRotation *SecretRotationPolicy `json:"secretRotation,omitempty"`
}

// SecretRotationPolicy rotates client secrets on a schedule. After a
// rotation the previous secret stays valid for gracePeriod, so workloads can
// pick up the new one without downtime.
// +kubebuilder:validation:XValidation:rule="!self.enabled || has(self.schedule)",message="schedule is required when secret rotation is enabled",fieldPath=".schedule",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.gracePeriod) || !has(self.schedule) || !self.schedule.startsWith('@') || duration(self.gracePeriod) <= (self.schedule.startsWith('@every ') ? duration(self.schedule.substring(7)) : self.schedule == '@hourly' ? duration('1h') : (self.schedule == '@daily' || self.schedule == '@midnight') ? duration('24h') : self.schedule == '@weekly' ? duration('168h') : self.schedule == '@monthly' ? duration('672h') : duration('8760h'))",message="gracePeriod must not be longer than the shortest time between two rotations of the schedule (@hourly 1h, @daily 24h, @weekly 168h, @monthly 672h, @yearly 8760h): Keycloak keeps one previous secret, so the next rotation would end the grace period early",fieldPath=".gracePeriod"
type SecretRotationPolicy struct {
	// enabled turns scheduled rotation on. The AuthServer sets up a Keycloak
	// client policy with the secret-rotation executor in its realm (Keycloak
	// 26.7 needs the client-secret-rotation feature; 26.8+ has it on).
	// +required
	Enabled bool `json:"enabled"`

	// schedule says when secrets rotate, in UTC: five cron fields of numbers
	// (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week
	// 0-6 with 0 = Sunday; `*`, ranges `a-b`, lists `a,b` and steps `/n`),
	// a descriptor (@yearly, @monthly, @weekly, @daily, @hourly) or
	// `@every <duration>` from 10s to 8784h. Month and day names are not
	// accepted. A schedule must rotate at least once every 366 days.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.matches(r'^(\*|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]{0,2})?(,(\*|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]{0,2})?)* +(\*|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]{0,2})?(,(\*|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]{0,2})?)* +(\*|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]{0,2})?(,(\*|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]{0,2})?)* +(\*|(0?[1-9]|1[0-2])(-(0?[1-9]|1[0-2]))?)(/[1-9][0-9]{0,2})?(,(\*|(0?[1-9]|1[0-2])(-(0?[1-9]|1[0-2]))?)(/[1-9][0-9]{0,2})?)* +(\*|([0-6])(-([0-6]))?)(/[1-9][0-9]{0,2})?(,(\*|([0-6])(-([0-6]))?)(/[1-9][0-9]{0,2})?)*$') || (self.matches(r'^@every ([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$') && size(self) <= 27 && duration(self.substring(7)) >= duration('10s') && duration(self.substring(7)) <= duration('8784h'))`,message="schedule must be five cron fields of numbers in range (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6), a descriptor such as @daily, or @every <duration> from 10s to 8784h (366 days)"
	Schedule string `json:"schedule,omitempty"`

	// gracePeriod is how long the previous secret stays valid after a
	// rotation, from 10s to 8760h, and at most the shortest time between two
	// slots of the schedule (Keycloak keeps one previous secret: the next
	// rotation ends the previous grace period). Defaults to 24h, or to that
	// shortest time when it is shorter.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('8760h')",message="gracePeriod must be between 10s and 8760h"
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
}

// AuthPolicyStatus is the observed state of an AuthPolicy.
type AuthPolicyStatus struct {
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

	// authServers are the AuthServers (in the policy's namespace) whose
	// policySelector selects this policy.
	// +optional
	// +listType=atomic
	AuthServers []string `json:"authServers,omitempty"`

	// selectedBy is how many AuthServers select the policy.
	// +optional
	SelectedBy *int32 `json:"selectedBy,omitempty"`

	// governedClients is how many AuthClients the policy governs.
	// +optional
	GovernedClients *int32 `json:"governedClients,omitempty"`

	// violatingClients is how many of them break it (and are refused as
	// PolicyViolation until they comply).
	// +optional
	ViolatingClients *int32 `json:"violatingClients,omitempty"`
}

// AuthPolicy governs the clients of every AuthServer whose policySelector
// selects it: allowed grant types and scopes, PKCE, token lifetimes,
// secret rotation, role grants across namespaces and custom claims.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ap;authpol,categories=nauthera
// +kubebuilder:printcolumn:name="PKCE",type=boolean,JSONPath=`.spec.enforcePKCE`
// +kubebuilder:printcolumn:name="Access TTL",type=string,JSONPath=`.spec.token.accessTokenTTL`
// +kubebuilder:printcolumn:name="Servers",type=integer,JSONPath=`.status.selectedBy`
// +kubebuilder:printcolumn:name="Clients",type=integer,JSONPath=`.status.governedClients`
// +kubebuilder:printcolumn:name="Violations",type=integer,JSONPath=`.status.violatingClients`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the policy.
	// +required
	Spec AuthPolicySpec `json:"spec"`

	// status is the observed state of the policy.
	// +optional
	Status AuthPolicyStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *AuthPolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *AuthPolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// AuthPolicyList is a list of AuthPolicies.
// +kubebuilder:object:root=true
type AuthPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthPolicy `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &AuthPolicy{}, &AuthPolicyList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *AuthPolicy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
