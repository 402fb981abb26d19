package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Secretless clients: workloads authenticate to Keycloak with a Kubernetes
// service-account token instead of a client secret.

// ServiceAccountReference names a ServiceAccount in the namespace of the
// AuthClient that holds the reference. There is no namespace field: another
// namespace's ServiceAccount can never be named.
type ServiceAccountReference struct {
	// name of the ServiceAccount, in the AuthClient's namespace. Pods that
	// run as it (spec.serviceAccountName) can authenticate as the client.
	// `default` is refused unless the AuthServer's
	// spec.serviceAccountAuthentication.allowDefaultServiceAccount is true.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`
}

// ServiceAccountAuthentication sets up a realm to accept Kubernetes
// service-account tokens as client credentials.
type ServiceAccountAuthentication struct {
	// issuer is the cluster's service-account token issuer: the API
	// server's --service-account-issuer, exactly as it appears in the `iss`
	// claim of its tokens, for example
	// https://kubernetes.default.svc.cluster.local or
	// https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE. Keycloak fetches
	// <issuer>/.well-known/openid-configuration and the keys it names
	// (jwks_uri), so it must reach that URL and trust its certificate.
	// Omitted: the issuer of the API server the operator runs against, read
	// from its /.well-known/openid-configuration. https only, and without a
	// trailing slash (Keycloak would request //.well-known/...).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="issuer must be an absolute https URL, for example https://kubernetes.default.svc.cluster.local: Keycloak fetches the issuer's keys over TLS only"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('/') && !self.contains('?') && !self.contains('#')",message="issuer must not end with / nor have a query or fragment: Keycloak appends /.well-known/openid-configuration to it and compares it with the tokens' iss claim byte for byte"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):[^/?#]*') || self.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://(\[[^\]]*\]|[^/?#:\[]*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])([/?#]|$)')`,message="issuer's port must be a number from 1 to 65535"
	Issuer string `json:"issuer,omitempty"`

	// allowDefaultServiceAccount lets AuthClients name the `default`
	// ServiceAccount of their namespace. Off by default: every pod of a
	// namespace that names no ServiceAccount runs as `default`, so all of
	// them could authenticate as such a client.
	// +optional
	AllowDefaultServiceAccount bool `json:"allowDefaultServiceAccount,omitempty"`

	// maxTokenAge is how old a service-account token may be when a workload
	// presents it: Keycloak refuses a token issued longer ago, whatever its
	// expiry (Keycloak's fedClientAssertionMaxExp). From 10m (the shortest
	// projected token Kubernetes issues: a shorter limit would refuse tokens
	// the kubelet has not renewed yet) to 24h; omitted means 1h, Kubernetes'
	// default token lifetime. A projected token's expirationSeconds must not
	// be longer: the kubelet renews a token after 80% of its lifetime.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('24h')",message="maxTokenAge must be between 10m and 24h"
	MaxTokenAge *metav1.Duration `json:"maxTokenAge,omitempty"`
}

// ServiceAccountAuthenticationStatus is what the realm trusts for
// service-account authentication.
type ServiceAccountAuthenticationStatus struct {
	// issuer is the service-account token issuer the realm trusts.
	// +required
	Issuer string `json:"issuer"`
	// identityProvider is the alias of the Keycloak identity provider that trusts it.
	// +required
	IdentityProvider string `json:"identityProvider"`
	// tokenAudience is the audience a workload requests for its
	// service-account token (the realm's issuer): Keycloak accepts a token
	// with exactly this one audience.
	// +optional
	TokenAudience string `json:"tokenAudience,omitempty"`
	// maxTokenAgeSeconds is the age beyond which Keycloak refuses a token.
	// +optional
	MaxTokenAgeSeconds int64 `json:"maxTokenAgeSeconds,omitempty"`
}

// ServiceAccountIssuerCondition on an AuthServer with
// spec.serviceAccountAuthentication says whether its realm trusts the
// service-account issuer and Keycloak can fetch the issuer's keys. It never
// makes the realm un-Ready.
const ServiceAccountIssuerCondition = "ServiceAccountIssuerReady"

// Reasons of service-account authentication.
const (
	// ReasonIssuerReachable: the identity provider is in place and Keycloak
	// fetched the issuer's discovery document and keys.
	ReasonIssuerReachable = "IssuerReachable"
	// ReasonIssuerUnreachable: Keycloak could not fetch the issuer's
	// discovery document or keys (network, TLS trust, or the API server
	// refusing anonymous access to its discovery endpoints).
	ReasonIssuerUnreachable = "IssuerUnreachable"
	// ReasonIssuerMismatch: the issuer's discovery document names another
	// issuer than the one configured; tokens carry that one and would be refused.
	ReasonIssuerMismatch = "IssuerMismatch"
	// ReasonIssuerNotDiscovered: spec.serviceAccountAuthentication.issuer is
	// omitted and the operator could not read the issuer from its API server.
	ReasonIssuerNotDiscovered = "IssuerNotDiscovered"
	// ReasonIdentityProviderConflict: the realm has an identity provider of
	// Nauthera's alias that Nauthera did not create; it is not taken over.
	ReasonIdentityProviderConflict = "IdentityProviderConflict"

	// ReasonServiceAccountAuthenticationDisabled: an AuthClient names a
	// ServiceAccount, and its AuthServer has no spec.serviceAccountAuthentication.
	ReasonServiceAccountAuthenticationDisabled = "ServiceAccountAuthenticationDisabled"
	// ReasonServiceAccountNotAllowed: an AuthClient names the `default`
	// ServiceAccount, which its AuthServer does not allow.
	ReasonServiceAccountNotAllowed = "ServiceAccountNotAllowed"
	// ReasonServiceAccountConflict: another AuthClient of the same AuthServer
	// names the same ServiceAccount (Keycloak would refuse both).
	ReasonServiceAccountConflict = "ServiceAccountConflict"
	// ReasonServiceAccountNotFound: the ServiceAccount does not exist (yet);
	// the client is provisioned, and works once it does.
	ReasonServiceAccountNotFound = "ServiceAccountNotFound"
)

// ServiceAccountSubject is the subject (`sub` claim) of the tokens of a
// ServiceAccount: system:serviceaccount:<namespace>:<name>.
func ServiceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Secretless reports whether the client authenticates with a
// service-account token instead of a secret.
func (in *AuthClient) Secretless() bool { return in.Spec.ServiceAccount != nil }

// HasSecret reports whether the client has a client secret: a Confidential
// client that does not authenticate with a service-account token.
func (in *AuthClient) HasSecret() bool {
	return in.Spec.ClientType != ClientTypePublic && !in.Secretless()
}
