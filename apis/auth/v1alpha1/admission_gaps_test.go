package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Admission gaps of issue 21: each class is refused by the real API server
// (schema and CEL), naming the field, and its legitimate neighbours stay
// accepted.

const issuer = "  issuerUrl: https://auth.example.com\n"

func webOrigin(o string) string {
	return redirect("https://a.example.com/cb") + fmt.Sprintf("\n  webOrigins: [%q]", o)
}

func postLogout(u string) string {
	return redirect("https://a.example.com/cb") + fmt.Sprintf("\n  postLogoutRedirectUris: [%q]", u)
}

func bindKey(key string) string {
	return ldapDoc(ldapWith("bind", fmt.Sprintf("    bindDN: \"cn=admin,dc=example,dc=com\"\n    bindPasswordSecretRef: {name: ldap-bind-password, key: %q}", key)))
}

func TestAdmissionGapsAreClosed(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	prefix254 := strings.Repeat("a", 254) + "/x"
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		// Ports out of range, in every URL field.
		{"redirect URI port 0", authClientDoc("c", redirect("https://app.example.com:0/cb")), []string{"spec.redirectUris[0]", "port must be a number from 1 to 65535"}},
		{"redirect URI port 65536", authClientDoc("c", redirect("https://app.example.com:65536/cb")), []string{"spec.redirectUris[0]", "port"}},
		{"redirect URI port 99999999999", authClientDoc("c", redirect("https://app.example.com:99999999999/cb")), []string{"spec.redirectUris[0]", "port"}},
		{"redirect URI port that is not a number", authClientDoc("c", redirect("https://app.example.com:https/cb")), []string{"spec.redirectUris[0]", "port"}},
		{"redirect URI with an empty port", authClientDoc("c", redirect("https://app.example.com:/cb")), []string{"spec.redirectUris[0]", "port"}},
		{"redirect URI IPv6 port 70000", authClientDoc("c", redirect("http://[::1]:70000/cb")), []string{"spec.redirectUris[0]", "port"}},
		{"redirect URI wildcard path, port 0", authClientDoc("c", redirect("https://app.example.com:0/cb/*")), []string{"spec.redirectUris[0]", "port"}},
		{"native scheme with a host and port 0", authClientDoc("c", redirect("myapp://callback:0/x")), []string{"spec.redirectUris[0]", "port"}},
		{"post-logout URI port 0", authClientDoc("c", postLogout("https://app.example.com:0/bye")), []string{"spec.postLogoutRedirectUris[0]", "port"}},
		{"post-logout URI port 65536", authClientDoc("c", postLogout("https://app.example.com:65536")), []string{"spec.postLogoutRedirectUris[0]", "port"}},
		{"web origin port that is not a number", authClientDoc("c", webOrigin("https://a.example.com:abc")), []string{"spec.webOrigins[0]", "port"}},
		{"web origin port 0", authClientDoc("c", webOrigin("http://localhost:0")), []string{"spec.webOrigins[0]", "port"}},
		{"issuerUrl port 0", authServerDoc("s", "  issuerUrl: https://auth.example.com:0"), []string{"spec.issuerUrl", "port"}},
		{"issuerUrl port 65536", authServerDoc("s", "  issuerUrl: https://auth.example.com:65536/"), []string{"spec.issuerUrl", "port"}},
		{"issuerUrl port that is not a number", authServerDoc("s", "  issuerUrl: https://auth.example.com:x443"), []string{"spec.issuerUrl", "port"}},
		{"keycloak.url port 100000", authServerDoc("s", issuer+"  keycloak: {url: \"https://kc.example.com:100000\", adminCredentialsSecretRef: {name: a}}"), []string{"spec.keycloak.url", "port"}},
		{"keycloak.url port 0", authServerDoc("s", issuer+"  keycloak: {url: \"http://[fd00::1]:0/\", adminCredentialsSecretRef: {name: a}}"), []string{"spec.keycloak.url", "port"}},
		{"service-account issuer port 0", authServerDoc("s", issuer+"  serviceAccountAuthentication: {issuer: \"https://k8s.example.com:0\"}"), []string{"spec.serviceAccountAuthentication.issuer", "port"}},
		{"service-account issuer port 65536", authServerDoc("s", issuer+"  serviceAccountAuthentication: {issuer: \"https://k8s.example.com:65536/id\"}"), []string{"spec.serviceAccountAuthentication.issuer", "port"}},
		// Secret key references no Secret can hold.
		{"Secret key .", bindKey("."), []string{"spec.ldap.bindPasswordSecretRef.key", "Secret can hold"}},
		{"Secret key ..", bindKey(".."), []string{"spec.ldap.bindPasswordSecretRef.key", "Secret can hold"}},
		{"Secret key ..data", bindKey("..data"), []string{"spec.ldap.bindPasswordSecretRef.key", "Secret can hold"}},
		{"Secret key with a slash", bindKey("dir/password"), []string{"spec.ldap.bindPasswordSecretRef.key"}},
		{"Secret key with a space", bindKey("pass word"), []string{"spec.ldap.bindPasswordSecretRef.key"}},
		{"Secret key of 254 characters", bindKey(strings.Repeat("k", 254)), []string{"spec.ldap.bindPasswordSecretRef.key"}},
		// Selector keys and values Kubernetes refuses, in matchLabels too.
		{"matchLabels value with a space", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {tier: \"gold plated\"}"), []string{"spec.policySelector.matchLabels.tier"}},
		{"matchLabels value of 64 characters", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {tier: "+strings.Repeat("v", 64)+"}"), []string{"spec.policySelector.matchLabels.tier"}},
		{"matchLabels value ending with a dash", authServerDoc("s", issuer+"  clientNamespaceSelector:\n    matchLabels: {team: \"a-\"}"), []string{"spec.clientNamespaceSelector.matchLabels.team"}},
		{"matchLabels key with a space", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {\"bad key\": x}"), []string{"spec.policySelector.matchLabels", "matchLabels keys must be label keys"}},
		{"matchLabels key with two slashes", authServerDoc("s", issuer+"  clientNamespaceSelector:\n    matchLabels: {\"a/b/c\": x}"), []string{"spec.clientNamespaceSelector.matchLabels", "label keys"}},
		{"matchLabels key with a prefix over 253", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {\""+prefix254+"\": x}"), []string{"spec.policySelector.matchLabels", "label keys"}},
		{"matchLabels key name over 63", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {\""+strings.Repeat("n", 64)+"\": x}"), []string{"spec.policySelector.matchLabels", "label keys"}},
		{"matchExpressions key with a prefix over 253", authServerDoc("s", issuer+"  policySelector:\n    matchExpressions: [{key: \""+prefix254+"\", operator: Exists}]"), []string{"spec.policySelector.matchExpressions[0].key", "253"}},
		{"matchExpressions value with a space", authServerDoc("s", issuer+"  policySelector:\n    matchExpressions: [{key: tier, operator: In, values: [\"a b\"]}]"), []string{"spec.policySelector.matchExpressions[0].values[0]"}},
		// The authorization code flow without a redirect URI, however reached.
		{"grant types omitted, no redirect URI", authClientDoc("c", ""), []string{"spec.redirectUris", "authorization_code"}},
		{"empty grant types, no redirect URI", authClientDoc("c", "  grantTypes: []"), []string{"spec.redirectUris", "authorization_code"}},
		{"empty grant types, empty redirect URIs", authClientDoc("c", "  grantTypes: []\n  redirectUris: []"), []string{"spec.redirectUris", "authorization_code"}},
		{"explicit authorization_code, no redirect URI", authClientDoc("c", "  grantTypes: [refresh_token, authorization_code]"), []string{"spec.redirectUris", "authorization_code"}},
		{"Public client by default grants, no redirect URI", authClientDoc("c", "  clientType: Public"), []string{"spec.redirectUris", "authorization_code"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, c.doc, c.want...) })
	}
}

func TestAdmissionGapNeighboursStayAccepted(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	cases := []struct{ name, doc string }{
		{"redirect URI ports 1 and 65535", authClientDoc("c", "  redirectUris: [\"https://a.example.com:1/cb\", \"https://a.example.com:65535/cb/*\", \"http://127.0.0.1:8080/callback?x=1\"]")},
		{"redirect URI IPv6 with and without a port", authClientDoc("c", "  redirectUris: [\"http://[::1]:8080/cb\", \"http://[::1]/cb\"]")},
		{"redirect URI with a colon in its path", authClientDoc("c", redirect("https://a.example.com/cb:x"))},
		{"native app scheme without a host", authClientDoc("c", redirect("com.example.app:/oauth2redirect"))},
		{"post-logout URI with a port", authClientDoc("c", postLogout("https://app.example.com:8443/bye"))},
		{"web origin with a port", authClientDoc("c", webOrigin("http://localhost:3000"))},
		{"issuerUrl with a port and a path", authServerDoc("s", "  issuerUrl: https://auth.example.com:8443/id")},
		{"keycloak.url with a port", authServerDoc("s", issuer+"  keycloak: {url: \"http://keycloak.keycloak.svc:8080\", adminCredentialsSecretRef: {name: a}}")},
		{"service-account issuer with a port", authServerDoc("s", issuer+"  serviceAccountAuthentication: {issuer: \"https://k8s.example.com:6443\"}")},
		{"Secret key starting with one dot", bindKey(".dockerconfigjson")},
		{"Secret key of 253 characters", bindKey(strings.Repeat("k", 253))},
		{"matchLabels with a prefixed key and an empty value", authServerDoc("s", issuer+"  policySelector:\n    matchLabels: {nauthera.io/environment: production, tier: \"\", a.b_c-d: A.b_C-9}")},
		{"empty grant types with a redirect URI", authClientDoc("c", "  grantTypes: []\n"+redirect("https://a.example.com/cb"))},
		{"client credentials only, no redirect URI", authClientDoc("c", "  grantTypes: [client_credentials]")},
		{"refresh and device code, no redirect URI", authClientDoc("c", "  grantTypes: [refresh_token, \"urn:ietf:params:oauth:grant-type:device_code\"]")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), parse(t, c.doc), client.DryRunAll); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// policySelector: {} is kept as written (not dropped to "omitted"), so the
// reconciler and the webhook see an empty selector, which selects every
// AuthPolicy of the AuthServer's namespace; omitted stays omitted.
func TestEmptyPolicySelectorIsKept(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	for _, c := range []struct {
		name, spec string
		want       bool
	}{
		{"empty-selector", issuer + "  policySelector: {}", true},
		{"no-selector", issuer, false},
	} {
		obj := parse(t, authServerDoc(c.name, c.spec))
		if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		_, found, err := unstructured.NestedMap(obj.Object, "spec", "policySelector")
		if err != nil || found != c.want {
			t.Errorf("%s: spec.policySelector present %v (%v), want %v: %v", c.name, found, err, c.want, obj.Object["spec"])
		}
	}
}
