package reconciler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestVersionsTellsAStaleCopy(t *testing.T) {
	var v Versions
	at := func(rv string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", ResourceVersion: rv}}
	}
	if v.Stale(at("1")) {
		t.Error("an object never reconciled is stale")
	}
	v.Seen(at("7")) // the reconcile's own status write answered 7
	if !v.Stale(at("6")) {
		t.Error("the cache's copy from before the write (6) is not stale")
	}
	if v.Stale(at("7")) {
		t.Error("the cache holding the write (7) is stale")
	}
	if !v.Stale(at("8")) {
		t.Error("a copy changed by someone else since (8) is not read again")
	}
	v.Invalidate(client.ObjectKeyFromObject(at("")))
	if !v.Stale(at("7")) {
		t.Error("after a failed write the copy is not read again")
	}
	v.Forget(client.ObjectKeyFromObject(at("")))
	if v.Stale(at("6")) {
		t.Error("a forgotten object is stale")
	}
}
