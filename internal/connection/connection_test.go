package connection

import (
	"context"
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
