package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running kube-apiserver + etcd with a kubeconfig file, for
// programs (kubectl, helm, the operator binary) that run as processes.
type Cluster struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Kubeconfig string
}

// StartCluster starts the control plane, optionally with the operator's
// CRDs, and writes an admin kubeconfig into dir.
func StartCluster(dir string, withCRDs bool) (*Cluster, error) {
	env, err := ControlPlane(withCRDs)
	if err != nil {
		return nil, err
	}
	cfg, err := StartControlPlane(env)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Env: env, Config: cfg, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var kc []byte
		if kc, err = user.KubeConfig(); err == nil {
			err = os.WriteFile(c.Kubeconfig, kc, 0o600)
		}
	}
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return c, nil
}

// Stop stops the control plane.
func (c *Cluster) Stop() error { return c.Env.Stop() }

// Tool runs bin/<name> (kubectl, helm) against the cluster.
func (c *Cluster) Tool(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(RepoRoot(), "bin", name), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Dir = RepoRoot()
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stderr.String(), out.String())
	}
	return out.String(), nil
}

// Operator is the operator binary (bin/nauthera) running as its own process.
type Operator struct {
	Args    []string
	LogFile string
	cmd     *exec.Cmd
	done    chan error
}

// StartOperator runs bin/nauthera against the cluster with args, logging to logFile.
func StartOperator(c *Cluster, logFile string, args ...string) (*Operator, error) {
	o := &Operator{Args: args, LogFile: logFile}
	return o, o.start(c)
}

func (o *Operator) start(c *Cluster) error {
	bin := filepath.Join(RepoRoot(), "bin", "nauthera")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("no operator binary at %s: run `make build`", bin)
	}
	f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	o.cmd = exec.Command(bin, o.Args...)
	o.cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	o.cmd.Stdout, o.cmd.Stderr = f, f
	// The operator dies with its parent, even if the parent is killed.
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := o.cmd.Start(); err != nil {
		f.Close()
		return err
	}
	o.done = make(chan error, 1)
	go func() { o.done <- o.cmd.Wait(); f.Close() }()
	return nil
}

// PID is the process id of the running operator.
func (o *Operator) PID() int { return o.cmd.Process.Pid }

// Restart starts the operator again with the same arguments, after Kill or Stop.
func (o *Operator) Restart(c *Cluster) error { return o.start(c) }

// Kill sends SIGKILL, as a crash would, and waits for the process to end.
func (o *Operator) Kill() error {
	_ = o.cmd.Process.Kill()
	<-o.done //nolint:errcheck // Wait's error is "signal: killed", the expected end, not a failure of Kill
	return nil
}

// Stop asks the operator to shut down gracefully and waits up to 30s.
func (o *Operator) Stop() error {
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-o.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() != 0 {
			return fmt.Errorf("operator exited with %d after SIGTERM", exit.ExitCode())
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done //nolint:errcheck // "signal: killed": the error below says what happened
		return errors.New("operator did not stop within 30s of SIGTERM")
	}
}

// Exited reports whether the process has ended (and how).
func (o *Operator) Exited() (bool, error) {
	select {
	case err := <-o.done:
		o.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Tail returns the last n lines of a log file.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
