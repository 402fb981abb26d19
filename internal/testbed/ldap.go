package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LDAP is an OpenLDAP slapd owned by a test binary (hack/ldap.sh), seeded
// from test/ldap/seed.ldif: users alice and bob, groups developers (both)
// and admins (alice), and a service account Keycloak binds as.
type LDAP struct {
	URL    string
	BaseDN string
	// AdminDN may write; ServiceDN may only read (Keycloak's bind).
	AdminDN, AdminPassword     string
	ServiceDN, ServicePassword string
	StateDir                   string
	opts                       []string
}

// StartLDAP installs slapd if needed (apt-get) and starts one on 127.0.0.1.
// It stops by itself if the test binary dies without calling Cleanup.
func StartLDAP(name string) (*LDAP, error) {
	return StartLDAPWithEnv(name)
}

// StartLDAPWithEnv is StartLDAP with options for hack/ldap.sh in its
// environment (KEY=value), such as LDAP_DISALLOW_ANONYMOUS=1.
func StartLDAPWithEnv(name string, opts ...string) (*LDAP, error) {
	if err := refuseUnderShort("slapd"); err != nil {
		return nil, err
	}
	dir := filepath.Join(RepoRoot(), "tmp", fmt.Sprintf("%s-ldap-%d", name, os.Getpid()))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	l := &LDAP{StateDir: dir, opts: opts}
	t0 := time.Now()
	if _, err := l.script("start"); err != nil {
		return nil, err
	}
	env, err := readEnv(filepath.Join(dir, "env"))
	if err != nil {
		return nil, err
	}
	l.URL, l.BaseDN = env["LDAP_URL"], env["LDAP_BASE_DN"]
	l.AdminDN, l.AdminPassword = env["LDAP_ADMIN_DN"], env["LDAP_ADMIN_PASSWORD"]
	l.ServiceDN, l.ServicePassword = env["LDAP_SERVICE_DN"], env["LDAP_SERVICE_PASSWORD"]
	fmt.Fprintf(os.Stderr, "testbed: slapd ready at %s in %s\n", l.URL, time.Since(t0).Round(100*time.Millisecond))
	return l, nil
}

// LDAPFor starts a slapd of its own for one test (StartLDAPWithEnv with
// opts), stopped when the test ends; a failure to start fails the test.
func LDAPFor(tb testing.TB, name string, opts ...string) *LDAP {
	tb.Helper()
	l, err := StartLDAPWithEnv(name, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Cleanup() })
	return l
}

// UserStore is the spec's corporate-ldap (SPEC.md) pointed at l: it binds
// as l's service account with the password under key password of Secret
// secret, and reads the seeded users and groups.
func (l *LDAP) UserStore(name, namespace, secret string) UserStoreDoc {
	return UserStoreDoc{Name: name, Namespace: namespace, Server: l.URL, BindDN: l.ServiceDN, BindSecret: secret, Groups: true}
}

// UserStoreDoc is a UserStore for tests, in the shape of the spec's
// corporate-ldap, searching the seeded directory's tree
// (test/ldap/seed.ldif): users under ou=users, groups under ou=groups.
type UserStoreDoc struct {
	Name, Namespace string
	// Server is the directory's URL (ldap:// or ldaps://), which need not
	// be a directory at all.
	Server string
	// BindDN binds with the password under key password of Secret
	// BindSecret; without it the UserStore binds anonymously.
	BindDN, BindSecret string
	// Groups adds the group search (groupOfNames by cn).
	Groups bool
}

// YAML is the UserStore's manifest, ending in a newline.
func (u UserStoreDoc) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: auth.nauthera.io/v1alpha1
kind: UserStore
metadata: {name: %s, namespace: %s}
spec:
  type: ldap
  ldap:
    server: %q
`, u.Name, u.Namespace, u.Server)
	if u.BindDN != "" {
		fmt.Fprintf(&b, "    bindDN: %q\n    bindPasswordSecretRef: {name: %s, key: password}\n", u.BindDN, u.BindSecret)
	}
	b.WriteString(`    userSearch:
      baseDN: "ou=users,dc=example,dc=com"
      filter: "(objectClass=inetOrgPerson)"
      usernameAttribute: "uid"
`)
	if u.Groups {
		b.WriteString(`    groupSearch:
      baseDN: "ou=groups,dc=example,dc=com"
      filter: "(objectClass=groupOfNames)"
      nameAttribute: "cn"
`)
	}
	return b.String()
}

// Cleanup stops slapd and removes its files.
func (l *LDAP) Cleanup() error {
	_, err := l.script("stop")
	if rmErr := os.RemoveAll(l.StateDir); err == nil {
		err = rmErr
	}
	return err
}

// Modify applies LDIF (changetype records) as the directory's admin.
func (l *LDAP) Modify(ldif string) error {
	cmd := exec.Command("ldapmodify", "-x", "-H", l.URL, "-D", l.AdminDN, "-w", l.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldapmodify: %w\n%s", err, out)
	}
	return nil
}

func (l *LDAP) script(verb string) (string, error) {
	return runScript("ldap.sh", verb, l.StateDir, "LDAP_WATCH_PID", l.opts...)
}
