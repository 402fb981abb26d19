// Command demo runs Nauthera locally with no cluster and no containers: a
// kube-apiserver and etcd, a Keycloak and the operator, all as local
// processes. It applies the specification's examples, shows the result, and
// stops everything it started on Ctrl-C (or at once with DEMO_EXIT=1).
//
//	make demo
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/nauthera/nauthera/internal/testbed"
)

type demo struct {
	root, dir string
	cluster   *testbed.Cluster
	keycloak  *testbed.Keycloak
	// keycloakStarted delivers the result of the Keycloak start, which runs
	// while the operator builds and the control plane starts.
	keycloakStarted chan keycloakStart
	operator        *testbed.Operator
	opLog           string
	local           *local
	step            int
}

type keycloakStart struct {
	kc  *testbed.Keycloak
	err error
}

const steps = 9

func main() {
	if err := runDemo(); err != nil {
		fmt.Fprintf(os.Stderr, "\n✗ %v\n", err)
		os.Exit(1)
	}
}

// runDemo runs the demo and cleans up; main exits only after its defers ran.
func runDemo() error {
	// envtest logs through controller-runtime; the demo prints its own progress.
	ctrl.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := testbed.RepoRoot()
	d := &demo{root: root, dir: filepath.Join(root, "tmp", "demo")}
	err := d.run(ctx)
	d.cleanup()
	return err
}

// say starts a step.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Printf("\n[%d/%d] %s\n", d.step, steps, fmt.Sprintf(format, args...))
}

// slow runs f and shows how long it has been running. On a terminal one line
// is updated in place every second; otherwise (a log, CI) a line is printed
// once a minute.
func (d *demo) slow(expect string, f func() error) error {
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f() }()
	tty := isTerminal(os.Stdout)
	every := time.Minute
	if tty {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if tty {
				fmt.Print("\r\033[K") // the progress line, if any
			}
			fmt.Printf("      done in %s\n", time.Since(start).Round(time.Second))
			return err
		case <-tick.C:
			line := progress(time.Since(start), expect)
			if !tty {
				fmt.Println(line)
				continue
			}
			// The cursor is left at the start of the line: a line that something
			// else writes meanwhile (the test bed's "ready at" on stderr) takes the
			// progress line's place instead of being glued to its end.
			fmt.Print("\r\033[K" + line + "\r")
		}
	}
}

// progress says how long a slow step has been running, with what to expect
// when that fits on a line of 80 columns (a long hint was printed once before
// the step started); a line that wraps could not be updated in place.
func progress(elapsed time.Duration, expect string) string {
	line := fmt.Sprintf("      ... %s elapsed", elapsed.Round(time.Second))
	if long := fmt.Sprintf("%s (%s)", line, expect); utf8.RuneCountInString(long) < 80 {
		return long
	}
	return line
}

// isTerminal tells whether f is a terminal (a character device; /dev/null is
// one too, where the in-place updates do no harm).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// script runs a hack/ script, logging to a file; on failure the error carries the log tail.
func (d *demo) script(log string, name string, args ...string) error {
	f, err := os.Create(filepath.Join(d.dir, log))
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(d.root, "hack", name), args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = d.root, f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n--- last lines of %s ---\n%s", name, err, f.Name(), testbed.Tail(f.Name(), 25))
	}
	return nil
}

func (d *demo) fail(what string, err error) error {
	return fmt.Errorf("step %d/%d (%s) failed: %w", d.step, steps, what, err)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func (d *demo) run(ctx context.Context) error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	d.opLog = filepath.Join(d.dir, "operator.log")
	fmt.Println("Nauthera demo: kube-apiserver + etcd, Keycloak and the operator as local processes.")
	fmt.Printf("Logs go to %s\n", d.dir)
	if err := d.prepare(); err != nil {
		return err
	}
	if err := d.start(); err != nil {
		return err
	}
	if err := d.apply(); err != nil {
		return err
	}
	proof, err := d.proveLocal(ctx)
	if err != nil {
		return err
	}
	d.show(proof)

	if os.Getenv("DEMO_EXIT") == "1" {
		fmt.Println("\nDEMO_EXIT=1: stopping.")
		return nil
	}
	fmt.Println("\nEverything keeps running until you press Ctrl-C.")
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nStopping.")
			return nil
		case <-time.After(time.Second):
			if exited, err := d.operator.Exited(); exited {
				return fmt.Errorf("the operator stopped: %v\n--- operator log ---\n%s", err, testbed.Tail(d.opLog, 25)) //nolint:errorlint // err is nil after a clean exit; %w would print %!w(<nil>)
			}
		}
	}
}

// kubectl runs bin/kubectl against the demo's control plane.
func (d *demo) kubectl(stdin string, args ...string) (string, error) {
	return d.cluster.Tool(stdin, "kubectl", args...)
}

// prepare builds or fetches what is missing: the control plane's binaries and Keycloak.
func (d *demo) prepare() error {
	d.say("Preparing the control plane (kube-apiserver 1.37.2, etcd 3.6.16, kubectl, helm)")
	expect := "instant when already built"
	if !exists(filepath.Join(d.root, "bin", "k8s", "current", "kube-apiserver")) || !exists(filepath.Join(d.root, "bin", "helm")) {
		expect = "the first time they are compiled from the Go module proxy: about 10 minutes on 2 cores"
		fmt.Printf("      %s\n", expect)
	}
	if err := d.slow(expect, func() error { return d.script("control-plane-build.log", "build-control-plane.sh") }); err != nil {
		return d.fail("control plane", err)
	}

	d.say("Preparing Keycloak")
	expect = "instant when already built"
	if !exists(filepath.Join(d.root, "bin", "keycloak")) {
		expect = "the first time: a download of about 200 MB from Maven Central and `kc.sh build`, 1 to 3 minutes"
		fmt.Printf("      %s\n", expect)
	}
	if err := d.slow(expect, func() error { return d.script("keycloak-fetch.log", "keycloak.sh", "fetch") }); err != nil {
		return d.fail("Keycloak download", err)
	}
	return nil
}

// start starts Keycloak, builds the operator, starts the control plane and
// then the operator. Keycloak takes longest to start: it starts first, in
// the background, while the operator builds and the control plane starts.
func (d *demo) start() error {
	d.say("Starting Keycloak on 127.0.0.1 in the background (usually 20 to 40 seconds)")
	d.keycloakStarted = make(chan keycloakStart, 1)
	go func() {
		kc, err := testbed.StartKeycloak("demo-keycloak")
		d.keycloakStarted <- keycloakStart{kc, err}
	}()

	d.say("Building the operator (bin/nauthera)")
	expect := "a few seconds with a warm Go build cache"
	if !exists(filepath.Join(d.root, "bin", "nauthera")) {
		expect = "the first build compiles the Kubernetes client libraries: 2 to 5 minutes on 2 cores"
		fmt.Printf("      %s\n", expect)
	}
	if err := d.slow(expect, func() error {
		build := exec.Command("go", "build", "-o", filepath.Join(d.root, "bin", "nauthera"), "./cmd/nauthera")
		build.Dir, build.Env = d.root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		return nil
	}); err != nil {
		return d.fail("build", err)
	}

	d.say("Starting kube-apiserver and etcd, installing the CRDs")
	var err error
	if d.cluster, err = testbed.StartCluster(d.dir, true); err != nil {
		return d.fail("control plane start", err)
	}

	d.say("Waiting for Keycloak")
	if err := d.slow("Keycloak usually needs 20 to 40 seconds", d.waitKeycloak); err != nil {
		return d.fail("Keycloak start", err)
	}

	d.say("Starting the operator as its own process")
	for _, ns := range []string{"nauthera-system", "security", "my-app-dev"} {
		if _, err := d.kubectl("", "create", "namespace", ns); err != nil {
			return d.fail("namespaces", err)
		}
	}
	if _, err := d.kubectl("", "-n", "nauthera-system", "create", "secret", "generic", "keycloak-admin",
		"--from-literal=username="+d.keycloak.AdminUser, "--from-literal=password="+d.keycloak.AdminPassword); err != nil {
		return d.fail("admin Secret", err)
	}
	_ = os.Remove(d.opLog)
	if d.operator, err = testbed.StartOperator(d.cluster, d.opLog,
		"--keycloak-url="+d.keycloak.URL, "--keycloak-admin-secret=nauthera-system/keycloak-admin",
		"--log-format=console", "--metrics-bind-address=0", "--health-probe-bind-address=0", "--resync-interval=1m",
		// A Keycloak just started, on a busy laptop, can take longer than the
		// default 10 s to create its first realm; a timed-out create that
		// Keycloak still completes makes the retry fail (HTTP 400) for a minute.
		"--keycloak-timeout=60s"); err != nil {
		return d.fail("operator start", err)
	}
	return nil
}

// apply applies the specification's examples and the local AuthServer and
// AuthClient, and waits until both clients are Ready.
func (d *demo) apply() error {
	d.say("Applying the specification's examples (config/samples), then a local AuthServer and AuthClient")
	var err error
	if d.local, err = newLocal(); err != nil {
		return d.fail("apply", err)
	}
	start := time.Now()
	if _, err := d.kubectl("", "apply",
		"-f", filepath.Join(d.root, "config", "samples", "auth_v1alpha1_authpolicy.yaml"),
		"-f", filepath.Join(d.root, "config", "samples", "auth_v1alpha1_authserver.yaml"),
		"-f", filepath.Join(d.root, "config", "samples", "auth_v1alpha1_authclient.yaml")); err != nil {
		return d.fail("apply samples", err)
	}
	// One realm at a time: creating a realm is Keycloak's heaviest write, and
	// two at once on a busy machine can outlast the operator's request
	// timeout (the retry then meets a half-created realm and waits a minute).
	if _, err := d.kubectl("", "-n", "security", "wait", "authserver/production-server", "--for=condition=Ready", "--timeout=120s"); err != nil {
		return d.fail("wait for the AuthServer", fmt.Errorf("%w\n--- operator log ---\n%s", err, testbed.Tail(d.opLog, 25)))
	}
	if _, err := d.kubectl(d.local.manifests(d.keycloak.URL), "apply", "-f", "-"); err != nil {
		return d.fail("apply the local AuthServer and AuthClient", err)
	}
	if _, err := d.kubectl("", "-n", "my-app-dev", "wait", "authclient/my-webapp", "authclient/"+localClient, "--for=condition=Ready", "--timeout=120s"); err != nil {
		return d.fail("wait for Ready", fmt.Errorf("%w\n--- operator log ---\n%s", err, testbed.Tail(d.opLog, 25)))
	}
	fmt.Printf("      both AuthClients Ready %s after the first apply\n", time.Since(start).Round(10*time.Millisecond))
	// The AuthPolicy's counts follow the client a moment later.
	_, _ = d.kubectl("", "-n", "security", "wait", "authpolicy/web-apps-policy", "--for=jsonpath={.status.governedClients}=1", "--timeout=30s")
	return nil
}

// proveLocal uses the local client's Secret as an app and a person would.
func (d *demo) proveLocal(ctx context.Context) (*localProof, error) {
	d.say("Using the local client's Secret: discovery, a client-credentials token, a browser login")
	raw, err := d.kubectl("", "-n", localNamespace, "get", "secret", localClient+"-client-secret", "-o", "json")
	if err != nil {
		return nil, d.fail("local Secret", err)
	}
	secret, err := secretData(raw)
	if err != nil {
		return nil, d.fail("local Secret", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	proof, err := d.local.prove(ctx, secret, d.keycloak.URL, d.keycloak.AdminUser, d.keycloak.AdminPassword)
	if err != nil {
		return nil, d.fail("local credentials", err)
	}
	return proof, nil
}

// waitKeycloak waits for the Keycloak start begun in the background.
func (d *demo) waitKeycloak() error {
	r := <-d.keycloakStarted
	d.keycloakStarted = nil
	d.keycloak = r.kc
	return r.err
}

func (d *demo) show(proof *localProof) {
	kubectl := d.kubectl
	section := func(title string) { fmt.Printf("\n── %s\n", title) }
	out, _ := kubectl("", "get", "authservers,authclients", "-A")
	section("kubectl get authservers,authclients -A")
	fmt.Print(out)
	out, _ = kubectl("", "get", "authpolicies", "-A")
	section("kubectl get authpolicies -A   (the security team's policy governs the sample client)")
	fmt.Print(out)
	out, _ = kubectl("", "describe", "authclient", "my-webapp", "-n", "my-app-dev")
	section("kubectl describe authclient my-webapp -n my-app-dev")
	fmt.Print(out)

	raw, _ := kubectl("", "-n", "my-app-dev", "get", "secret", "my-webapp-client-secret", "-o", "json")
	data, _ := secretData(raw)
	section("Secret my-app-dev/my-webapp-client-secret (client_secret masked)")
	printSecret(data)
	fmt.Println("  Its URLs are the specification's issuer, https://auth.prod.example.com: they do not answer on")
	fmt.Println("  this machine. The local AuthServer below publishes this machine's Keycloak instead.")

	section(fmt.Sprintf("Secret %s/%s-client-secret of the local AuthClient (issuer %s)", localNamespace, localClient, d.keycloak.URL))
	printSecret(proof.secret)
	section("A client-credentials token, requested with client_id and client_secret from that Secret at its token_url")
	fmt.Println("  (its signature verified with the realm's keys, found through the discovery document at issuer_url;")
	fmt.Println("  its claims, never the token:)")
	fmt.Print(formatClaims(proof.tokenClaims, shownClaims, "  "))
	section("Sign in with a browser on this machine: the Secret's authorization_url for its client_id and redirect_uri")
	fmt.Printf("  %s\n", proof.loginURL)
	fmt.Printf("  user %s, password %s (added to realm %s by the demo). After the login, the redirect URI\n", demoUser, demoPassword, localServer)
	fmt.Printf("  %s (served by the demo while it runs) shows the ID token's claims.\n", d.local.redirect)
	fmt.Printf("  Checked: the demo signed in as %q through a URL like it; the ID token verified.\n", proof.checkedAs)

	section("Keycloak")
	fmt.Printf("  admin console  %s/admin/  (login %s / %s)\n", d.keycloak.URL, d.keycloak.AdminUser, d.keycloak.AdminPassword)
	fmt.Printf("  the clients    realm production-server → Clients → my-app-dev.my-webapp; realm %s → Clients → %s.%s\n", localServer, localNamespace, localClient)

	section("Try your own manifests")
	fmt.Printf("  export KUBECONFIG=%s\n", d.cluster.Kubeconfig)
	fmt.Printf("  bin/kubectl apply -f my-client.yaml      # an AuthClient with authServerRef production-server/security\n")
	fmt.Printf("  bin/kubectl get authclients -A\n")
	fmt.Printf("  operator log: %s\n", filepath.Join(d.dir, "operator.log"))
}

// shownClaims are the claims of the client-credentials token the demo prints.
var shownClaims = []string{"iss", "azp", "preferred_username", "scope", "aud", "typ", "iat", "exp"}

// printSecret prints a Secret's values by key, the client secret masked.
func printSecret(data map[string]string) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := data[k]
		if k == "client_secret" {
			val = strings.Repeat("*", 8) + fmt.Sprintf(" (%d characters, from Keycloak)", len(val))
		}
		fmt.Printf("  %-18s %s\n", k, val)
	}
}

// cleanup stops every process the demo started, in reverse order.
func (d *demo) cleanup() {
	d.local.close()
	if d.operator != nil {
		if exited, _ := d.operator.Exited(); !exited {
			_ = d.operator.Stop()
		}
	}
	if d.keycloakStarted != nil {
		_ = d.waitKeycloak() // a start still under way: let it finish, then stop it
	}
	if d.keycloak != nil {
		_ = d.keycloak.Cleanup()
	}
	if d.cluster != nil {
		_ = d.cluster.Stop()
	}
	if d.step > 0 {
		fmt.Println("Stopped the operator, Keycloak, kube-apiserver and etcd.")
	}
}
