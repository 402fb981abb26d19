package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain lets a test run this test binary as the operator itself
// (NAUTHERA_TEST_RUN_MAIN=1): main() then runs with the test's arguments
// and environment, exit code and stderr included.
func TestMain(m *testing.M) {
	if os.Getenv("NAUTHERA_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"nauthera"}, strings.Fields(os.Getenv("NAUTHERA_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseFlags(t *testing.T) {
	t.Setenv("NAUTHERA_RESYNC_INTERVAL", "90s")
	t.Setenv("NAUTHERA_KEYCLOAK_URL", "http://kc:8080")
	t.Setenv("NAUTHERA_LEADER_ELECT", "true")
	t.Setenv("NAUTHERA_MAX_BACKOFF", "1m")
	o, err := parseFlags([]string{"--watch-namespaces=a, b", "--keycloak-admin-secret=ops/kc-admin", "--max-backoff=2m"})
	if err != nil {
		t.Fatal(err)
	}
	if o.resync != 90*time.Second || o.keycloakURL != "http://kc:8080" || o.logFormat != "json" || !o.leaderElect {
		t.Errorf("environment not applied: %+v", o)
	}
	if o.driftInterval != 10*time.Second {
		t.Errorf("--drift-interval defaults to 10s, got %s", o.driftInterval)
	}
	if o.maxBackoff != 2*time.Minute {
		t.Errorf("a flag on the command line should win over the environment: max-backoff %s", o.maxBackoff)
	}
	opts := managerOptions(o, nil)
	if len(opts.Cache.DefaultNamespaces) != 2 || opts.Cache.ByObject == nil {
		t.Errorf("watched namespaces %v, secret cache restricted: %v", opts.Cache.DefaultNamespaces, opts.Cache.ByObject != nil)
	}

	for args, want := range map[string]string{
		"--keycloak-admin-secret=kc-admin": "--keycloak-admin-secret (NAUTHERA_KEYCLOAK_ADMIN_SECRET) must be namespace/name",
		"--log-format=xml":                 "--log-format (NAUTHERA_LOG_FORMAT) must be json or console",
	} {
		if _, err := parseFlags([]string{args}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want error %q, got %v", args, want, err)
		}
	}
}

// Every bad value is refused at start with an error naming the variable
// (or flag) that holds it, never replaced by the default in silence.
func TestBadEnvironmentIsRefused(t *testing.T) {
	for _, c := range []struct{ env, value, want string }{
		{"NAUTHERA_RESYNC_INTERVAL", "600", `NAUTHERA_RESYNC_INTERVAL="600" is not a valid value for --resync-interval: want a duration with a unit, such as 90s or 10m`},
		{"NAUTHERA_RESYNC_INTERVAL", "0s", "--resync-interval (NAUTHERA_RESYNC_INTERVAL) must be a positive duration"},
		{"NAUTHERA_MAX_BACKOFF", "-1m", "--max-backoff (NAUTHERA_MAX_BACKOFF) must be a positive duration"},
		{"NAUTHERA_DRIFT_INTERVAL", "-10s", "--drift-interval (NAUTHERA_DRIFT_INTERVAL) must be at least 1s, such as 10s, or 0 to turn drift detection off, got -10s"},
		{"NAUTHERA_DRIFT_INTERVAL", "10ms", "--drift-interval (NAUTHERA_DRIFT_INTERVAL) must be at least 1s, such as 10s, or 0 to turn drift detection off, got 10ms"},
		{"NAUTHERA_KEYCLOAK_TIMEOUT", "ten seconds", `NAUTHERA_KEYCLOAK_TIMEOUT="ten seconds" is not a valid value for --keycloak-timeout`},
		{"NAUTHERA_MAX_CONCURRENT_RECONCILES", "sixteen", `NAUTHERA_MAX_CONCURRENT_RECONCILES="sixteen" is not a valid value`},
		{"NAUTHERA_MAX_CONCURRENT_RECONCILES", "0", "--max-concurrent-reconciles (NAUTHERA_MAX_CONCURRENT_RECONCILES) must be at least 1"},
		{"NAUTHERA_KEYCLOAK_MAX_INFLIGHT", "-2", "--keycloak-max-inflight (NAUTHERA_KEYCLOAK_MAX_INFLIGHT) must be 0"},
		{"NAUTHERA_WEBHOOK_PORT", "70000", "--webhook-port (NAUTHERA_WEBHOOK_PORT) must be a port"},
		{"NAUTHERA_LEADER_ELECT", "yes", `NAUTHERA_LEADER_ELECT="yes" is not a valid value for --leader-elect`},
		{"NAUTHERA_RESTART_WORKLOADS", "enabled", `NAUTHERA_RESTART_WORKLOADS="enabled" is not a valid value`},
		{"NAUTHERA_LOG_LEVEL", "verbose", "--log-level (NAUTHERA_LOG_LEVEL) must be debug, info or error"},
		{"NAUTHERA_LOG_FORMAT", "text", "--log-format (NAUTHERA_LOG_FORMAT) must be json or console"},
		{"NAUTHERA_KEYCLOAK_URL", "keycloak:8080", "--keycloak-url (NAUTHERA_KEYCLOAK_URL) must be an http or https URL"},
		{"NAUTHERA_KEYCLOAK_URL", "https://admin:s3cret@kc:8443", "--keycloak-url (NAUTHERA_KEYCLOAK_URL) must not carry a user or password (user@ in https://...@kc:8443)"},
		{"NAUTHERA_KEYCLOAK_URL", "http://admin@kc", "--keycloak-url (NAUTHERA_KEYCLOAK_URL) must not carry a user or password"},
		{"NAUTHERA_KEYCLOAK_URL", "ftp://admin:s3cret@kc", `must be an http or https URL, got "ftp://admin:xxxxx@kc"`},
		{"NAUTHERA_KEYCLOAK_URL", "http://admin:s3cret@kc:80%zz", "must be an http or https URL, got a value with an @ (not quoted"},
		{"NAUTHERA_WATCH_NAMESPACES", "team-a,Team_B", `--watch-namespaces (NAUTHERA_WATCH_NAMESPACES): "Team_B" is not a namespace name`},
		{"NAUTHERA_WEBHOOK_CERT_MANAGEMENT", "manual", "--webhook-cert-management must be operator or external"},
	} {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			if c.env == "NAUTHERA_WEBHOOK_CERT_MANAGEMENT" {
				t.Setenv("NAUTHERA_WEBHOOK_PORT", "9443")
			}
			_, err := parseFlags(nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want an error containing %q, got %v", c.want, err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

// A NAUTHERA_ variable that sets no flag (a typo) is named in a warning;
// the variables of the test bed and benchmarks are not.
func TestUnknownEnvironmentIsWarned(t *testing.T) {
	t.Setenv("NAUTHERA_RESYNC_INTERVL", "1m")
	t.Setenv("NAUTHERA_RESYNC_INTERVAL", "2m")
	t.Setenv("NAUTHERA_RUN_ID", "r1")
	t.Setenv("NAUTHERA_TEST_LOGS", "1")
	t.Setenv("NAUTHERA_BENCH_CLIENTS", "20")
	t.Setenv("NAUTHERA_LEADER_ELECTION_NAMESPACE", "ops")
	t.Setenv("NAUTHERAX", "not ours")
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.warnings) != 1 || !strings.Contains(o.warnings[0], "NAUTHERA_RESYNC_INTERVL sets no flag and is ignored") {
		t.Errorf("warnings %q, want one naming NAUTHERA_RESYNC_INTERVL", o.warnings)
	}
	if o.resync != 2*time.Minute || o.leaderElectionNS != "ops" {
		t.Errorf("the known variables were not applied: resync %s, lease namespace %q", o.resync, o.leaderElectionNS)
	}
}

// want says "a string" for a flag value that has no Get (flag.Value
// alone), instead of panicking on the type assertion.
func TestWantOfAPlainValue(t *testing.T) {
	if w := want(&flag.Flag{Name: "x", Value: plainValue{}}); w != "a string" {
		t.Errorf("want = %q", w)
	}
}

type plainValue struct{}

func (plainValue) String() string   { return "" }
func (plainValue) Set(string) error { return nil }

// The binary itself exits at start, before it talks to any API server,
// with the variable named on stderr.
func TestBinaryRefusesResyncWithoutUnit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NAUTHERA_TEST_RUN_MAIN=1", "NAUTHERA_RESYNC_INTERVAL=600",
		"KUBECONFIG=/nonexistent") // were the value ignored, the operator would go on and fail on this instead
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("want exit code 2, got %v; stderr:\n%s", err, stderr.String())
	}
	if want := `NAUTHERA_RESYNC_INTERVAL="600" is not a valid value for --resync-interval: want a duration with a unit, such as 90s or 10m`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}
