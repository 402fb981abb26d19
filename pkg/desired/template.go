package desired

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/util/validation"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Secret templates (spec.secretTemplate): Go templates over the values
// Nauthera knows, so that a Secret fits what an application expects.
// Rendering is all or nothing: any error and no data at all.

// templateFuncs are the functions templates may call: text only, no I/O.
var templateFuncs = template.FuncMap{
	"upper":      strings.ToUpper,
	"lower":      strings.ToLower,
	"quote":      strconv.Quote,
	"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
}

// SecretValues are the values a template may use, by name. secret is empty
// for public clients, which then have no client_secret.
func SecretValues(ac *authv1.AuthClient, issuer, secret string) map[string]string {
	issuer = strings.TrimRight(issuer, "/")
	oidc := issuer + "/protocol/openid-connect"
	v := map[string]string{
		"client_id":         ac.EffectiveClientID(),
		"issuer_url":        issuer,
		"discovery_url":     issuer + "/.well-known/openid-configuration",
		"authorization_url": oidc + "/auth",
		"token_url":         oidc + "/token",
		"userinfo_url":      oidc + "/userinfo",
		"end_session_url":   oidc + "/logout",
		"jwks_url":          oidc + "/certs",
		"scopes":            "",
		"redirect_uri":      "",
	}
	if secret != "" {
		v["client_secret"] = secret
	}
	if s := SecretData(ac, issuer, secret)[KeyScopes]; len(s) > 0 {
		v["scopes"] = string(s)
	}
	if len(ac.Spec.RedirectURIs) > 0 {
		v["redirect_uri"] = ac.Spec.RedirectURIs[0]
	}
	return v
}

// SecretPayload is the credentials Secret's data: Nauthera's default keys,
// or what spec.secretTemplate makes of them. An error names the key whose
// template failed; nothing is to be written then.
func SecretPayload(ac *authv1.AuthClient, issuer, secret string) (map[string][]byte, error) {
	defaults := SecretData(ac, issuer, secret)
	tpl := ac.Spec.SecretTemplate
	if tpl == nil || len(tpl.Data) == 0 {
		return defaults, nil
	}
	rendered, err := RenderTemplates(tpl.Data, SecretValues(ac, issuer, secret))
	if err != nil {
		return nil, err
	}
	if tpl.MergePolicy == authv1.SecretMergeMerge {
		out := maps.Clone(defaults)
		maps.Copy(out, rendered)
		return out, nil
	}
	return rendered, nil
}

// RenderTemplates renders each template with values. An unknown value is an
// error (not an empty string).
func RenderTemplates(data map[string]string, values map[string]string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(data))
	keys := slices.Sorted(maps.Keys(data))
	for _, k := range keys {
		t, err := template.New(k).Funcs(templateFuncs).Option("missingkey=error").Parse(data[k])
		if err != nil {
			return nil, fmt.Errorf("spec.secretTemplate.data[%s]: %v", k, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, values); err != nil {
			msg := err.Error()
			if strings.Contains(msg, "map has no entry for key") {
				msg += fmt.Sprintf(" (known: %s)", strings.Join(slices.Sorted(maps.Keys(values)), ", "))
			}
			return nil, fmt.Errorf("spec.secretTemplate.data[%s]: %s", k, msg)
		}
		out[k] = b.Bytes()
	}
	return out, nil
}

// CheckSecretTemplate renders ac's template with placeholder values and
// checks its labels and annotations: what admission can tell before any
// credentials exist.
func CheckSecretTemplate(ac *authv1.AuthClient) error {
	tpl := ac.Spec.SecretTemplate
	if tpl == nil {
		return nil
	}
	secret := "placeholder-secret"
	if ac.Spec.ClientType == authv1.ClientTypePublic {
		secret = ""
	}
	if _, err := RenderTemplates(tpl.Data, SecretValues(ac, "https://issuer.example.com/realms/r", secret)); err != nil {
		return err
	}
	for k, v := range tpl.Labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.labels[%s]: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.labels[%s]: %s", k, strings.Join(errs, "; "))
		}
	}
	for k := range tpl.Annotations {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.annotations[%s]: %s", k, strings.Join(errs, "; "))
		}
	}
	return nil
}
