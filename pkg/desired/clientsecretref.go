package desired

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// ClientSecretSource decides whether the Secret that spec.clientSecretRef
// names (s, nil when it does not exist) may give the AuthClient its client
// secret, and returns the value, or the reason and message of the refusal.
// The rules, in order (the reconciler cannot know who applied the
// AuthClient, so the Secret itself must consent):
//
//  1. the Secret exists (ClientSecretRefNotFound);
//  2. it is not a credentials Secret Nauthera writes: one controlled by an
//     AuthClient or labelled as managed by Nauthera (a loop, or a way to
//     take over another client's credentials) (ClientSecretRefNotPermitted);
//  3. its annotation auth.nauthera.io/client-secret-for names this
//     AuthClient (ClientSecretRefNotPermitted), before anything about its
//     keys is told;
//  4. the key exists (ClientSecretRefNotFound);
//  5. the value is 16 to 255 printable ASCII characters without spaces
//     (ClientSecretRefInvalid).
//
// Messages never hold the value nor any part or measure of it.
func ClientSecretSource(ac *authv1.AuthClient, s *corev1.Secret) (value, reason, msg string) {
	ref := ac.Spec.ClientSecretRef
	where := fmt.Sprintf("Secret %s/%s (spec.clientSecretRef)", ac.Namespace, ref.Name)
	switch {
	case s == nil:
		return "", authv1.ReasonClientSecretRefNotFound, where + " does not exist; the client secret is taken from it once it does"
	case writtenByNauthera(s):
		return "", authv1.ReasonClientSecretRefNotPermitted, where + " is a credentials Secret that Nauthera writes for an AuthClient; name a Secret of your own"
	case !ConsentsTo(s, ac.Name):
		return "", authv1.ReasonClientSecretRefNotPermitted, fmt.Sprintf("%s does not consent to AuthClient %s: its annotation %s must name it (comma-separated AuthClient names), set by someone who may update that Secret",
			where, ac.Name, authv1.AnnotationClientSecretFor)
	}
	v, ok := s.Data[ref.Key]
	switch {
	case !ok:
		return "", authv1.ReasonClientSecretRefNotFound, fmt.Sprintf("%s has no key %q", where, ref.Key)
	case !usableClientSecret(v):
		return "", authv1.ReasonClientSecretRefInvalid, fmt.Sprintf("key %q of %s cannot be a client secret: it must hold %d to %d printable ASCII characters without spaces",
			ref.Key, where, authv1.MinClientSecretLength, authv1.MaxClientSecretLength)
	}
	return string(v), "", ""
}

// ConsentsTo reports whether the Secret's consent annotation names the
// AuthClient called name (of the Secret's namespace).
func ConsentsTo(s *corev1.Secret, name string) bool {
	names := strings.Split(s.Annotations[authv1.AnnotationClientSecretFor], ",")
	return slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == name })
}

// writtenByNauthera reports whether s is a credentials Secret of an
// AuthClient: controlled by one (which only the operator sets), or marked
// as Nauthera's (a label anyone can set, refused all the same: such a
// Secret is one the operator may write).
func writtenByNauthera(s *corev1.Secret) bool {
	if ref := metav1.GetControllerOf(s); ref != nil && ref.Kind == "AuthClient" && strings.HasPrefix(ref.APIVersion, authv1.GroupVersion.Group+"/") {
		return true
	}
	return s.Labels[LabelManagedBy] == ManagedByValue || s.Annotations[AnnotationAuthClient] != ""
}

// usableClientSecret: length within bounds, printable ASCII without space
// (0x21-0x7e). A check of shape, not of the secret's content: the outcome
// for a good value does not depend on which value it is.
func usableClientSecret(v []byte) bool {
	if len(v) < authv1.MinClientSecretLength || len(v) > authv1.MaxClientSecretLength {
		return false
	}
	for _, b := range v {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}
