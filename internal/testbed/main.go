package testbed

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Main is the TestMain of a package whose integration tests need a test
// bed. Under -short it runs the tests without one (those that need it skip
// themselves); otherwise run starts the bed, runs m, stops the bed and
// returns m's exit code, with which the test binary exits.
//
// run returns a code instead of calling os.Exit itself so that its deferred
// clean-ups (stopping Keycloak, slapd, the control plane) run.
func Main(m *testing.M, run func(*testing.M) int) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

// Fail prints err for a TestMain whose test bed failed to start and
// returns the exit code 1: `return testbed.Fail(err)`.
func Fail(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// StartControlPlane starts env (see ControlPlane). A failed start (e.g. a
// CRD refused) leaves etcd and kube-apiserver running: it stops them before
// it returns the error.
func StartControlPlane(env *envtest.Environment) (*rest.Config, error) {
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	return cfg, nil
}
