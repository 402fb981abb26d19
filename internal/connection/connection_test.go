package connection

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// blockingReader stands in for the API server in a test of the resolver's
// own plumbing: reads of Secret "slow" block until release is closed,
// others answer at once. Each read is counted.
type blockingReader struct {
	client.Reader
	started chan struct{} // closed when the first slow read begins
	release chan struct{}
	reads   atomic.Int64
}

func (r *blockingReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	n := r.reads.Add(1)
	if key.Name == "slow" {
		if n == 1 {
			close(r.started)
		}
		<-r.release
	}
	s := obj.(*corev1.Secret)
	s.Data = map[string][]byte{"username": []byte("admin"), "password": []byte("pw-" + key.Name)}
	return nil
}

// A slow read of one Secret does not hold up the read of another, and
// callers that want the same Secret at once share one read.
func TestSlowCredentialsReadBlocksOnlyItsKey(t *testing.T) {
	r := &blockingReader{started: make(chan struct{}), release: make(chan struct{})}
	res := &Resolver{Reader: r}
	slow := types.NamespacedName{Namespace: "a", Name: "slow"}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := res.fromSecret(t.Context(), slow)
			done <- err
		}()
	}
	<-r.started

	fast := make(chan error, 1)
	go func() {
		creds, err := res.fromSecret(t.Context(), types.NamespacedName{Namespace: "b", Name: "fast"})
		if err == nil && creds.Password != "pw-fast" {
			t.Errorf("got the credentials of another Secret")
		}
		fast <- err
	}()
	select {
	case err := <-fast:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // a bound, not a wait for something to happen
		t.Fatal("the read of Secret b/fast waited for the slow read of a/slow")
	}

	close(r.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := r.reads.Load(); n != 2 {
		t.Errorf("%d API reads, want 2 (one shared by both callers of a/slow, one for b/fast)", n)
	}
	// Now cached: no read.
	if _, err := res.fromSecret(t.Context(), slow); err != nil {
		t.Fatal(err)
	}
	if n := r.reads.Load(); n != 2 {
		t.Errorf("%d API reads after a cached look-up, want 2", n)
	}
}

// ctxReader blocks every read until release is closed or the read's own
// context ends, and reports how the read ended on finished.
type ctxReader struct {
	client.Reader
	started  chan struct{} // closed when the first read begins
	release  chan struct{}
	finished chan error
	reads    atomic.Int64
}

func (r *ctxReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if r.reads.Add(1) == 1 {
		close(r.started)
	}
	select {
	case <-r.release:
	case <-ctx.Done():
		r.finished <- ctx.Err()
		return ctx.Err()
	}
	r.finished <- nil
	obj.(*corev1.Secret).Data = map[string][]byte{"username": []byte("admin"), "password": []byte("pw-" + key.Name)}
	return nil
}

func newCtxReader() *ctxReader {
	return &ctxReader{started: make(chan struct{}), release: make(chan struct{}), finished: make(chan error, 4)}
}

// The caller whose read is shared gives up: it returns, and the read goes on
// for anyone else (it does not end with that caller's context).
func TestFirstCallerCancelledDoesNotEndTheSharedRead(t *testing.T) {
	r := newCtxReader()
	res := &Resolver{Reader: r}
	key := types.NamespacedName{Namespace: "a", Name: "s"}
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := res.fromSecret(ctx, key)
		first <- err
	}()
	<-r.started
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v, want context.Canceled", err)
	}
	select {
	case err := <-r.finished:
		t.Fatalf("the shared read ended with its first caller's context: %v", err)
	default:
	}
	second := make(chan error, 1)
	go func() {
		creds, err := res.fromSecret(t.Context(), key)
		if err == nil && creds.Password != "pw-s" {
			t.Errorf("password %q", creds.Password)
		}
		second <- err
	}()
	close(r.release)
	if err := <-second; err != nil {
		t.Fatalf("another caller failed: %v", err)
	}
}

// A caller waiting on another's read returns as soon as its own context
// ends, without waiting for the read.
func TestWaiterReturnsWhenItsContextEnds(t *testing.T) {
	r := newCtxReader()
	res := &Resolver{Reader: r}
	key := types.NamespacedName{Namespace: "a", Name: "s"}
	first := make(chan error, 1)
	go func() {
		_, err := res.fromSecret(t.Context(), key)
		first <- err
	}()
	<-r.started // the read is in flight until release is closed
	ctx, cancel := context.WithCancel(t.Context())
	waiter := make(chan error, 1)
	go func() {
		_, err := res.fromSecret(ctx, key)
		waiter <- err
	}()
	cancel()
	select {
	case err := <-waiter:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the waiter got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a bound, not a wait for something to happen
		t.Fatal("a waiter whose context ended kept waiting for the shared read")
	}
	close(r.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := r.reads.Load(); n != 1 {
		t.Errorf("%d reads, want 1", n)
	}
}
