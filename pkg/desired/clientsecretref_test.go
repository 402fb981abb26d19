package desired_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/desired"
)

func TestBYOSecretSourceRules(t *testing.T) {
	const good = "s3cr3t-Value_0123456789"
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"},
		Spec: authv1.AuthClientSpec{ClientSecretRef: &authv1.ClientSecretReference{Name: "vault", Key: "secret"}}}
	secret := func(annotation string, data map[string]string, mutate ...func(*corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: "team", Annotations: map[string]string{}}, Data: map[string][]byte{}}
		if annotation != "" {
			s.Annotations[authv1.AnnotationClientSecretFor] = annotation
		}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		for _, m := range mutate {
			m(s)
		}
		return s
	}
	ownedByAuthClient := func(s *corev1.Secret) {
		s.OwnerReferences = []metav1.OwnerReference{{APIVersion: authv1.GroupVersion.String(), Kind: "AuthClient", Name: "other", UID: "u", Controller: ptr.To(true)}}
	}
	labelled := func(s *corev1.Secret) { s.Labels = map[string]string{desired.LabelManagedBy: desired.ManagedByValue} }
	for _, c := range []struct {
		name   string
		s      *corev1.Secret
		reason string
	}{
		{"missing Secret", nil, authv1.ReasonClientSecretRefNotFound},
		{"no consent", secret("", map[string]string{"secret": good}), authv1.ReasonClientSecretRefNotPermitted},
		{"consent for others", secret("webapp, api", map[string]string{"secret": good}), authv1.ReasonClientSecretRefNotPermitted},
		{"another AuthClient's output Secret", secret("web", map[string]string{"secret": good}, ownedByAuthClient), authv1.ReasonClientSecretRefNotPermitted},
		{"labelled as Nauthera's", secret("web", map[string]string{"secret": good}, labelled), authv1.ReasonClientSecretRefNotPermitted},
		{"no consent hides missing key", secret("", nil), authv1.ReasonClientSecretRefNotPermitted},
		{"missing key", secret("web", map[string]string{"other": good}), authv1.ReasonClientSecretRefNotFound},
		{"empty", secret("web", map[string]string{"secret": ""}), authv1.ReasonClientSecretRefInvalid},
		{"too short", secret("web", map[string]string{"secret": "short-secret-15"}), authv1.ReasonClientSecretRefInvalid},
		{"too long", secret("web", map[string]string{"secret": strings.Repeat("a", 256)}), authv1.ReasonClientSecretRefInvalid},
		{"space", secret("web", map[string]string{"secret": "has a space in it!"}), authv1.ReasonClientSecretRefInvalid},
		{"newline", secret("web", map[string]string{"secret": good + "\n"}), authv1.ReasonClientSecretRefInvalid},
		{"non-ASCII", secret("web", map[string]string{"secret": good + "é"}), authv1.ReasonClientSecretRefInvalid},
		{"good, listed among others", secret("api, web", map[string]string{"secret": good}), ""},
		{"good at 16 and 255", secret("web", map[string]string{"secret": strings.Repeat("x", 16)}), ""},
		{"good at 255", secret("web", map[string]string{"secret": strings.Repeat("~", 255)}), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, reason, msg := desired.ClientSecretSource(ac, c.s)
			if reason != c.reason {
				t.Fatalf("reason %q (%s), want %q", reason, msg, c.reason)
			}
			if reason == "" {
				if want := string(c.s.Data["secret"]); v != want {
					t.Errorf("value not the Secret's")
				}
				return
			}
			if v != "" {
				t.Errorf("a refused source returned a value")
			}
			if !strings.Contains(msg, "Secret team/vault") {
				t.Errorf("message does not name the Secret: %s", msg)
			}
			if c.s != nil {
				for _, d := range c.s.Data {
					if len(d) > 0 && strings.Contains(msg, string(d)) {
						t.Errorf("message holds the value: %s", msg)
					}
				}
			}
		})
	}
}
