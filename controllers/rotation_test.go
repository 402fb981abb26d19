package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// Secret rotation (issue 11), proven with client-credentials grants against
// the real Keycloak: the new secret works, the previous one works for the
// grace period and is refused after it.

// tokenWith asks Keycloak for a token with these client credentials.
func tokenWith(realm, clientID, secret string) error {
	_, err := gocloak.NewClient(kc.URL).LoginClient(context.Background(), clientID, secret, realm)
	return err
}

// refused reports whether err is Keycloak refusing the client's credentials.
func refused(err error) bool {
	var api *gocloak.APIError
	return errors.As(err, &api) && (api.Code == 401 || api.Code == 400)
}

func currentSecret(t *testing.T, ns, name string) string {
	t.Helper()
	return string(secretOf(t, ns, name+"-client-secret").Data["client_secret"])
}

// currentKeycloakSecret is the client's current secret as Keycloak has it.
func currentKeycloakSecret(t *testing.T, realm, clientID string) string {
	t.Helper()
	return keycloakSecret(t, realm, gocloak.PString(keycloakClient(t, realm, clientID).ID))
}

func waitRotationReady(t *testing.T, server string) *authv1.AuthServer {
	t.Helper()
	as := &authv1.AuthServer{}
	eventually(t, 30*time.Second, "SecretRotationReady on AuthServer "+server, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "security", Name: server}, as); err != nil {
			return err
		}
		c := meta.FindStatusCondition(as.Status.Conditions, authv1.SecretRotationCondition)
		if c == nil || c.Status != metav1.ConditionTrue || as.Status.SecretRotation == nil {
			return fmt.Errorf("condition %+v, status %+v", c, as.Status.SecretRotation)
		}
		return nil
	})
	assertConditions(t, as)
	return as
}

func annotate(t *testing.T, obj client.Object, key, value string) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value))
	if err := k8s.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
}

func rotationStatus(t *testing.T, ac *authv1.AuthClient) *authv1.SecretRotationStatus {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	if ac.Status.SecretRotation == nil {
		return &authv1.SecretRotationStatus{}
	}
	return ac.Status.SecretRotation
}

// slotOf is the slot of "@every 20s" (the test schedule) that t is in.
func slotOf(t time.Time) time.Time {
	return time.Unix(t.Unix()-t.Unix()%20, 0).UTC()
}

// epoch parses Keycloak's time attributes.
func epoch(s string) time.Time {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// regenerates counts the secret regenerations the operator sent for a client.
func regenerates(t *testing.T, realm, clientID string) int {
	t.Helper()
	id := gocloak.PString(keycloakClient(t, realm, clientID).ID)
	return faults.Requests("/admin/realms/"+realm+"/clients/"+id+"/client-secret", "POST")
}

const worker = `  grantTypes: [client_credentials]`

// rotatingClient makes AuthServer name with a policy of the same name that
// rotates secrets with schedule and grace, and a client-credentials
// AuthClient "worker" in namespace ns; it returns them once the client is
// Ready and the realm rotates.
func rotatingClient(t *testing.T, name, ns, schedule, grace string) (*authv1.AuthClient, *authv1.AuthPolicy, *authv1.AuthServer) {
	t.Helper()
	theOperator(t)
	policyServer(t, name)
	p := applyPolicy(t, "security", name, name, fmt.Sprintf(`  clientAuthentication:
    secretRotation: {enabled: true, schedule: %q, gracePeriod: %s}`, schedule, grace))
	ensureNamespace(t, ns, nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient(ns, "worker", name, worker), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	return ac, p, waitRotationReady(t, name)
}

// waitNewSecret waits until the Secret of AuthClient ns/name holds another
// secret than old, and returns it.
func waitNewSecret(t *testing.T, ns, name, old, what string, timeout time.Duration) string {
	t.Helper()
	var got string
	eventually(t, timeout, what, func() error {
		if got = currentSecret(t, ns, name); got == old {
			return fmt.Errorf("secret unchanged")
		}
		return nil
	})
	ac := &authv1.AuthClient{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ac); err != nil {
		t.Fatal(err)
	}
	assertConditions(t, ac)
	return got
}

// A schedule of @every 20s with a 15 s grace: a slot rotates the secret in
// Keycloak, the old secret keeps working through the grace and is refused
// after it, and status and Events say what happened.
func TestScheduledRotationWithGracePeriod(t *testing.T) {
	integration(t)
	ac, _, as := rotatingClient(t, "rot-sched", "team-rot", "@every 20s", "15s")
	if r := as.Status.SecretRotation; r.GracePeriodSeconds != 15 || r.ExpirationSeconds != 20+86400 || r.Policy != "security/rot-sched" {
		t.Errorf("AuthServer status.secretRotation = %+v", r)
	}
	clientID := "team-rot.worker"
	if cl := keycloakClient(t, "rot-sched", clientID); cl.Attributes["nauthera.io/secret-rotation"] != "enabled" {
		t.Fatalf("the governed client carries no rotation marker: %v", cl.Attributes["nauthera.io/secret-rotation"])
	}

	// The counter is the process's: other tests' rotations count too.
	counted0 := rotationsCounted(t, "Scheduled")
	// Keycloak's regenerations of this client, from here to the schedule
	// change below: at most one per slot (the bound after the grace). The
	// slot served is read before the count: a regenerate counted is for a
	// later slot. Not recorded yet, rotation counts from the slot of its
	// first reconcile, shifted by the client's spread (under 2 s here).
	served := slotOf(time.Now().Add(-2 * time.Second))
	if st := rotationStatus(t, ac); st.LastScheduledSlot != nil {
		served = st.LastScheduledSlot.Time
	}
	regen0 := regenerates(t, "rot-sched", clientID)
	s0 := currentSecret(t, "team-rot", "worker")
	s1 := waitNewSecret(t, "team-rot", "worker", s0, "a scheduled rotation", 60*time.Second)
	// Both work right after the rotation: the grace period.
	if err := tokenWith("rot-sched", clientID, s1); err != nil {
		t.Fatalf("the new secret is refused: %v", err)
	}
	if err := tokenWith("rot-sched", clientID, s0); err != nil {
		t.Fatalf("the previous secret is refused during its grace period: %v", err)
	}
	if got := currentKeycloakSecret(t, "rot-sched", clientID); got != s1 {
		t.Error("the Secret does not hold Keycloak's current secret")
	}
	st := rotationStatus(t, ac)
	if st.LastRotationTime == nil || st.LastRotationReason != "Scheduled" || st.PreviousSecretValidUntil == nil || st.NextRotationTime == nil ||
		st.Policy != "security/rot-sched" || st.Schedule != "@every 20s" {
		t.Fatalf("status.secretRotation = %+v", st)
	}
	if d := st.PreviousSecretValidUntil.Sub(st.LastRotationTime.Time); d < 14*time.Second || d > 16*time.Second {
		t.Errorf("previousSecretValidUntil - lastRotationTime = %s, want the 15s grace", d)
	}
	if st.LastScheduledSlot.Unix()%20 != 0 || !st.NextRotationTime.After(time.Now()) {
		t.Errorf("slots: last %s, next %s", st.LastScheduledSlot, st.NextRotationTime)
	}
	ev := settledEvents(t, ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated)
	if len(ev) == 0 || !strings.Contains(ev[0].Note, "previous secret stays valid until") || !strings.Contains(ev[0].Note, "security/rot-sched") {
		t.Errorf("SecretRotated events %v", ev)
	}
	for _, e := range ev {
		if strings.Contains(e.Note, s0) || strings.Contains(e.Note, s1) {
			t.Fatal("an Event carries a secret")
		}
	}

	// After the grace period the previous secret is refused.
	eventually(t, time.Until(st.PreviousSecretValidUntil.Add(10*time.Second)), "the previous secret is refused after its grace period", func() error {
		if err := tokenWith("rot-sched", clientID, s0); !refused(err) {
			return fmt.Errorf("still works: %v", err)
		}
		return nil
	})
	if err := tokenWith("rot-sched", clientID, currentSecret(t, "team-rot", "worker")); err != nil {
		t.Errorf("the Secret's secret is refused: %v", err)
	}

	// The rotation is counted, by reason.
	if n := rotationsCounted(t, "Scheduled") - counted0; n < 1 {
		t.Errorf("nauthera_secret_rotations_total{reason=Scheduled} went up by %v", n)
	}
	// One rotation per slot, not more, by the executor. That each slot is
	// decided once is pkg/rotation's (TestOneRotationPerSlot, TestDecide);
	// this bounds what the real executor did: no more regenerations than
	// slots of "@every 20s" after the one served at the start, up to now
	// (a client's spread only makes its rotation later). No tolerance: the
	// executor writes the pending rotation, fenced, before it regenerates.
	regenerated := regenerates(t, "rot-sched", clientID) - regen0
	slots := int(slotOf(time.Now()).Sub(served) / (20 * time.Second))
	if regenerated < 1 || regenerated > slots {
		t.Errorf("%d regenerations over %d slots after the one served at %s", regenerated, slots, served.Format(time.TimeOnly))
	}
	t.Logf("%d regenerations over %d slots", regenerated, slots)

	// A longer schedule: the secret's expiry (set under the 20 s schedule,
	// 24h20s after its last rotation) would come before the next slot, two
	// days or more away: it is rotated at once, under the new expiry.
	var p authv1.AuthPolicy
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "security", Name: "rot-sched"}, &p); err != nil {
		t.Fatal(err)
	}
	far := time.Now().UTC().AddDate(0, 0, 3)
	patchPolicy(t, &p, func(p *authv1.AuthPolicy) {
		p.Spec.ClientAuthentication.SecretRotation.Schedule = fmt.Sprintf("0 0 %d %d *", far.Day(), int(far.Month()))
	})
	eventually(t, 30*time.Second, "an early rotation for a secret that would expire before the next slot", func() error {
		for _, e := range events(t, ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated) {
			if strings.Contains(e.Note, "Rotated the client secret early") {
				return nil
			}
		}
		return fmt.Errorf("no early rotation")
	})
	eventually(t, 10*time.Second, "the expiry after the next slot", func() error {
		st := rotationStatus(t, ac)
		exp := epoch(keycloakClient(t, "rot-sched", clientID).Attributes["client.secret.expiration.time"])
		if st.NextRotationTime == nil || !exp.After(st.NextRotationTime.Time) || st.LastRotationReason != "Expiring" {
			return fmt.Errorf("expiry %s, status %+v", exp, st)
		}
		return nil
	})
	if err := tokenWith("rot-sched", clientID, currentSecret(t, "team-rot", "worker")); err != nil {
		t.Errorf("the Secret's secret is refused: %v", err)
	}

	// Rotation off: the marker goes, and Keycloak's expiry with it.
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "security", Name: "rot-sched"}, &p); err != nil {
		t.Fatal(err)
	}
	patchPolicy(t, &p, func(p *authv1.AuthPolicy) { p.Spec.ClientAuthentication.SecretRotation.Enabled = false })
	eventually(t, 30*time.Second, "rotation removed", func() error {
		cl := keycloakClient(t, "rot-sched", clientID)
		if cl.Attributes["nauthera.io/secret-rotation"] != "" || cl.Attributes["client.secret.expiration.time"] != "" {
			return fmt.Errorf("attributes still set: marker %q, expiry %q", cl.Attributes["nauthera.io/secret-rotation"], cl.Attributes["client.secret.expiration.time"])
		}
		if st := rotationStatus(t, ac); st.NextRotationTime != nil {
			return fmt.Errorf("next rotation still %s", st.NextRotationTime)
		}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "security", Name: "rot-sched"}, as); err != nil {
			return err
		}
		if as.Status.SecretRotation != nil {
			return fmt.Errorf("AuthServer still has %+v", as.Status.SecretRotation)
		}
		return nil
	})
	deleteAndWait(t, ac)
}

// Rotation on request (an annotation), with grace under a rotation policy
// and without it otherwise; ending the grace period early.
func TestRequestedRotationAndRevoke(t *testing.T) {
	integration(t)
	ac, _, _ := rotatingClient(t, "rot-req", "team-req", "@yearly", "1h")
	clientID := "team-req.worker"
	s0 := currentSecret(t, "team-req", "worker")

	annotate(t, ac, authv1.AnnotationRotateSecret, "1")
	s1 := waitNewSecret(t, "team-req", "worker", s0, "a requested rotation", 30*time.Second)
	for name, s := range map[string]string{"new": s1, "previous": s0} {
		if err := tokenWith("rot-req", clientID, s); err != nil {
			t.Errorf("the %s secret is refused: %v", name, err)
		}
	}
	eventually(t, 10*time.Second, "status of the requested rotation", func() error {
		st := rotationStatus(t, ac)
		if st.LastRequest != "1" || st.LastRotationReason != "Requested" || st.Pending != nil || st.PreviousSecretValidUntil == nil ||
			st.PreviousSecretValidUntil.Time.Before(time.Now().Add(50*time.Minute)) {
			return fmt.Errorf("status.secretRotation = %+v", st)
		}
		return nil
	})
	ev := settledEvents(t, ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated)
	if occurrences(ev) != 1 || !strings.Contains(ev[0].Note, "as requested") || !strings.Contains(ev[0].Note, "stays valid until") {
		t.Errorf("SecretRotated events %v", ev)
	}

	// A reconcile whose request value was acted upon does not rotate again:
	// pkg/rotation TestDecide "request already served".

	// Emergency: the previous secret stops working now.
	annotate(t, ac, authv1.AnnotationRevokePreviousSecret, "leak-1")
	eventually(t, 30*time.Second, "the previous secret revoked", func() error {
		if err := tokenWith("rot-req", clientID, s0); !refused(err) {
			return fmt.Errorf("previous secret: %v", err)
		}
		return nil
	})
	if err := tokenWith("rot-req", clientID, s1); err != nil {
		t.Errorf("the current secret is refused after revoking the previous one: %v", err)
	}
	eventually(t, 10*time.Second, "revoke recorded", func() error {
		if st := rotationStatus(t, ac); st.LastRevokeRequest != "leak-1" || st.PreviousSecretValidUntil != nil {
			return fmt.Errorf("status.secretRotation = %+v", st)
		}
		if occurrences(events(t, ac, corev1.EventTypeNormal, authv1.ReasonPreviousSecretRevoked)) != 1 {
			return fmt.Errorf("no PreviousSecretRevoked Event")
		}
		return nil
	})

	// The current secret leaked: rotate and revoke in one go. The new
	// secret is in the Secret and works; the leaked one is refused at once.
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:"2",%q:"leak-2"}}}`, authv1.AnnotationRotateSecret, authv1.AnnotationRevokePreviousSecret))
	if err := k8s.Patch(context.Background(), ac, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	var s2 string
	eventually(t, 30*time.Second, "rotate and revoke together", func() error {
		if s2 = currentSecret(t, "team-req", "worker"); s2 == s1 {
			return fmt.Errorf("secret unchanged")
		}
		if err := tokenWith("rot-req", clientID, s1); !refused(err) {
			return fmt.Errorf("the leaked secret: %v", err)
		}
		return nil
	})
	if err := tokenWith("rot-req", clientID, s2); err != nil {
		t.Errorf("the new secret is refused: %v", err)
	}
	eventually(t, 10*time.Second, "both recorded", func() error {
		if st := rotationStatus(t, ac); st.LastRequest != "2" || st.LastRevokeRequest != "leak-2" || st.Pending != nil || st.PreviousSecretValidUntil != nil {
			return fmt.Errorf("status.secretRotation = %+v", st)
		}
		return nil
	})

	// Without a rotation policy the old secret dies at once, and the Event says so.
	realmServer(t, "rot-none")
	plain := &authv1.AuthClient{}
	apply(t, authClient("team-req", "plain", "rot-none", worker), plain)
	waitReady(t, plain, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	p0 := currentSecret(t, "team-req", "plain")
	annotate(t, plain, authv1.AnnotationRotateSecret, "now")
	p1 := waitNewSecret(t, "team-req", "plain", p0, "an ungoverned requested rotation", 30*time.Second)
	if err := tokenWith("rot-none", "team-req.plain", p0); !refused(err) {
		t.Errorf("without a rotation policy the old secret must stop working at once: %v", err)
	}
	if err := tokenWith("rot-none", "team-req.plain", p1); err != nil {
		t.Errorf("new secret refused: %v", err)
	}
	eventually(t, 10*time.Second, "Event of an ungoverned rotation", func() error {
		ev := events(t, plain, corev1.EventTypeNormal, authv1.ReasonSecretRotated)
		if occurrences(ev) != 1 || !strings.Contains(ev[0].Note, "stopped working at once") {
			return fmt.Errorf("events %v", ev)
		}
		return nil
	})
	if w := settledEvents(t, plain, corev1.EventTypeWarning, authv1.ReasonCredentialsChanged); len(w) != 0 {
		t.Errorf("a rotation Nauthera made is not a credentials change from outside: %v", w)
	}
	deleteAndWait(t, plain)
	deleteAndWait(t, ac)
}

// A rotation whose answer is lost (Keycloak regenerated, the operator never
// learned the new secret, as when it is killed right then) is completed on
// the next reconcile from Keycloak's current secret, not repeated: one
// regeneration per request.
func TestInterruptedRotationIsCompletedNotRepeated(t *testing.T) {
	integration(t)
	ac, _, _ := rotatingClient(t, "rot-crash", "team-crash", "@yearly", "1h")
	clientID := "team-crash.worker"
	t.Cleanup(faults.Clear)

	check := func(what string, s0 string, regenBefore int) {
		t.Helper()
		eventually(t, 45*time.Second, what+": the Secret holds Keycloak's current secret", func() error {
			kcSecret := currentKeycloakSecret(t, "rot-crash", clientID)
			if kcSecret == s0 {
				return fmt.Errorf("not rotated in Keycloak yet")
			}
			if currentSecret(t, "team-crash", "worker") != kcSecret {
				return fmt.Errorf("the Secret does not hold Keycloak's secret")
			}
			return nil
		})
		if n := regenerates(t, "rot-crash", clientID) - regenBefore; n != 1 {
			t.Errorf("%s: %d regenerations, want 1", what, n)
		}
		for name, s := range map[string]string{"current": currentSecret(t, "team-crash", "worker"), "previous": s0} {
			if err := tokenWith("rot-crash", clientID, s); err != nil {
				t.Errorf("%s: the %s secret is refused: %v", what, name, err)
			}
		}
	}

	// Requested.
	s0, n0 := currentSecret(t, "team-crash", "worker"), regenerates(t, "rot-crash", clientID)
	faults.Set("client.secret.regenerate", testbed.Fault{AfterSend: true, Err: errors.New("connection reset (injected)"), PathContains: "/rot-crash/", Times: 1})
	annotate(t, ac, authv1.AnnotationRotateSecret, "crash-1")
	check("requested", s0, n0)
	eventually(t, 10*time.Second, "an Event for the completed rotation", func() error {
		for _, e := range events(t, ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated) {
			if strings.Contains(e.Note, "Completed an interrupted rotation") {
				return nil
			}
		}
		return fmt.Errorf("no SecretRotated Event says the rotation was completed")
	})
	if st := rotationStatus(t, ac); st.LastRequest != "crash-1" || st.Pending != nil {
		t.Errorf("status.secretRotation = %+v", st)
	}

	// A regenerate that never reached Keycloak (refused on the way) is made
	// on the retry: the pending record does not pass for a rotation.
	s0, n0 = currentSecret(t, "team-crash", "worker"), regenerates(t, "rot-crash", clientID)
	hits := faults.Hits("client.secret.regenerate")
	faults.Set("client.secret.regenerate", testbed.Fault{Status: 503, PathContains: "/rot-crash/", Times: 1})
	annotate(t, ac, authv1.AnnotationRotateSecret, "crash-2")
	eventually(t, 45*time.Second, "a rotation after a failed regenerate", func() error {
		if currentSecret(t, "team-crash", "worker") == s0 || currentKeycloakSecret(t, "rot-crash", clientID) == s0 {
			return fmt.Errorf("not rotated")
		}
		if currentSecret(t, "team-crash", "worker") != currentKeycloakSecret(t, "rot-crash", clientID) {
			return fmt.Errorf("the Secret does not hold Keycloak's secret")
		}
		return nil
	})
	if faults.Hits("client.secret.regenerate") != hits+1 {
		t.Fatal("the fault was not injected")
	}
	if n := regenerates(t, "rot-crash", clientID) - n0; n != 2 {
		t.Errorf("%d regenerate requests, want 2 (one refused on the way, one made)", n)
	}
	if err := tokenWith("rot-crash", clientID, s0); err != nil {
		t.Errorf("the previous secret is refused: %v", err)
	}

	// A scheduled rotation is completed the same way (Keycloak's creation
	// record moved); that its slot then counts as served is the decision's:
	// pkg/rotation TestDecide "scheduled pending, a later slot came
	// meanwhile: again".
	deleteAndWait(t, ac)
}

// Opted-in workloads roll when the credentials change; others are untouched.
func TestRotationRestartsOptedInWorkloads(t *testing.T) {
	integration(t)
	theOperator(t)
	realmServer(t, "rot-roll")
	ensureNamespace(t, "team-roll", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-roll", "web", "rot-roll", worker), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	deployment := func(name, annotation string) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		apply(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: team-roll, annotations: {%s}}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: app, image: example.com/app:1}]}`, name, annotation, name, name), d)
		return d
	}
	opted := deployment("opted-in", `auth.nauthera.io/restart-on-rotation: "other, web"`)
	other := deployment("not-opted-in", `example.com/x: "y"`)
	hashOf := func(d *appsv1.Deployment) string {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[authv1.AnnotationSecretHash]
	}
	eventually(t, 10*time.Second, "credentials recorded", func() error {
		if rotationStatus(t, ac).RestartedWorkloadsFor == "" {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if hashOf(opted) != "" {
		t.Fatal("a workload was restarted without a change of credentials")
	}
	seen := map[string]bool{}
	for i := range 2 {
		annotate(t, ac, authv1.AnnotationRotateSecret, fmt.Sprint(i))
		eventually(t, 30*time.Second, "the opted-in Deployment restarted", func() error {
			h := hashOf(opted)
			if h == "" || seen[h] {
				return fmt.Errorf("pod template annotation %q", h)
			}
			seen[h] = true
			return nil
		})
	}
	gen := other.Generation
	if hashOf(other) != "" || other.Generation != gen {
		t.Error("a Deployment that did not opt in was changed")
	}
	if occurrences(events(t, ac, corev1.EventTypeNormal, authv1.ReasonWorkloadsRestarted)) == 0 {
		t.Error("no WorkloadsRestarted Event")
	}
	_ = k8s.Delete(context.Background(), opted)
	_ = k8s.Delete(context.Background(), other)
	deleteAndWait(t, ac)
}

// adminJSON sends one admin API request as a person in the console would.
func adminJSON(t *testing.T, method, path string, body any) string {
	t.Helper()
	gc, tok := console(t)
	req := gc.RestyClient().R().SetAuthToken(tok).SetHeader("Content-Type", "application/json")
	if body != nil {
		req.SetBody(body)
	}
	resp, err := req.Execute(method, kc.URL+"/admin/realms/"+path)
	if err != nil {
		t.Fatal(err)
	}
	if resp.IsError() {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status(), resp.Body())
	}
	return string(resp.Body())
}

// Rotation touches only what Nauthera owns: someone else's client profiles
// and policies survive setting it up, a drift in ours is reverted, and a
// confidential client Nauthera does not manage never gets an expiry or a
// grace period (the marker condition selects exactly the governed clients).
func TestRotationLeavesOthersAlone(t *testing.T) {
	integration(t)
	theOperator(t)
	policyServer(t, "rot-others")
	waitReady(t, &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Name: "rot-others", Namespace: "security"}}, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 30*time.Second)
	adminJSON(t, "PUT", "rot-others/client-policies/profiles", map[string]any{"profiles": []any{
		map[string]any{"name": "corp-profile", "description": "the security team's", "executors": []any{}}}})
	adminJSON(t, "PUT", "rot-others/client-policies/policies", map[string]any{"policies": []any{
		map[string]any{"name": "corp-policy", "enabled": false, "conditions": []any{map[string]any{"condition": "any-client", "configuration": map[string]any{}}}, "profiles": []string{"corp-profile"}}}})
	gc, tok := console(t)
	legacyID, err := gc.CreateClient(context.Background(), tok, "rot-others", gocloak.Client{
		ClientID: gocloak.StringP("legacy"), PublicClient: gocloak.BoolP(false), ServiceAccountsEnabled: gocloak.BoolP(true), StandardFlowEnabled: gocloak.BoolP(false)})
	if err != nil {
		t.Fatal(err)
	}

	p := applyPolicy(t, "security", "rot-others", "rot-others", `  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@every 20s", gracePeriod: 15s}`)
	ensureNamespace(t, "team-others", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-others", "worker", "rot-others", worker), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitRotationReady(t, "rot-others")
	for _, list := range []string{"profiles", "policies"} {
		got := adminJSON(t, "GET", "rot-others/client-policies/"+list, nil)
		if !strings.Contains(got, `"corp-`) || !strings.Contains(got, `"nauthera-secret-rotation"`) {
			t.Errorf("%s after setting up rotation: %s", list, got)
		}
	}

	// The unmanaged client: a regenerate kills its old secret at once (no
	// grace: not governed) and leaves no expiry.
	if _, err := gc.RegenerateClientSecret(context.Background(), tok, "rot-others", legacyID); err != nil {
		t.Fatal(err)
	}
	legacy, err := gc.GetClient(context.Background(), tok, "rot-others", legacyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"client.secret.expiration.time", "client.secret.rotated"} {
		if _, ok := legacy.Attributes[a]; ok {
			t.Errorf("the unmanaged client got %s: the rotation policy selects more than the governed clients", a)
		}
	}
	// The governed client was created before the realm's policy existed:
	// its first rotation puts it under the policy (expiry and grace).
	eventually(t, 45*time.Second, "the governed client under the realm policy", func() error {
		if a := keycloakClient(t, "rot-others", "team-others.worker").Attributes; a["client.secret.expiration.time"] == "" || a["client.secret.rotated"] == "" {
			return fmt.Errorf("expiry %q, rotated secret set: %v", a["client.secret.expiration.time"], a["client.secret.rotated"] != "")
		}
		return nil
	})

	// Drift in our profile (an admin shortens the grace in the console) is reverted.
	profiles := adminJSON(t, "GET", "rot-others/client-policies/profiles", nil)
	edited := strings.Replace(profiles, `"rotated-expiration-period":15`, `"rotated-expiration-period":5`, 1)
	if edited == profiles {
		t.Fatalf("profile not as expected: %s", profiles)
	}
	adminJSON(t, "PUT", "rot-others/client-policies/profiles", json.RawMessage(edited))
	eventually(t, 30*time.Second, "the profile drift reverted", func() error {
		if got := adminJSON(t, "GET", "rot-others/client-policies/profiles", nil); !strings.Contains(got, `"rotated-expiration-period":15`) {
			return fmt.Errorf("profiles %s", got)
		}
		return nil
	})

	// Rotation off: ours go, theirs stay.
	_ = k8s.Delete(context.Background(), p)
	eventually(t, 30*time.Second, "rotation removed from the realm", func() error {
		for _, list := range []string{"profiles", "policies"} {
			got := adminJSON(t, "GET", "rot-others/client-policies/"+list, nil)
			if !strings.Contains(got, `"corp-`) || strings.Contains(got, "nauthera-secret-rotation") {
				return fmt.Errorf("%s: %s", list, got)
			}
		}
		return nil
	})
	deleteAndWait(t, ac)
}

// rotationsCounted reads nauthera_secret_rotations_total for a reason.
func rotationsCounted(t *testing.T, reason string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, f := range families {
		if f.GetName() != "nauthera_secret_rotations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
