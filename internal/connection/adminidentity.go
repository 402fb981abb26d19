package connection

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// TokenRequester asks the API server for a service-account token (the
// TokenRequest API), as the kubelet does for a projected volume.
type TokenRequester interface {
	Token(ctx context.Context, namespace, serviceAccount, audience string) (string, error)
}

// ServiceAccountTokens is the TokenRequester over a clientset.
type ServiceAccountTokens struct{ Client kubernetes.Interface }

// adminTokenSeconds is the life of a token requested for an admin identity:
// the shortest the API server grants. One is requested per Keycloak login.
const adminTokenSeconds = 600

// Token requests a token of namespace/serviceAccount with this audience only.
func (s ServiceAccountTokens) Token(ctx context.Context, namespace, serviceAccount, audience string) (string, error) {
	exp := int64(adminTokenSeconds)
	tr, err := s.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, serviceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &exp},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

// TokenAudience is the audience of the operator's admin tokens: the
// configured one, else the admin realm's issuer as Keycloak names it when
// reached at URL (its federated-JWT authenticator accepts the realm's
// issuer).
func (d Defaults) TokenAudience() string {
	if d.Audience != "" {
		return d.Audience
	}
	realm := d.AdminRealm
	if realm == "" {
		realm = "master"
	}
	return strings.TrimRight(d.URL, "/") + "/realms/" + realm
}

// adminIdentity returns the credentials of an AuthServer's own admin
// identity: its client, authenticated at each login by a fresh token of its
// ServiceAccount. The token is requested when Keycloak is logged in to,
// not here, and never stored beyond that login.
func (c *Resolver) adminIdentity(as *authv1.AuthServer, ai *authv1.AdminIdentity) (keycloak.Credentials, error) {
	if c.Tokens == nil {
		return keycloak.Credentials{}, &CredentialsError{"spec.adminIdentity: the operator cannot request service-account tokens (no TokenRequester configured)"}
	}
	ns, sa, audience := as.Namespace, ai.ServiceAccountName, c.Defaults.TokenAudience()
	return keycloak.Credentials{
		ClientID:      ai.ClientID,
		AssertionFrom: "ServiceAccount " + ns + "/" + sa,
		Assertion: func(ctx context.Context) (string, error) {
			tok, err := c.Tokens.Token(ctx, ns, sa, audience)
			switch {
			case apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
				// Not Keycloak refusing a login: the identity's credentials
				// are missing (reason CredentialsNotFound, retried with backoff).
				return "", &CredentialsError{fmt.Sprintf("spec.adminIdentity.serviceAccountName: cannot request a token of ServiceAccount %s/%s (does it exist, and may the operator create its serviceaccounts/token?): %v", ns, sa, err)}
			case err != nil:
				// An API server that did not answer: retried, never taken
				// for missing credentials (a deletion would give up).
				return "", fmt.Errorf("request a token of ServiceAccount %s/%s for spec.adminIdentity: %w", ns, sa, err)
			}
			return tok, nil
		},
	}, nil
}
