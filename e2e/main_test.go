// Package e2e tests Nauthera through what it ships: the operator binary
// running as its own process, the Helm chart and the kustomize config, driven
// with the real kubectl and helm against a real kube-apiserver and a real
// Keycloak. Pods never run here (there is no kubelet); the operator runs as a
// local process instead.
package e2e

import (
	"os"
	"testing"

	"github.com/nauthera/nauthera/internal/testbed"
)

var (
	cluster *testbed.Cluster
	kc      *testbed.Keycloak
	workDir string
)

func TestMain(m *testing.M) { testbed.Main(m, run) }

func run(m *testing.M) int {
	var err error
	if workDir, err = os.MkdirTemp("", "nauthera-e2e-"); err != nil {
		return testbed.Fail(err)
	}
	defer os.RemoveAll(workDir)
	// No CRDs up front: the chart (or the operator test) installs them.
	if cluster, err = testbed.StartCluster(workDir, false); err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = cluster.Stop() }()
	if kc, err = testbed.StartKeycloak("e2e"); err != nil {
		return testbed.Fail(err)
	}
	defer func() { _ = kc.Cleanup() }()
	return m.Run()
}

func needsControlPlane(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: needs kube-apiserver, Keycloak, kubectl, helm and the operator binary (run without -short)")
	}
}
