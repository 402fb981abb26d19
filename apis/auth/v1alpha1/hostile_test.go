package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Hostile and careless input (issue 9): every class the API server can
// decide is refused at admission with the field named, and the edge cases
// that are legitimate stay accepted.

func authClientDoc(name, spec string) string {
	return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: %s, namespace: my-app-dev}
spec:
  authServerRef: {name: production-server, namespace: security}
%s`, name, spec)
}

func redirect(uri string) string { return fmt.Sprintf("  redirectUris: [%q]", uri) }

func authServerDoc(name, spec string) string {
	return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: %s, namespace: security}
spec:
%s`, name, spec)
}

func policyDoc(spec string) string {
	return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthPolicy
metadata: {name: p, namespace: security}
spec:
%s`, spec)
}

func ldapDoc(ldap string) string {
	return fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: u, namespace: security}
spec:
  type: ldap
  ldap:
%s`, ldap)
}

const ldapOK = `    server: "ldaps://ldap.example.com:636"
    bindDN: "cn=admin,dc=example,dc=com"
    bindPasswordSecretRef: {name: ldap-bind-password, key: password}
`

func ldapWith(field, value string) string {
	lines := map[string]string{
		"server":   `    server: "ldaps://ldap.example.com:636"`,
		"bind":     "    bindDN: \"cn=admin,dc=example,dc=com\"\n    bindPasswordSecretRef: {name: ldap-bind-password, key: password}",
		"userBase": `    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "(objectClass=inetOrgPerson)", usernameAttribute: uid}`,
	}
	lines[field] = value
	return lines["server"] + "\n" + lines["bind"] + "\n" + lines["userBase"]
}

func TestHostileInputIsRefusedAtAdmission(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	long := func(n int) string {
		return "https://app.example.com/" + strings.Repeat("a", n-len("https://app.example.com/"))
	}
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		// Redirect URIs that would send codes anywhere.
		{"match-everything https", authClientDoc("c", redirect("https://*")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"match-everything http", authClientDoc("c", redirect("http://*")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"host wildcard", authClientDoc("c", redirect("https://*.example.com/cb")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"wildcard glued to the host", authClientDoc("c", redirect("https://app.example.com*")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"wildcard in the port", authClientDoc("c", redirect("https://app.example.com:*/cb")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"wildcard in the query", authClientDoc("c", redirect("https://app.example.com/cb?x=*")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"two wildcards", authClientDoc("c", redirect("https://app.example.com/*/cb/*")), []string{"spec.redirectUris[0]", "wildcard"}},
		{"bare wildcard", authClientDoc("c", redirect("*")), []string{"spec.redirectUris[0]"}},
		{"fragment", authClientDoc("c", redirect("https://app.example.com/cb#x")), []string{"spec.redirectUris[0]", "fragment"}},
		{"javascript scheme", authClientDoc("c", redirect("javascript:alert(1)")), []string{"spec.redirectUris[0]", "javascript:"}},
		{"data scheme", authClientDoc("c", redirect("data:text/html,hi")), []string{"spec.redirectUris[0]", "javascript:"}},
		{"user info in a redirect URI", authClientDoc("c", redirect("https://user:pw@app.example.com/cb")), []string{"spec.redirectUris[0]", "user info"}},
		{"redirect URI of 256 characters", authClientDoc("c", redirect(long(256))), []string{"spec.redirectUris[0]", "255"}},
		// Post-logout and web origins.
		{"javascript post-logout URI", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  postLogoutRedirectUris: [\"javascript:alert(1)\"]"), []string{"spec.postLogoutRedirectUris[0]", "javascript:"}},
		{"post-logout URI with ##", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  postLogoutRedirectUris: [\"https://a.example.com/x##https://evil.example.com/\"]"), []string{"spec.postLogoutRedirectUris[0]", "##"}},
		{"post-logout URI of 256 characters", authClientDoc("c", redirect("https://a.example.com/cb")+fmt.Sprintf("\n  postLogoutRedirectUris: [%q]", long(256))), []string{"spec.postLogoutRedirectUris[0]", "255"}},
		{"web origin with a host wildcard", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  webOrigins: [\"https://*.example.com\"]"), []string{"spec.webOrigins[0]"}},
		{"web origin with port 0", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  webOrigins: [\"https://a.example.com:0\"]"), []string{"spec.webOrigins[0]", "port"}},
		{"web origin with port 65536", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  webOrigins: [\"https://a.example.com:65536\"]"), []string{"spec.webOrigins[0]", "port"}},
		{"web origin with a query", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  webOrigins: [\"https://a.example.com?x=1\"]"), []string{"spec.webOrigins[0]"}},
		// Names and markup.
		{"markup in displayName", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  displayName: \"<img src=x onerror=alert(1)>\""), []string{"spec.displayName", "plain text"}},
		{"name too long for the Secret", authClientDoc(strings.Repeat("a", 240), redirect("https://a.example.com/cb")), []string{"metadata.name", "239"}},
		{"name too long for the default clientId", authClientDoc(strings.Repeat("a", 192), redirect("https://a.example.com/cb")), []string{"metadata.name", "spec.clientId"}},
		// AuthServer.
		{"realm Master", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  realmName: Master"), []string{"spec.realmName", "master"}},
		{"realm master.", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  realmName: \"master.\""), []string{"spec.realmName", "master"}},
		{"empty allowedGrantTypes", policyDoc("  allowedGrantTypes: []"), []string{"spec.allowedGrantTypes"}},
		{"empty allowedScopes", policyDoc("  allowedScopes: []"), []string{"spec.allowedScopes"}},
		{"realm MASTER", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  realmName: MASTER"), []string{"spec.realmName", "master"}},
		{"AuthServer named master", authServerDoc("master", "  issuerUrl: https://auth.example.com"), []string{"metadata.name", "master"}},
		{"realm name of 238 characters", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  realmName: "+strings.Repeat("r", 238)), []string{"spec.realmName", "237"}},
		{"AuthServer name too long for a realm", authServerDoc(strings.Repeat("s", 238), "  issuerUrl: https://auth.example.com"), []string{"metadata.name", "237"}},
		{"issuerUrl with user info", authServerDoc("s", "  issuerUrl: https://user:pw@auth.example.com"), []string{"spec.issuerUrl", "user info"}},
		{"markup in realm displayName", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  displayName: \"<b>Corp</b>\""), []string{"spec.displayName", "plain text"}},
		{"selector with an unknown operator", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  clientNamespaceSelector:\n    matchExpressions: [{key: team, operator: Equals, values: [a]}]"), []string{"spec.clientNamespaceSelector.matchExpressions[0].operator", "Unsupported value"}},
		{"In without values", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  clientNamespaceSelector:\n    matchExpressions: [{key: team, operator: In}]"), []string{"spec.clientNamespaceSelector.matchExpressions[0].values", "at least one value"}},
		{"Exists with values", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  policySelector:\n    matchExpressions: [{key: team, operator: Exists, values: [a]}]"), []string{"spec.policySelector.matchExpressions[0].values", "no values"}},
		{"selector key that is no label key", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  clientNamespaceSelector:\n    matchExpressions: [{key: \"bad key!\", operator: Exists}]"), []string{"spec.clientNamespaceSelector.matchExpressions[0].key"}},
		{"adminRealm that is a path", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  keycloak: {url: \"https://kc.example.com\", adminCredentialsSecretRef: {name: a}, adminRealm: \"../../admin/realms?x=\"}"), []string{"spec.keycloak.adminRealm"}},
		{"Keycloak URL with user info", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  keycloak: {url: \"https://admin:pw@kc.example.com\", adminCredentialsSecretRef: {name: a}}"), []string{"spec.keycloak.url", "user info"}},
		// AuthPolicy durations and schedules.
		{"duration that overflows Go", policyDoc("  token: {accessTokenTTL: 2562048h}"), []string{"spec.token.accessTokenTTL"}},
		{"zero duration", policyDoc("  token: {accessTokenTTL: 0s}"), []string{"spec.token.accessTokenTTL", "between"}},
		{"millisecond TTL", policyDoc("  token: {idTokenTTL: 1ms}"), []string{"spec.token.idTokenTTL", "between"}},
		{"refresh shorter than access", policyDoc("  token: {accessTokenTTL: 1h, refreshTokenTTL: 5m}"), []string{"spec.token.refreshTokenTTL", "shorter"}},
		{"cron fields out of range", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"61 25 32 13 8\"}"), []string{"spec.clientAuthentication.secretRotation.schedule"}},
		{"cron words", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"every day at noon please\"}"), []string{"spec.clientAuthentication.secretRotation.schedule"}},
		{"cron step of zero", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"*/0 * * * *\"}"), []string{"spec.clientAuthentication.secretRotation.schedule"}},
		{"@every 0s", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"@every 0s\"}"), []string{"spec.clientAuthentication.secretRotation.schedule", "10s"}},
		{"zero grace period", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"@daily\", gracePeriod: 0s}"), []string{"spec.clientAuthentication.secretRotation.gracePeriod"}},
		// UserStore.
		{"bind DN without password", ldapDoc(ldapWith("bind", "    bindDN: \"cn=admin,dc=example,dc=com\"")), []string{"spec.ldap.bindPasswordSecretRef", "go together"}},
		{"password without bind DN", ldapDoc(ldapWith("bind", "    bindPasswordSecretRef: {name: p, key: password}")), []string{"spec.ldap.bindPasswordSecretRef", "go together"}},
		{"LDAP URL with credentials", ldapDoc(ldapWith("server", `    server: "ldaps://admin:secret@ldap.example.com"`)), []string{"spec.ldap.server", "user info"}},
		{"unbalanced filter", ldapDoc(ldapWith("userBase", `    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "(&(objectClass=person)"}`)), []string{"spec.ldap.userSearch.filter", "parentheses nest"}},
		{"empty filter", ldapDoc(ldapWith("userBase", `    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "()"}`)), []string{"spec.ldap.userSearch.filter"}},
		{"base DN that is no DN", ldapDoc(ldapWith("userBase", `    userSearch: {baseDN: "users at example.com"}`)), []string{"spec.ldap.userSearch.baseDN"}},
		{"attribute name with a space", ldapDoc(ldapWith("userBase", `    userSearch: {baseDN: "ou=users,dc=example,dc=com", usernameAttribute: "user name"}`)), []string{"spec.ldap.userSearch.usernameAttribute"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, c.doc, c.want...) })
	}
}

// Legitimate edge cases next to the refused ones stay accepted.
func TestEdgeCasesStayAccepted(t *testing.T) {
	envtestOnly(t)
	ensureNamespace(t, "security")
	ensureNamespace(t, "my-app-dev")
	cases := []struct{ name, doc string }{
		{"trailing path wildcard", authClientDoc("c", redirect("https://app.example.com/callback/*"))},
		{"path prefix wildcard", authClientDoc("c", redirect("https://app.example.com/cb*"))},
		{"native app scheme", authClientDoc("c", redirect("com.example.app:/oauth2redirect"))},
		{"loopback with port", authClientDoc("c", redirect("http://127.0.0.1:8080/callback"))},
		{"redirect URI of 255 characters", authClientDoc("c", redirect("https://app.example.com/"+strings.Repeat("a", 255-len("https://app.example.com/"))))},
		{"web origins", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  webOrigins: [\"+\", \"https://a.example.com:65535\", \"http://localhost:3000\"]")},
		{"display name with ampersand", authClientDoc("c", redirect("https://a.example.com/cb")+"\n  displayName: \"R&D Portal\"")},
		{"name of 191 characters", authClientDoc(strings.Repeat("a", 191), redirect("https://a.example.com/cb"))},
		{"long name with an explicit clientId", authClientDoc(strings.Repeat("a", 239), redirect("https://a.example.com/cb")+"\n  clientId: short-id")},
		{"realm name that merely contains master", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  realmName: master-of-puppets")},
		{"valid selectors", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  clientNamespaceSelector:\n    matchLabels: {kubernetes.io/metadata.name: team-a}\n    matchExpressions: [{key: tier, operator: In, values: [gold]}, {key: x, operator: Exists}]")},
		{"short test rotation", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"@every 20s\", gracePeriod: 15s}")},
		{"cron with steps, ranges and lists", policyDoc("  clientAuthentication:\n    secretRotation: {enabled: true, schedule: \"*/15 0-6,22 1 1-12/3 0\"}")},
		{"token TTLs", policyDoc("  token: {accessTokenTTL: 15m, refreshTokenTTL: 24h, idTokenTTL: 5m}")},
		{"anonymous bind", ldapDoc(`    server: "ldap://ldap.example.com"
    userSearch: {baseDN: "ou=users,dc=example,dc=com", filter: "(&(objectClass=person)(!(uid=svc-*)))"}`)},
		{"DN with = in a value and an OID type", ldapDoc(ldapOK + `    userSearch: {baseDN: "cn=a=b,2.5.4.11=people,dc=example,dc=com"}`)},
		{"allowed clientId prefixes", authServerDoc("s", "  issuerUrl: https://auth.example.com\n  allowedClientIdPrefixes: [\"com.example.\", \"grafana.\"]")},
		{"DN with escaped comma", ldapDoc(ldapOK + `    userSearch: {baseDN: "ou=Sales\\, EMEA,dc=example,dc=com", usernameAttribute: sAMAccountName}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), parse(t, c.doc), client.DryRunAll); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
