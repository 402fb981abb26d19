package v1alpha1

// Bring-your-own client secret: spec.clientSecretRef names a key of a
// Secret in the AuthClient's own namespace whose value becomes the Keycloak
// client's secret (docs/guides/bring-your-own-secret.md).

// AnnotationClientSecretFor is the consent of a Secret named by
// spec.clientSecretRef: a comma-separated list of the AuthClients (names in
// the Secret's namespace) that may use one of its keys as their client
// secret. Only someone who may update the Secret can set it, so the
// reconciler, which cannot know who applied an AuthClient, uses a Secret
// only for the AuthClients it names (the admission webhook checks, besides,
// that the applying user may read it).
const AnnotationClientSecretFor = "auth.nauthera.io/client-secret-for"

// Bounds of a bring-your-own client secret's value: at least
// MinClientSecretLength bytes (a guessable short secret is refused), at
// most MaxClientSecretLength (Keycloak's column), printable ASCII without
// spaces (it travels in HTTP Basic authentication and form bodies).
const (
	MinClientSecretLength = 16
	MaxClientSecretLength = 255
)

// ClientSecretReference names a key of a Secret in the AuthClient's own
// namespace.
type ClientSecretReference struct {
	// name of the Secret, in the AuthClient's namespace. The Secret must
	// consent with the annotation auth.nauthera.io/client-secret-for
	// naming this AuthClient, and must not be a credentials Secret that
	// Nauthera writes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`

	// key of the Secret's data holding the client secret: 16 to 255
	// printable ASCII characters without spaces.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// BringsOwnSecret reports whether the client's secret comes from
// spec.clientSecretRef rather than from Keycloak.
func (in *AuthClient) BringsOwnSecret() bool {
	return in.Spec.ClientSecretRef != nil && in.HasSecret()
}
