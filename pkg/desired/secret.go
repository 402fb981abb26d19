package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Keys of the credentials Secret. An application needs nothing else to start
// an OIDC flow.
const (
	KeyClientID         = "client_id"
	KeyClientSecret     = "client_secret"
	KeyIssuerURL        = "issuer_url"
	KeyDiscoveryURL     = "discovery_url"
	KeyAuthorizationURL = "authorization_url"
	KeyTokenURL         = "token_url"
	KeyScopes           = "scopes"
	KeyRedirectURI      = "redirect_uri"
)

// Labels and annotations on the credentials Secret.
const (
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	ManagedByValue       = "nauthera"
	LabelAuthClient      = "auth.nauthera.io/authclient"
	AnnotationHash       = "auth.nauthera.io/credentials-hash"
	AnnotationAuthServer = "auth.nauthera.io/authserver"
	// AnnotationCredentialsVersion identifies the client secret the Secret
	// holds (an HMAC, never the secret), whatever shape a template gave it.
	AnnotationCredentialsVersion = "auth.nauthera.io/credentials-version"
	// AnnotationTemplateMetadata lists the labels (l:key) and annotations
	// (a:key) spec.secretTemplate put on the Secret, so that those it no
	// longer names are taken off.
	AnnotationTemplateMetadata = "auth.nauthera.io/template-metadata"
	// AnnotationRotation names the last rotation whose secret the Secret
	// holds (written with it, in the same update): after an interruption
	// it tells that the Secret already has that rotation's secret.
	AnnotationRotation = "auth.nauthera.io/rotation"
	// AnnotationAuthClient names the AuthClient; the label of the same key
	// is set too when the name fits a label value (63 characters).
	AnnotationAuthClient = "auth.nauthera.io/authclient"
)

// SecretData is the payload of an AuthClient's credentials Secret. secret is
// empty for public and secretless clients, which then get no client_secret
// key; a secretless client gets token_audience, the audience its workloads
// request for their service-account token (the realm's issuer).
func SecretData(ac *authv1.AuthClient, issuer, secret string) map[string][]byte {
	issuer = strings.TrimRight(issuer, "/")
	data := map[string][]byte{
		KeyClientID:         []byte(ac.EffectiveClientID()),
		KeyIssuerURL:        []byte(issuer),
		KeyDiscoveryURL:     []byte(issuer + "/.well-known/openid-configuration"),
		KeyAuthorizationURL: []byte(issuer + "/protocol/openid-connect/auth"),
		KeyTokenURL:         []byte(issuer + "/protocol/openid-connect/token"),
	}
	if secret != "" {
		data[KeyClientSecret] = []byte(secret)
	}
	if ac.Secretless() {
		data[KeyTokenAudience] = []byte(TokenAudience(issuer))
	}
	scopes := slices.Clone(ac.Spec.Scopes)
	if len(scopes) > 0 {
		if !slices.Contains(scopes, "openid") {
			scopes = append([]string{"openid"}, scopes...)
		}
		data[KeyScopes] = []byte(strings.Join(scopes, " "))
	}
	if len(ac.Spec.RedirectURIs) > 0 {
		data[KeyRedirectURI] = []byte(ac.Spec.RedirectURIs[0])
	}
	return data
}

// Hash is a stable digest of a Secret payload, written as an annotation so
// that workloads (and people) can tell when credentials changed without
// reading them.
func Hash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(data[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
