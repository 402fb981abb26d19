package desired

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

const testIssuer = "https://auth.prod.example.com/realms/production-server"

// The ready-made examples in config/samples/secret-templates render into
// what each application reads.
func TestSecretTemplateExamples(t *testing.T) {
	want := map[string]map[string]string{
		"spring-boot.yaml": {
			"SPRING_SECURITY_OAUTH2_CLIENT_REGISTRATION_KEYCLOAK_CLIENT_ID":     "my-app-dev.orders",
			"SPRING_SECURITY_OAUTH2_CLIENT_REGISTRATION_KEYCLOAK_CLIENT_SECRET": "s3cr3t",
			"SPRING_SECURITY_OAUTH2_CLIENT_REGISTRATION_KEYCLOAK_SCOPE":         "openid,profile,email",
			"SPRING_SECURITY_OAUTH2_CLIENT_PROVIDER_KEYCLOAK_ISSUER_URI":        testIssuer,
		},
		"oauth2-proxy.yaml": {
			"OAUTH2_PROXY_PROVIDER":        "keycloak-oidc",
			"OAUTH2_PROXY_CLIENT_ID":       "my-app-dev.dashboard",
			"OAUTH2_PROXY_CLIENT_SECRET":   "s3cr3t",
			"OAUTH2_PROXY_OIDC_ISSUER_URL": testIssuer,
			"OAUTH2_PROXY_REDIRECT_URL":    "https://dashboard.dev.example.com/oauth2/callback",
		},
		"next-auth.yaml": {
			"AUTH_KEYCLOAK_ID":     "my-app-dev.storefront",
			"AUTH_KEYCLOAK_SECRET": "s3cr3t",
			"AUTH_KEYCLOAK_ISSUER": testIssuer,
			KeyClientID:            "my-app-dev.storefront", // Merge keeps the defaults
			KeyTokenURL:            testIssuer + "/protocol/openid-connect/token",
		},
	}
	for file, keys := range want {
		b, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "secret-templates", file))
		if err != nil {
			t.Fatal(err)
		}
		ac := &authv1.AuthClient{}
		if err := yaml.UnmarshalStrict(b, ac); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := CheckSecretTemplate(context.Background(), ac, ""); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		data, err := SecretPayload(context.Background(), ac, testIssuer, "s3cr3t")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for k, v := range keys {
			if string(data[k]) != v {
				t.Errorf("%s: %s = %q, want %q", file, k, data[k], v)
			}
		}
		if ac.Spec.SecretTemplate.MergePolicy != authv1.SecretMergeMerge && len(data) != len(keys) {
			t.Errorf("%s: Replace wrote %d keys, want only the template's %d", file, len(data), len(keys))
		}
	}
}

func TestBrokenSecretTemplates(t *testing.T) {
	ac := func(data map[string]string, public bool) *authv1.AuthClient {
		a := &authv1.AuthClient{}
		a.Name, a.Namespace = "app", "team"
		a.Spec.SecretTemplate = &authv1.SecretTemplate{Data: data}
		if public {
			a.Spec.ClientType = authv1.ClientTypePublic
		}
		return a
	}
	for _, c := range []struct {
		ac   *authv1.AuthClient
		want string
	}{
		{ac(map[string]string{"ID": "{{ .client_id"}, false), "spec.secretTemplate.data[ID]"},
		{ac(map[string]string{"SECRET": "{{ .clientSecret }}"}, false), `map has no entry for key "clientSecret" (known: `},
		{ac(map[string]string{"SECRET": "{{ .client_secret }}"}, true), `map has no entry for key "client_secret"`},
		{ac(map[string]string{"X": `{{ template "nope" }}`}, false), "spec.secretTemplate.data[X]"},
		// Values, not programs: no loops, recursion, branches on the secret
		// or blow-up.
		{ac(map[string]string{"X": `{{ range 1000000000 }}x{{ end }}`}, false), "not supported"},
		{ac(map[string]string{"X": `{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`}, false), "not supported"},
		{ac(map[string]string{"X": `{{ if ne .client_secret "placeholder-secret" }}{{ range .client_secret }}{{ end }}{{ end }}`}, false), "not supported"},
		{ac(map[string]string{"X": `{{ index .client_secret 0 }}`}, false), `function "index" is not supported`},
		{ac(map[string]string{"X": `{{ $s := .client_secret }}{{ $s }}`}, false), "variables are not supported"},
		{ac(map[string]string{"X": `{{ replace "" "xxxxxxxx" .issuer_url }}`}, false), "the text to replace is empty"},
		{ac(map[string]string{"X": `{{ replace "/" "////////" (replace "/" "////////" (replace "/" "////////" (replace "/" "////////" (replace "/" "////////" .issuer_url)))) }}`}, false), "over 65536 bytes"},
	} {
		err := CheckSecretTemplate(context.Background(), c.ac, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.ac.Spec.SecretTemplate.Data, err, c.want)
		}
		if _, err := SecretPayload(context.Background(), c.ac, testIssuer, "s"); err == nil && !strings.Contains(c.want, "client_secret") {
			t.Errorf("%v: rendered", c.ac.Spec.SecretTemplate.Data)
		}
	}
	bad := ac(map[string]string{"A": "x"}, false)
	bad.Spec.SecretTemplate.Labels = map[string]string{"app": "not a valid value!"}
	if err := CheckSecretTemplate(context.Background(), bad, ""); err == nil || !strings.Contains(err.Error(), "spec.secretTemplate.labels[app]") {
		t.Errorf("invalid label value: %v", err)
	}
}
