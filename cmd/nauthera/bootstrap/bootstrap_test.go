package bootstrap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBootstrapFlags(t *testing.T) {
	env := map[string]string{envBootstrapUser: "temp-admin", envBootstrapPassword: "pw-9f3"}
	o, err := parseBootstrapFlags([]string{"--keycloak-url=http://kc:8080", "--service-account=nauthera-system/nauthera"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.user != "temp-admin" || o.password != "pw-9f3" || !slices.Equal(o.realmRoles, []string{"admin"}) || o.clientID != "nauthera-operator" {
		t.Errorf("%+v", o)
	}
	// A per-realm identity gets no realm role of the admin realm unless asked.
	o, err = parseBootstrapFlags([]string{"--keycloak-url=http://kc:8080", "--service-account=security/realm-a", "--managed-realms=a, b"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(o.realmRoles) != 0 || !slices.Equal(o.managedRealms, []string{"a", "b"}) {
		t.Errorf("realm roles %v, managed realms %v", o.realmRoles, o.managedRealms)
	}
	// Credentials from a mounted folder instead of the environment.
	dir := t.TempDir()
	for k, v := range map[string]string{"username": "file-admin", "password": "pw-file\n"} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o, err = parseBootstrapFlags([]string{"--keycloak-url=http://kc:8080", "--service-account=a/b", "--admin-credentials-dir=" + dir}, func(string) string { return "" })
	if err != nil || o.user != "file-admin" || o.password != "pw-file" {
		t.Errorf("from the folder: user %q, err %v", o.user, err)
	}
	for args, want := range map[string]string{
		"--service-account=a/b":                                                   "--keycloak-url is required",
		"--keycloak-url=http://kc --service-account=a":                            `--service-account must be namespace/name of a ServiceAccount, got "a"`,
		"--keycloak-url=http://kc --service-account=A_/b":                         "--service-account must be namespace/name",
		"--keycloak-url=http://kc --service-account=a/b --timeout=0s":             "--timeout must be a positive duration",
		"--keycloak-url=http://kc --service-account=a/b --delete-secret=kc-admin": `--delete-secret must be namespace/name, got "kc-admin"`,
	} {
		if _, err := parseBootstrapFlags(strings.Fields(args), func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want error %q, got %v", args, want, err)
		}
	}
	_, err = parseBootstrapFlags([]string{"--keycloak-url=http://kc", "--service-account=a/b"}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), envBootstrapPassword) {
		t.Errorf("missing credentials: %v", err)
	}
}
