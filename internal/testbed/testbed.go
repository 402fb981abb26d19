// Package testbed starts the real parts that integration tests run against:
// a Keycloak server (through hack/keycloak.sh) and a kube-apiserver with etcd
// (through controller-runtime's envtest, with binaries built by
// hack/build-control-plane.sh).
package testbed

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the root of this repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Keycloak is a Keycloak server process owned by a test binary.
type Keycloak struct {
	URL           string
	AdminUser     string
	AdminPassword string
	// Version is the Keycloak version the instance runs (KEYCLOAK_VERSION,
	// default the Makefile's pin): tests of behaviour that differs between
	// versions ask kcversion about it.
	Version string
	// StateDir holds the instance's files: its database, its log and its port.
	StateDir string
	// Env is added to the environment of the instance (KEY=value), on
	// every start: runtime options such as KC_TRUSTSTORE_PATHS.
	Env []string
}

// StartKeycloak starts a Keycloak whose files live in a new folder named
// after name under the repository's tmp/ folder. It downloads and builds the
// distribution first if needed. The instance stops by itself if the test
// binary dies without calling Stop.
func StartKeycloak(name string) (*Keycloak, error) {
	return StartKeycloakWithEnv(name)
}

// StartKeycloakWithEnv is StartKeycloak with runtime options for Keycloak in
// its environment (KEY=value), for example KC_TRUSTSTORE_PATHS to trust a
// test API server's certificate.
func StartKeycloakWithEnv(name string, env ...string) (*Keycloak, error) {
	if err := refuseUnderShort("Keycloak"); err != nil {
		return nil, err
	}
	dir := filepath.Join(RepoRoot(), "tmp", fmt.Sprintf("%s-%d", name, os.Getpid()))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	k := &Keycloak{StateDir: dir, Env: env}
	return k, k.Start()
}

// Start starts the instance, or starts it again after Stop with the same
// database and port.
func (k *Keycloak) Start() error {
	t0 := time.Now()
	out, err := k.script("start")
	if err != nil {
		return err
	}
	env, err := readEnv(filepath.Join(k.StateDir, "env"))
	if err != nil {
		return err
	}
	k.URL, k.AdminUser, k.AdminPassword = env["KEYCLOAK_URL"], env["KEYCLOAK_ADMIN_USER"], env["KEYCLOAK_ADMIN_PASSWORD"]
	k.Version = env["KEYCLOAK_VERSION"]
	if k.URL == "" {
		return fmt.Errorf("keycloak started but wrote no URL:\n%s", out)
	}
	fmt.Fprintf(os.Stderr, "testbed: Keycloak %s ready at %s in %s\n", env["KEYCLOAK_VERSION"], k.URL, time.Since(t0).Round(100*time.Millisecond))
	return nil
}

// Stop stops the instance and waits until its processes are gone.
func (k *Keycloak) Stop() error {
	_, err := k.script("stop")
	return err
}

// Cleanup stops the instance and removes its files.
func (k *Keycloak) Cleanup() error {
	err := k.Stop()
	if rmErr := os.RemoveAll(k.StateDir); err == nil {
		err = rmErr
	}
	return err
}

func (k *Keycloak) script(verb string) (string, error) {
	return runScript("keycloak.sh", verb, k.StateDir, "KEYCLOAK_WATCH_PID", k.Env...)
}

// runScript runs hack/<script> verb dir, telling it which process to
// outlive no longer (watchVar=<our pid>), with env added to its
// environment, and returns its output.
func runScript(script, verb, dir, watchVar string, env ...string) (string, error) {
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", script), verb, dir)
	cmd.Env = append(append(os.Environ(), env...), watchVar+"="+strconv.Itoa(os.Getpid()))
	// A file rather than a pipe: the started processes must not hold our pipe open.
	logf, err := os.CreateTemp("", strings.TrimSuffix(script, ".sh")+"-"+verb+"-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	runErr := cmd.Run()
	out, _ := os.ReadFile(logf.Name())
	if runErr != nil {
		return string(out), fmt.Errorf("hack/%s %s: %w\n%s", script, verb, runErr, out)
	}
	return string(out), nil
}

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// ControlPlane returns an envtest environment with the operator's CRDs
// installed (or none, for tests that install them themselves). The binaries
// come from KUBEBUILDER_ASSETS, else from bin/k8s/current (built by
// `make envtest-assets`); it is an error if neither exists.
func ControlPlane(withCRDs bool) (*envtest.Environment, error) {
	if err := refuseUnderShort("kube-apiserver"); err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(RepoRoot(), "bin", "k8s", "current")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("no kube-apiserver in %s: run `make envtest-assets` (or `make test`), or set KUBEBUILDER_ASSETS", assets)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	if withCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	return env, nil
}
