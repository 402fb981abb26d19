// Command registry is the OCI registry of the cluster test bed
// (hack/cluster.sh): the kubelet pulls the operator, Keycloak, CoreDNS and
// the probe from it exactly as it would from a production registry.
//
// It is go-containerregistry's registry handler (already a dependency of
// this module, so it builds from the module's own cache in seconds instead
// of a separate build of distribution/v3), with the blobs on disk so that a
// Keycloak image does not stay in memory; manifests are small and stay in
// memory for the life of the cluster.
//
//	registry --addr 127.0.0.1:5000 --dir tmp/cluster/registry
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "address to listen on")
	dir := flag.String("dir", "", "folder for the blobs (required)")
	flag.Parse()
	if err := run(*addr, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(addr, dir string) error {
	if dir == "" {
		return errors.New("--dir is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(dir), ReadHeaderTimeout: 10 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler is the registry: blobs in dir, manifests in memory.
func handler(dir string) http.Handler {
	return registry.New(
		registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)),
		// Every request, into the cluster's logs/registry.log.
		registry.Logger(log.New(os.Stderr, "registry: ", log.LstdFlags)),
	)
}
