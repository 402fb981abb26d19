package keycloak_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The pre-flight must prove LDAP (issue 21): with and without a bind DN,
// Keycloak's test passes only when an LDAP server answers. An HTTP server, a
// listener that says nothing, a port that closes at once and a closed port
// fail it as "no LDAP answer", within the timeout; only a wrong password
// for a bind DN is a refused bind. slapd refusing an anonymous bind gets
// Keycloak's catch-all code, which non-LDAP ports get too on OpenJDK 17: it
// proves nothing either. Keycloak's JVM is logged; run with
// KEYCLOAK_JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java (hack/keycloak.sh)
// to check OpenJDK 17.
func TestLDAPTestNeedsAnLDAPAnswer(t *testing.T) {
	integration(t)
	ldap := testbed.LDAPFor(t, "keycloak-preflight")
	closed := testbed.LDAPFor(t, "keycloak-preflight-no-anonymous", "LDAP_DISALLOW_ANONYMOUS=1")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	t.Cleanup(web.Close)
	c, _ := newAdmin(t)
	ctx := context.Background()
	realm := testRealm(t, c)
	const timeout = 2 * time.Second
	gc, tok := console(t)
	if info, err := gc.GetServerInfo(ctx, tok); err == nil && info.SystemInfo != nil {
		t.Logf("Keycloak runs on Java %s (%s)", gocloak.PString(info.SystemInfo.JavaVersion), gocloak.PString(info.SystemInfo.JavaHome))
	}

	for _, tc := range []struct {
		name, url, dn, password string
		want                    string // "": passes; "bind": refused bind; "none": no LDAP answer
	}{
		{"slapd, anonymous", ldap.URL, "", "", ""},
		{"slapd, service account", ldap.URL, ldap.ServiceDN, ldap.ServicePassword, ""},
		{"slapd, wrong password", ldap.URL, ldap.ServiceDN, "wrong", "bind"},
		{"slapd without anonymous binds, anonymous", closed.URL, "", "", "none"},
		{"slapd without anonymous binds, service account", closed.URL, closed.ServiceDN, closed.ServicePassword, ""},
		{"HTTP server, anonymous", "ldap://" + web.Listener.Addr().String(), "", "", "none"},
		{"HTTP server, with bind DN", "ldap://" + web.Listener.Addr().String(), ldap.ServiceDN, "x", "none"},
		{"HTTP server as ldaps", "ldaps://" + web.Listener.Addr().String(), "", "", "none"},
		{"silent listener, anonymous", "ldap://" + testbed.SilentListener(t), "", "", "none"},
		{"silent listener, with bind DN", "ldap://" + testbed.SilentListener(t), ldap.ServiceDN, "x", "none"},
		{"closing listener, anonymous", "ldap://" + testbed.ClosingListener(t), "", "", "none"},
		{"closing listener, with bind DN", "ldap://" + testbed.ClosingListener(t), ldap.ServiceDN, "x", "none"},
		{"closed port", "ldap://" + testbed.ClosedPort(t), "", "", "none"},
		{"closed port, with bind DN", "ldap://" + testbed.ClosedPort(t), ldap.ServiceDN, "x", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			err := c.TestLDAPConnection(ctx, realm, keycloak.NewLDAPTest(tc.url, tc.dn, tc.password, timeout))
			took := time.Since(t0)
			t.Logf("%s: %v in %s", tc.url, err, took.Round(10*time.Millisecond))
			if took > timeout+5*time.Second {
				t.Errorf("the test took %s: the timeout of %s does not bound it", took, timeout)
			}
			var terr *keycloak.LDAPTestError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("an LDAP server was refused: %v", err)
			case tc.want == "":
			case !errors.As(err, &terr):
				t.Fatalf("want a failed LDAP test, got %v", err)
			case terr.BindRefused() != (tc.want == "bind"):
				t.Errorf("Keycloak's %q: refused bind %v, want %v", terr.Code, terr.BindRefused(), tc.want == "bind")
			}
		})
	}
}

// A request that gets no answer from Keycloak says so without the URL it
// went to: the operator's admin URL has no business in status or Events.
func TestNoAnswerKeepsTheURLOut(t *testing.T) {
	addr := testbed.ClosedPort(t)
	c, err := keycloak.New(keycloak.Config{URL: "http://" + addr, Credentials: keycloak.Credentials{Username: "admin", Password: "pw"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRealm(context.Background(), "some-realm")
	if err == nil {
		t.Fatal("a closed port answered")
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, leak := range []string{addr, port, "http://", "some-realm", "/realms/"} {
		if strings.Contains(err.Error(), leak) || strings.Contains(keycloak.Describe(err), leak) {
			t.Errorf("the error %q (described %q) names %q", err, keycloak.Describe(err), leak)
		}
	}
	if !keycloak.IsTransient(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q: want a transient refused connection", err)
	}
	if !strings.Contains(keycloak.Detail(err), addr) {
		t.Errorf("Detail %q lost the transport error the logs need", keycloak.Detail(err))
	}
}

// An LDAP test that times out at the directory comes back from Keycloak as
// a failed test, not as a request to Keycloak that timed out, whatever the
// request timeout: LDAPTestTimeout leaves Keycloak room (issue 21; an
// ldaps:// handshake with a silent port outlasts the connection timeout).
func TestLDAPTestTimesOutBeforeTheRequest(t *testing.T) {
	integration(t)
	for _, requestTimeout := range []time.Duration{3 * time.Second, 10 * time.Second} {
		t.Run(requestTimeout.String(), func(t *testing.T) {
			c, err := keycloak.New(keycloak.Config{URL: kc.URL, Credentials: keycloak.Credentials{Username: kc.AdminUser, Password: kc.AdminPassword}, Timeout: requestTimeout})
			if err != nil {
				t.Fatal(err)
			}
			realm := testRealm(t, c)
			timeout := c.LDAPTestTimeout()
			if timeout <= 0 || timeout > requestTimeout/2 {
				t.Errorf("LDAP test timeout %s", timeout)
			}
			for _, u := range []string{"ldaps://" + testbed.SilentListener(t), "ldap://" + testbed.SilentListener(t)} {
				err := c.TestLDAPConnection(context.Background(), realm, keycloak.NewLDAPTest(u, "", "", timeout))
				var terr *keycloak.LDAPTestError
				if !errors.As(err, &terr) {
					t.Errorf("%s: want a failed LDAP test, got %v", u, err)
				}
			}
		})
	}
}
