package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientAuthenticationMethod is how a confidential client authenticates at the token endpoint.
// +kubebuilder:validation:Enum=client_secret_basic;client_secret_post;client_secret_jwt;private_key_jwt
type ClientAuthenticationMethod string

const (
	ClientAuthSecretBasic ClientAuthenticationMethod = "client_secret_basic"
	ClientAuthSecretPost  ClientAuthenticationMethod = "client_secret_post"
	ClientAuthSecretJWT   ClientAuthenticationMethod = "client_secret_jwt"
	ClientAuthPrivateKey  ClientAuthenticationMethod = "private_key_jwt"
)

// AuthPolicySpec constrains and defaults the clients of the AuthServers that select it.
type AuthPolicySpec struct {
	// token sets the lifetimes of the tokens issued to governed clients.
	// +optional
	Token *TokenPolicy `json:"token,omitempty"`

	// allowedGrantTypes lists the grant types governed clients may use.
	// A client asking for another is refused. Omitted allows all.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=5
	AllowedGrantTypes []GrantType `json:"allowedGrantTypes,omitempty"`

	// enforcePKCE requires PKCE with S256 for the authorization code flow of
	// every governed client.
	// +optional
	EnforcePKCE bool `json:"enforcePKCE,omitempty"`

	// allowedScopes lists the scopes governed clients may request. A client
	// asking for another is refused. Omitted allows all.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[!#-&(-\[\]-~]+$`
	AllowedScopes []string `json:"allowedScopes,omitempty"`

	// clientAuthentication sets how confidential clients authenticate and
	// how their secrets rotate.
	// +optional
	ClientAuthentication *ClientAuthenticationPolicy `json:"clientAuthentication,omitempty"`
}

// TokenPolicy sets token lifetimes, as Go durations such as `15m` or `24h`.
type TokenPolicy struct {
	// accessTokenTTL is the lifetime of access tokens.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	AccessTokenTTL *metav1.Duration `json:"accessTokenTTL,omitempty"`

	// refreshTokenTTL is the lifetime of refresh tokens (the client session's idle timeout).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	RefreshTokenTTL *metav1.Duration `json:"refreshTokenTTL,omitempty"`

	// idTokenTTL is the lifetime of ID tokens.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	IDTokenTTL *metav1.Duration `json:"idTokenTTL,omitempty"`
}

// ClientAuthenticationPolicy sets how confidential clients authenticate.
type ClientAuthenticationPolicy struct {
	// method is the token endpoint authentication method governed clients must use.
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
type SecretRotationPolicy struct {
	// enabled turns scheduled rotation on.
	// +required
	Enabled bool `json:"enabled"`

	// schedule is a cron expression (five fields, or a descriptor such as
	// @daily) in UTC.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+(\.[0-9]+)?(ms|s|m|h))+|[^ ]+( +[^ ]+){4})$`
	Schedule string `json:"schedule,omitempty"`

	// gracePeriod is how long the previous secret stays valid after a
	// rotation. Defaults to 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
}

// AuthPolicyStatus is the observed state of an AuthPolicy.
type AuthPolicyStatus struct {
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

// AuthPolicy governs the clients of every AuthServer whose policySelector
// selects it: allowed grant types and scopes, PKCE, token lifetimes and
// secret rotation.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ap;authpol,categories=nauthera
// +kubebuilder:printcolumn:name="PKCE",type=boolean,JSONPath=`.spec.enforcePKCE`
// +kubebuilder:printcolumn:name="Access TTL",type=string,JSONPath=`.spec.token.accessTokenTTL`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthPolicy struct {
	metav1.TypeMeta   `json:",inline"`
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
	SchemeBuilder.Register(&AuthPolicy{}, &AuthPolicyList{})
}

// SetObservedGeneration records the generation whose outcome the status reports.
func (in *AuthPolicy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
