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
	"text/template/parse"

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
	"replace":    replace,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
}

// maxRendered bounds what one template may render (a Secret holds 1 MiB).
const maxRendered = 64 << 10

// replace is strings.ReplaceAll without the empty pattern, which would
// multiply the text.
func replace(old, with, s string) (string, error) {
	if old == "" {
		return "", fmt.Errorf("replace: the text to replace is empty")
	}
	out := strings.ReplaceAll(s, old, with)
	if len(out) > maxRendered {
		return "", fmt.Errorf("replace: the result is over %d bytes", maxRendered)
	}
	return out, nil
}

// limitedBuffer fails a template that writes more than maxRendered bytes.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, fmt.Errorf("renders more than %d bytes", maxRendered)
	}
	return b.Buffer.Write(p)
}

// checkTree allows what a Secret value needs and nothing that runs long or
// depends on the secret: text, and actions that print a value (.name),
// a string, or one of templateFuncs applied to those. No if, with, range,
// template, define, variables or built-in functions: a template then
// renders with the real credentials exactly as it renders at admission, so
// no error can ever come from (or tell anything about) the secret.
func checkTree(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return fmt.Errorf("define and block are not supported")
	}
	var arg func(n parse.Node) error
	pipe := func(p *parse.PipeNode) error {
		if p == nil || len(p.Decl) > 0 {
			return fmt.Errorf("variables are not supported")
		}
		for _, c := range p.Cmds {
			for i, a := range c.Args {
				if id, ok := a.(*parse.IdentifierNode); ok {
					if _, known := templateFuncs[id.Ident]; !known || i > 0 {
						return fmt.Errorf("function %q is not supported (use %s)", id.Ident, strings.Join(slices.Sorted(maps.Keys(templateFuncs)), ", "))
					}
					continue
				}
				if err := arg(a); err != nil {
					return err
				}
			}
		}
		return nil
	}
	arg = func(n parse.Node) error {
		switch n := n.(type) {
		case *parse.FieldNode:
			if len(n.Ident) != 1 {
				return fmt.Errorf("%s: only plain values such as .client_id are supported", n)
			}
			return nil
		case *parse.StringNode:
			return nil
		case *parse.PipeNode:
			return pipe(n)
		default:
			return fmt.Errorf("%s is not supported: print values (.client_id), strings and %s", n, strings.Join(slices.Sorted(maps.Keys(templateFuncs)), ", "))
		}
	}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			if err := pipe(n.Pipe); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is not supported: a key is text with {{ .value }} actions, not a program", n)
		}
	}
	return nil
}

// SecretValues are the values a template may use, by name. secret is empty
// for public and secretless clients, which then have no client_secret;
// secretless clients have token_audience.
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
	if ac.Secretless() {
		v[KeyTokenAudience] = TokenAudience(issuer)
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
		if err == nil {
			err = checkTree(t)
		}
		if err != nil {
			return nil, fmt.Errorf("spec.secretTemplate.data[%s]: %w", k, err)
		}
		var b limitedBuffer
		if err := t.Execute(&b, values); err != nil {
			msg := err.Error()
			// Errors go into conditions: never with the secret in them.
			if s := values["client_secret"]; s != "" && strings.Contains(msg, s) {
				msg = "does not render with the actual credentials"
			}
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
	if !ac.HasSecret() {
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
