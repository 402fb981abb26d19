package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// -profile: CPU profiles of the operator and the API server during
// Nauthera's create run, to find where the CPU the baselines do not spend
// goes. Both serve Go's net/http/pprof: the operator on
// --pprof-bind-address, the API server under /debug/pprof (on by default;
// the bench's admin user may read it). Read them with
// `go tool pprof -top FILE`. Profiling costs CPU too: a profiled run's
// times and ratios are not comparable with an unprofiled one's.
var (
	profileDir     = flag.String("profile", "", "Folder to write CPU profiles of the operator and the API server to, taken during Nauthera's create run (empty: none). Profiling slows the run: its ratios are not comparable")
	profileSeconds = flag.Int("profile-seconds", 10, "Length of the -profile CPU profiles, from the start of the create run (1 to 40: the API server ends longer requests)")
)

// checkProfile refuses -profile settings that cannot work, before anything
// starts.
func checkProfile(help string) error {
	if *profileDir == "" {
		return nil
	}
	if *realmsScale != "" {
		return fmt.Errorf("-profile profiles the create run of N clients; -realms-scale has none")
	}
	if *profileSeconds < 1 || *profileSeconds > 40 {
		return fmt.Errorf("-profile-seconds %d: want 1 to 40", *profileSeconds)
	}
	if !hasFlag(help, "pprof-bind-address") {
		return fmt.Errorf("-profile: this operator build (bin/nauthera) has no --pprof-bind-address")
	}
	return os.MkdirAll(*profileDir, 0o755)
}

// profileArgs gives the operator a profiler address when -profile is set:
// a fresh port at every start, like its other ports.
func (b *bed) profileArgs() ([]string, error) {
	if *profileDir == "" {
		return nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b.pprof = "127.0.0.1:" + port
	return []string{"--pprof-bind-address=" + b.pprof}, nil
}

// startProfiles takes both CPU profiles in the background. The returned
// function waits for them (or cancels them, when the run ended early) and
// logs what failed: a failed profile does not discard the measured run.
func (b *bed) startProfiles(ctx context.Context) (wait func(ended bool)) {
	if *profileDir == "" {
		return func(bool) {}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(*profileSeconds+30)*time.Second)
	secs := strconv.Itoa(*profileSeconds)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = operatorProfile(ctx, "http://"+b.pprof+"/debug/pprof/profile?seconds="+secs)
	}()
	go func() {
		defer wg.Done()
		errs[1] = b.apiServerProfile(ctx, secs)
	}()
	return func(ended bool) {
		if !ended {
			cancel()
		}
		wg.Wait()
		cancel()
		if err := errors.Join(errs...); err != nil {
			log("CPU profiles: %v", err)
			return
		}
		log("CPU profiles of the first %ss of the create run in %s (go tool pprof -top FILE)", secs, *profileDir)
	}
}

func operatorProfile(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("operator profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("operator profile: HTTP %d", resp.StatusCode)
	}
	return writeProfile("operator.pprof", resp.Body)
}

func (b *bed) apiServerProfile(ctx context.Context, secs string) error {
	cs, err := kubernetes.NewForConfig(b.cluster.Config)
	if err != nil {
		return err
	}
	stream, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", secs).Stream(ctx)
	if err != nil {
		return fmt.Errorf("API server profile: %w", err)
	}
	defer stream.Close()
	return writeProfile("kube-apiserver.pprof", stream)
}

func writeProfile(name string, r io.Reader) error {
	f, err := os.OpenFile(filepath.Join(*profileDir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}
