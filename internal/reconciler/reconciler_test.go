package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

func drain(r *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestReporterTransitions(t *testing.T) {
	rec := events.NewFakeRecorder(100)
	rep := Reporter{Recorder: rec, Kind: "AuthClient"}
	ctx := context.Background()
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", Generation: 1}}
	transientBefore := OutcomeCount("AuthClient", OutcomeTransient, authv1.ReasonKeycloakUnavailable)

	// An outage whose wording changes: one Warning, the message follows.
	rep.Retrying(ctx, ac, authv1.ReasonKeycloakUnavailable, "dial tcp: connection refused")
	rep.Retrying(ctx, ac, authv1.ReasonKeycloakUnavailable, "HTTP 503")
	rep.Retrying(ctx, ac, authv1.ReasonKeycloakUnavailable, "HTTP 502")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning KeycloakUnavailable") {
		t.Errorf("events %q, want one Warning", evs)
	}
	if c := FindReady(ac); c.Message != "HTTP 502" {
		t.Errorf("condition message %q should follow the latest error", c.Message)
	}
	if ac.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration %d while retrying, want 0 (not concluded)", ac.Status.ObservedGeneration)
	}
	if !meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.ReconcilingCondition) || meta.FindStatusCondition(ac.Status.Conditions, authv1.StalledCondition) != nil {
		t.Errorf("retrying is Reconciling, not Stalled: %+v", ac.Status.Conditions)
	}

	rep.Ready(ctx, ac, authv1.ReasonClientProvisioned, "ok")
	rep.Ready(ctx, ac, authv1.ReasonClientProvisioned, "ok")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Normal ClientProvisioned") {
		t.Errorf("events %q, want one Normal", evs)
	}
	if ac.Status.ObservedGeneration != 1 || len(ac.Status.Conditions) != 1 {
		t.Errorf("Ready: observedGeneration %d, conditions %+v", ac.Status.ObservedGeneration, ac.Status.Conditions)
	}

	// A spec edit that stalls: observedGeneration follows, a Warning fires.
	ac.Generation = 2
	rep.Stalled(ctx, ac, authv1.ReasonInvalidSpec, "spec.scopes[0] is bad")
	if ac.Status.ObservedGeneration != 2 || !meta.IsStatusConditionTrue(ac.Status.Conditions, authv1.StalledCondition) {
		t.Errorf("Stalled: observedGeneration %d, conditions %+v", ac.Status.ObservedGeneration, ac.Status.Conditions)
	}
	// Another edit failing for the same reason is news too.
	ac.Generation = 3
	rep.Stalled(ctx, ac, authv1.ReasonInvalidSpec, "spec.scopes[1] is bad")
	rep.Stalled(ctx, ac, authv1.ReasonInvalidSpec, "spec.scopes[1] is still bad")
	if evs := drain(rec); len(evs) != 2 {
		t.Errorf("events %q, want one Warning per generation", evs)
	}

	// Waiting is Normal and not concluded.
	ac.Generation = 4
	rep.Wait(ctx, ac, authv1.ReasonAuthServerNotReady, "waiting")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Normal AuthServerNotReady") {
		t.Errorf("events %q", evs)
	}
	if ac.Status.ObservedGeneration != 3 {
		t.Errorf("observedGeneration %d while waiting, want 3", ac.Status.ObservedGeneration)
	}
	// A wait that ends Stalled with the same reason is news: a Warning.
	rep.Stalled(ctx, ac, authv1.ReasonAuthServerNotReady, "nobody reconciles it")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning AuthServerNotReady") {
		t.Errorf("events %q, want a Warning when a wait turns into a stall", evs)
	}
	if got := OutcomeCount("AuthClient", OutcomeTransient, authv1.ReasonKeycloakUnavailable) - transientBefore; got != 3 {
		t.Errorf("transient outcomes counted %v, want 3", got)
	}
}

// A first provisioning emits no Event (the Ready condition says it: one
// API write less per new object); a recovery, the end of a wait and a spec
// edit applied do, once each.
func TestFirstReadyIsNotAnnounced(t *testing.T) {
	rec := events.NewFakeRecorder(100)
	rep := Reporter{Recorder: rec, Kind: "AuthClient"}
	ctx := context.Background()
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: "n", UID: "uid-first", Generation: 1}}
	readyBefore := OutcomeCount("AuthClient", OutcomeReady, authv1.ReasonClientProvisioned)
	rep.Ready(ctx, ac, authv1.ReasonClientProvisioned, "OIDC client has been successfully provisioned.")
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("first provisioning: events %q, want none", evs)
	}
	if c := FindReady(ac); c == nil || c.Status != metav1.ConditionTrue || c.Message != "OIDC client has been successfully provisioned." {
		t.Errorf("first provisioning: Ready %+v", c)
	}
	if got := OutcomeCount("AuthClient", OutcomeReady, authv1.ReasonClientProvisioned) - readyBefore; got != 1 {
		t.Errorf("Ready outcomes counted %v, want 1: the metric does not depend on the Event", got)
	}
	// A spec edit applied is announced.
	ac.Generation = 2
	rep.Ready(ctx, ac, authv1.ReasonClientProvisioned, "OIDC client has been successfully provisioned.")
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Normal ClientProvisioned") {
		t.Errorf("spec edit applied: events %q, want one Normal", evs)
	}

	// Ready after a wait (the first outcome was not Ready) is announced.
	waited := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "waited", Namespace: "n", UID: "uid-waited", Generation: 1}}
	rep.Wait(ctx, waited, authv1.ReasonAuthServerNotReady, "waiting")
	rep.Ready(ctx, waited, authv1.ReasonClientProvisioned, "ok")
	if evs := drain(rec); len(evs) != 2 || !strings.HasPrefix(evs[0], "Normal AuthServerNotReady") || !strings.HasPrefix(evs[1], "Normal ClientProvisioned") {
		t.Errorf("wait, then Ready: events %q", evs)
	}
	for _, tc := range []struct {
		prev    *metav1.Condition
		outcome Outcome
		want    bool
	}{
		{nil, OutcomeReady, false},
		{nil, OutcomeWaiting, true},
		{nil, OutcomeStalled, true},
		{nil, OutcomeTransient, true},
		{&metav1.Condition{Status: metav1.ConditionFalse}, OutcomeReady, true},
		{&metav1.Condition{Status: metav1.ConditionTrue}, OutcomeReady, true},
	} {
		if got := announce(tc.prev, tc.outcome); got != tc.want {
			t.Errorf("announce(%v, %s) = %v, want %v", tc.prev, tc.outcome, got, tc.want)
		}
	}
}

func TestEventNotesAreNotFormatStrings(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	rep := Reporter{Recorder: rec}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "a", Generation: 1}}
	rep.Stalled(context.Background(), ac, authv1.ReasonClientIDConflict, `clientId "100%s%d" is taken`)
	if evs := drain(rec); len(evs) != 1 || !strings.Contains(evs[0], `"100%s%d"`) || strings.Contains(evs[0], "MISSING") {
		t.Errorf("events %q", evs)
	}
}

func TestLongMessagesAreBounded(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	rep := Reporter{Recorder: rec}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "a", Generation: 1}}
	long := strings.Repeat("é keycloak said ", 400)
	rep.Stalled(context.Background(), ac, authv1.ReasonKeycloakRejected, long)
	evs := drain(rec)
	note := strings.TrimPrefix(evs[0], "Warning KeycloakRejected ")
	if len(note) > MaxEventNote || !utf8.ValidString(note) || !strings.HasSuffix(note, "(truncated)") {
		t.Errorf("note: %d bytes, valid UTF-8 %v", len(note), utf8.ValidString(note))
	}
	if m := FindReady(ac).Message; len(m) > MaxConditionMessage || !utf8.ValidString(m) {
		t.Errorf("condition message: %d bytes", len(m))
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{strings.Repeat("a", 30), 20, "aaaa … (truncated)"},
		{strings.Repeat("a", 30), 5, "aaaaa"},
		{"ééééé", 3, "é"},
		{"abc", -1, ""},
	} {
		if got := Truncate(tc.in, tc.max); got != tc.want || len(got) > max(tc.max, 0) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	readmeRetried := readmeReasons(t)
	gr := schema.GroupResource{Resource: "secrets"}
	for _, tc := range []struct {
		name      string
		err       error
		reason    string
		transient bool
	}{
		{"explicit failure", Permanent(authv1.ReasonInvalidSpec, "bad %s", "x"), authv1.ReasonInvalidSpec, false},
		{"missing admin credentials", &connection.CredentialsError{}, authv1.ReasonCredentialsNotFound, true},
		{"Keycloak down", &keycloak.Error{Kind: keycloak.KindTransient}, authv1.ReasonKeycloakUnavailable, true},
		{"admin credentials refused", &keycloak.Error{Kind: keycloak.KindUnauthorized, Code: 401}, authv1.ReasonKeycloakUnavailable, true},
		{"Keycloak refuses the request", &keycloak.Error{Kind: keycloak.KindRejected, Code: 400}, authv1.ReasonKeycloakRejected, false},
		{"Keycloak cannot store a write", &keycloak.Error{Kind: keycloak.KindTransient, Code: 500, WriteFailed: true}, authv1.ReasonKeycloakWriteFailed, true},
		{"API server refuses a write", apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "s", nil), authv1.ReasonKubernetesRejected, false},
		{"API server conflict", apierrors.NewConflict(gr, "s", errors.New("changed")), authv1.ReasonProgressing, true},
		{"API server down", errors.New("connection refused"), authv1.ReasonProgressing, true},
		{"wrapped", fmt.Errorf("step: %w", &keycloak.Error{Kind: keycloak.KindTransient}), authv1.ReasonKeycloakUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tc.err)
			if f.Reason != tc.reason || f.Transient != tc.transient {
				t.Errorf("Classify = %s transient=%v, want %s transient=%v", f.Reason, f.Transient, tc.reason, tc.transient)
			}
			// Every class keeps the error it classifies (Unwrap).
			if !errors.Is(f, tc.err) {
				t.Errorf("Classify(%v) lost its cause: %+v", tc.err, f)
			}
			// The docs' table of reasons says the same.
			if retried, ok := readmeRetried[f.Reason]; ok && strings.Contains(retried, "with backoff") != f.Transient {
				t.Errorf("docs/spec/v1alpha1/authclient.md says %s is retried %q; the code retries it with backoff: %v", f.Reason, retried, f.Transient)
			}
		})
	}
}

func TestSettleDeletion(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		retry      bool
		leftBehind bool
	}{
		{"deleted", nil, false, false},
		{"gone already", &keycloak.Error{Kind: keycloak.KindNotFound}, false, false},
		{"Keycloak down", &keycloak.Error{Kind: keycloak.KindTransient}, true, false},
		{"credentials missing", &connection.CredentialsError{}, false, true},
		{"refused", &keycloak.Error{Kind: keycloak.KindRejected}, false, true},
		{"admin credentials refused", &keycloak.Error{Kind: keycloak.KindUnauthorized}, false, true},
		{"API server error", errors.New("timeout"), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			left := false
			err := SettleDeletion(tc.err, func(error) { left = true })
			if (err != nil) != tc.retry || left != tc.leftBehind {
				t.Errorf("retry %v leftBehind %v, want %v %v", err != nil, left, tc.retry, tc.leftBehind)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	d := 10 * time.Minute
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		j := Jitter(d, fmt.Sprintf("ns/client-%d", i))
		if j < d || j > d+d/10 {
			t.Fatalf("Jitter = %s, want within [%s, %s]", j, d, d+d/10)
		}
		if Jitter(d, fmt.Sprintf("ns/client-%d", i)) != j {
			t.Fatal("Jitter must be stable per key")
		}
		seen[j] = true
	}
	if len(seen) < 40 {
		t.Errorf("only %d distinct delays for 50 keys: not spread", len(seen))
	}
}

// readmeReasons reads the table of AuthClient failure reasons of
// docs/spec/v1alpha1/authclient.md: reason -> its "retried" column.
func readmeReasons(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../../docs/spec/v1alpha1/authclient.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) == 3 && strings.HasPrefix(cells[0], "| `") {
			rows[strings.Trim(cells[0], "| `")] = strings.TrimSuffix(cells[2], " |")
		}
	}
	if rows[authv1.ReasonKeycloakWriteFailed] == "" {
		t.Fatal("the table of reasons in docs/spec/v1alpha1/authclient.md was not found")
	}
	return rows
}
