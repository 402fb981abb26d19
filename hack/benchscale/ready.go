package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// readyCounter counts the objects of one kind in one namespace that turned
// Ready, each once.
type readyCounter struct {
	mu    sync.Mutex
	ready map[string]time.Time // when each object was first seen Ready
	count atomic.Int64
	// turned is called once per object, when it is first seen Ready, with
	// the count so far, on the informer's goroutine with mu held: it must
	// not block.
	turned func(count int)
}

// since gives, for each object seen Ready, how long after its start (from
// start, by name; objects not in start are left out) it turned Ready.
func (rc *readyCounter) since(start map[string]time.Time) []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]time.Duration, 0, len(rc.ready))
	for name, t := range rc.ready {
		if s, ok := start[name]; ok {
			out = append(out, t.Sub(s))
		}
	}
	return out
}

// watchReady counts the objects of obj's kind (AuthServer or AuthClient) in
// namespace that turn Ready, and when, calling turned (when set) once for each. It
// runs an informer (controller-runtime's cache) rather than a bare watch:
// the API server ends watches (its request timeout, or a consumer its watch
// cache finds too slow while thousands of objects change at once), and the
// informer's list and watch resumes or lists again without losing an
// object. An object that turned Ready while the informer lists again is
// seen at the list, a little late. The informer is in sync when this
// returns; stop ends it.
func (b *bed) watchReady(ctx context.Context, namespace string, obj client.Object, turned func(count int)) (*readyCounter, func(), error) {
	kind := fmt.Sprintf("%T", obj)
	switch obj.(type) {
	case *authv1.AuthServer, *authv1.AuthClient:
	default:
		return nil, nil, fmt.Errorf("watchReady counts AuthServers and AuthClients, not %s", kind)
	}
	ctx, cancel := context.WithCancel(ctx)
	c, err := cache.New(b.cluster.Config, cache.Options{Scheme: b.k8s.Scheme(), Mapper: b.k8s.RESTMapper(),
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform:  cache.TransformStripManagedFields()})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	rc := &readyCounter{ready: map[string]time.Time{}, turned: turned}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    rc.observe,
		UpdateFunc: func(_, o any) { rc.observe(o) },
	}); err != nil {
		cancel()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Start(ctx); err != nil {
			log("the %s informer: %v", kind, err)
		}
	}()
	stop := func() { cancel(); <-done }
	// The informer retries a failing list for ever (its errors are logged,
	// see main): give up after a minute instead of waiting silently.
	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	if !c.WaitForCacheSync(syncCtx) {
		stop()
		return nil, nil, fmt.Errorf("the %s informer did not list within a minute", kind)
	}
	return rc, stop, nil
}

func (rc *readyCounter) observe(o any) {
	var conds []metav1.Condition
	var name string
	switch o := o.(type) {
	case *authv1.AuthServer:
		conds, name = o.Status.Conditions, o.Name
	case *authv1.AuthClient:
		conds, name = o.Status.Conditions, o.Name
	default:
		return
	}
	if !meta.IsStatusConditionTrue(conds, authv1.ReadyCondition) {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, seen := rc.ready[name]; seen {
		return
	}
	rc.ready[name] = time.Now()
	count := rc.count.Add(1)
	if rc.turned != nil {
		rc.turned(int(count))
	}
}
