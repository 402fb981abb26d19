package kcversion

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"26.4.0", Version{26, 4, 0}, true},
		{"26.7.3", Version{26, 7, 3}, true},
		{" 26.5.6\n", Version{26, 5, 6}, true},
		{"v26.5.6", Version{26, 5, 6}, true},
		{"26.2.5.redhat-00001", Version{26, 2, 5}, true},
		{"999.0.0-SNAPSHOT", Version{999, 0, 0}, true},
		{"26.7.3-SNAPSHOT", Version{26, 7, 3}, true},
		{"999.0.0", Version{999, 0, 0}, true},
		{"26.6", Version{26, 6, 0}, true},
		{"27", Version{}, false},          // no minor: unknown, not 27.0.0
		{"26-SNAPSHOT", Version{}, false}, // not 26.0.0, which would be refused
		{"26..4", Version{}, false},
		{"nightly", Version{}, false},
		{"99999999999999999999.1.0", Version{}, false},
		{"26.10.1", Version{26, 10, 1}, true},
		{"", Version{}, false},
		{"unknown", Version{}, false},
		{"x26.4.0", Version{}, false},
	} {
		got, ok := Parse(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"26.7.3", "26.7.3"},
		{" 26.7.3\n", "26.7.3"},
		{"26.7.3\x00\u202e-SNAPSHOT", "26.7.3-SNAPSHOT"},
		{strings.Repeat("9", 200), strings.Repeat("9", MaxVersionLength)},
	} {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLess(t *testing.T) {
	order := []Version{{25, 9, 9}, {26, 0, 0}, {26, 4, 0}, {26, 4, 7}, {26, 5, 0}, {26, 10, 0}, {27, 0, 0}}
	for i := range order {
		for j := range order {
			if got, want := order[i].Less(order[j]), i < j; got != want {
				t.Errorf("%v.Less(%v) = %v, want %v", order[i], order[j], got, want)
			}
		}
	}
}

func TestSupported(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"26.3.5", false},
		{"25.0.6", false},
		{"26.4.0", true},
		{"26.5.6", true},
		{"26.7.3", true},
		{"27.0.0", true}, // newer than tested: used, not refused
		{"", true},       // unknown: the features decide
		{"garbage", true},
		{"nightly", true},
		{"26", true},          // the minor unknown: not refused on a guess
		{"26-SNAPSHOT", true}, // likewise
		{"26.7.3-SNAPSHOT", true},
		{"999.0.0-SNAPSHOT", true},
		{"26.3.9-SNAPSHOT", false},
	} {
		ok, msg := Supported(Server{Version: tc.version})
		if ok != tc.ok {
			t.Errorf("Supported(%q) = %v (%s), want %v", tc.version, ok, msg, tc.ok)
		}
		if !ok && (!strings.Contains(msg, "26.4.0 or newer") || !strings.Contains(msg, "runs "+tc.version)) {
			t.Errorf("Supported(%q) message %q names neither the floor nor the server's version", tc.version, msg)
		}
	}
}

func TestCheck(t *testing.T) {
	on := func(names ...string) map[string]bool {
		m := map[string]bool{"ORGANIZATION": true}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		server   Server
		req      Requirement
		ok       bool
		contains []string
	}{
		{"secretless on 26.4.0, features as shipped", Server{"26.4.0", on("CLIENT_SECRET_ROTATION")}, SecretlessClients, false,
			[]string{"26.6.0 or newer", "26.5.0 or newer with kc.sh build --features=kubernetes-service-accounts,client-auth-federated", "runs 26.4.0", "KUBERNETES_SERVICE_ACCOUNTS, CLIENT_AUTH_FEDERATED off"}},
		{"secretless on 26.5.6, previews off", Server{"26.5.6", on()}, SecretlessClients, false, []string{"runs 26.5.6"}},
		{"secretless on 26.5.6, one preview on", Server{"26.5.6", on("CLIENT_AUTH_FEDERATED")}, SecretlessClients, false, []string{"features KUBERNETES_SERVICE_ACCOUNTS off"}},
		{"secretless on 26.5.6, previews on", Server{"26.5.6", on("KUBERNETES_SERVICE_ACCOUNTS", "CLIENT_AUTH_FEDERATED")}, SecretlessClients, true, nil},
		{"secretless on 26.7.3", Server{"26.7.3", on("KUBERNETES_SERVICE_ACCOUNTS", "CLIENT_AUTH_FEDERATED")}, SecretlessClients, true, nil},
		{"secretless on 26.7.3 turned off by its admin", Server{"26.7.3", map[string]bool{"KUBERNETES_SERVICE_ACCOUNTS": true, "CLIENT_AUTH_FEDERATED": false}}, SecretlessClients, false, []string{"CLIENT_AUTH_FEDERATED off"}},
		{"secretless, realm admin (no version), features off", Server{"", on()}, SecretlessClients, false, []string{"unknown version"}},
		{"secretless, realm admin (no version), features on", Server{"", on("KUBERNETES_SERVICE_ACCOUNTS", "CLIENT_AUTH_FEDERATED")}, SecretlessClients, true, nil},
		{"secretless on 26.4.0, features unknown", Server{"26.4.0", nil}, SecretlessClients, false, []string{"runs 26.4.0"}},
		{"secretless on 26.5.6, features unknown: Keycloak decides", Server{"26.5.6", nil}, SecretlessClients, true, nil},
		{"nothing known: Keycloak decides", Server{}, SecretlessClients, true, nil},
		{"rotation without the preview", Server{"26.7.3", on()}, SecretRotation, false,
			[]string{"secret rotation", "26.8.0 or newer", "26.4.0 or newer with kc.sh build --features=client-secret-rotation", "CLIENT_SECRET_ROTATION off"}},
		{"rotation with the preview", Server{"26.4.0", on("CLIENT_SECRET_ROTATION")}, SecretRotation, true, nil},
		{"rotation, features unknown", Server{"26.4.0", nil}, SecretRotation, true, nil},
		// A version that has a feature on by default and no longer lists it
		// (Keycloak drops the names of features that became mandatory): on.
		{"secretless on 999.0.0-SNAPSHOT, features no longer listed", Server{"999.0.0-SNAPSHOT", on()}, SecretlessClients, true, nil},
		{"secretless on 27.0.0, one listed off by its admin", Server{"27.0.0", map[string]bool{"CLIENT_AUTH_FEDERATED": false}}, SecretlessClients, false, []string{"CLIENT_AUTH_FEDERATED off"}},
		// Not listed on a version older than the default: not there.
		{"secretless on 26.5.6, features not listed", Server{"26.5.6", on()}, SecretlessClients, false, []string{"KUBERNETES_SERVICE_ACCOUNTS, CLIENT_AUTH_FEDERATED off"}},
		{"secretless, unparsable version, features not listed", Server{"nightly", on()}, SecretlessClients, false, []string{"runs nightly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, msg := Check(tc.server, tc.req)
			if ok != tc.ok {
				t.Fatalf("Check = %v (%q), want %v", ok, msg, tc.ok)
			}
			if ok && msg != "" {
				t.Errorf("a yes carries a message: %q", msg)
			}
			for _, c := range tc.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("message %q lacks %q", msg, c)
				}
			}
		})
	}
}

// The range the code declares is the range the build tests: Newest is the
// Makefile's KEYCLOAK_VERSION (make test), Oldest its KEYCLOAK_RANGE_VERSION
// (make test-keycloak-range, run by .ci/run), and hack/keycloak.sh defaults
// to Newest.
func TestRangeIsWhatTheBuildTests(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		file, pattern string
		want          Version
	}{
		{"Makefile", `(?m)^KEYCLOAK_VERSION \?= (\S+)$`, Newest},
		{"Makefile", `(?m)^KEYCLOAK_RANGE_VERSION \?= (\S+)$`, Oldest},
		{"hack/keycloak.sh", `KEYCLOAK_VERSION="\$\{KEYCLOAK_VERSION:-([^}]+)\}"`, Newest},
	} {
		m := regexp.MustCompile(tc.pattern).FindStringSubmatch(read(tc.file))
		if m == nil {
			t.Errorf("%s: no match for %s", tc.file, tc.pattern)
			continue
		}
		if got, ok := Parse(m[1]); !ok || got != tc.want || m[1] != tc.want.String() {
			t.Errorf("%s says %s, pkg/kcversion %s", tc.file, m[1], tc.want)
		}
	}
	if !strings.Contains(read(".ci/run"), "make test-keycloak-range") {
		t.Error(".ci/run does not run make test-keycloak-range")
	}
}
