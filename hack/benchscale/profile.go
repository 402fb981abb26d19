package main

import (
	"context"
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
// `go tool pprof -top FILE`.
var (
	profileDir     = flag.String("profile", "", "Folder to write CPU profiles of the operator and the API server to, taken during Nauthera's create run (empty: none)")
	profileSeconds = flag.Int("profile-seconds", 10, "Length of the -profile CPU profiles, from the start of the create run")
	pprofAddr      string // the operator's --pprof-bind-address when -profile is set
)

// profileArgs gives the operator a profiler address when -profile is set.
func profileArgs() ([]string, error) {
	if *profileDir == "" {
		return nil, nil
	}
	if pprofAddr == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = "127.0.0.1:" + port
	}
	return []string{"--pprof-bind-address=" + pprofAddr}, nil
}

// startProfiles takes both CPU profiles in the background; the returned
// function waits for them and reports what failed.
func (b *bed) startProfiles(ctx context.Context) func() error {
	if *profileDir == "" {
		return func() error { return nil }
	}
	secs := strconv.Itoa(*profileSeconds)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = b.operatorProfile(ctx, "http://"+pprofAddr+"/debug/pprof/profile?seconds="+secs)
	}()
	go func() {
		defer wg.Done()
		errs[1] = b.apiServerProfile(ctx, secs)
	}()
	return func() error {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		log("CPU profiles of the first %ss of the create run in %s (go tool pprof -top FILE)", secs, *profileDir)
		return nil
	}
}

func (b *bed) operatorProfile(ctx context.Context, url string) error {
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
	timeout, _ := strconv.Atoi(secs)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeout+30)*time.Second)
	defer cancel()
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", secs).Timeout(time.Duration(timeout+20) * time.Second).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("API server profile: %w", err)
	}
	return os.WriteFile(filepath.Join(*profileDir, "kube-apiserver.pprof"), raw, 0o600)
}

func writeProfile(name string, r io.Reader) error {
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*profileDir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
