package reconciler

import (
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// RateLimiter backs off per object from base to maxDelay on transient
// failures (Keycloak down, 5xx), so that a failing object is retried soon at
// first and rarely later, and recovers by itself when the cause goes away.
func RateLimiter(base, maxDelay time.Duration) workqueue.TypedRateLimiter[reconcile.Request] {
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Minute
	}
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](base, maxDelay)
}
