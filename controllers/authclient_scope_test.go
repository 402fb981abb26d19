package controllers

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/pkg/desired"
	"github.com/nauthera/nauthera/pkg/policy"
)

// The mechanics of the AuthClient reconcile's steps and the one place its
// outcome is computed: pure, no test bed. What the steps do against a real
// Keycloak and API server is tested in the integration tests.

// recordingSteps are steps named a, b, c, d that record that they ran; the
// one named stopAt ends the chain with res.
func recordingSteps(ran *[]string, stopAt string, res stepResult) []authClientStep {
	var steps []authClientStep
	for _, name := range []string{"a", "b", "c", "d"} {
		steps = append(steps, authClientStep{name: name, run: func(context.Context, *authClientScope) stepResult {
			*ran = append(*ran, name)
			if name == stopAt {
				return res
			}
			return goOn()
		}})
	}
	return steps
}

func TestRunStepsOrderAndEarlyExit(t *testing.T) {
	refused := reconciler.Permanent(authv1.ReasonPolicyConflict, "contradict")
	withdrawFailed := errors.New("keycloak down")
	tests := []struct {
		name         string
		stopAt       string
		res          stepResult
		withdrawErr  error
		wantRan      []string
		wantWithdraw bool
		want         stepResult
	}{
		{name: "every step runs", wantRan: []string{"a", "b", "c", "d"}, want: goOn()},
		{name: "a failure ends the chain", stopAt: "b", res: endWith(refused), wantRan: []string{"a", "b"}, want: endWith(refused)},
		{name: "a stop without error ends the chain too", stopAt: "a", res: endWith(nil), wantRan: []string{"a"}, want: endWith(nil)},
		{name: "a finding keeps the wake", stopAt: "c", res: endKeepingWake(refused), wantRan: []string{"a", "b", "c"}, want: endKeepingWake(refused)},
		{name: "withdrawing first, then the step's error", stopAt: "c", res: endWithdrawing(refused),
			wantRan: []string{"a", "b", "c"}, wantWithdraw: true, want: endWithdrawing(refused)},
		{name: "a withdrawal that fails replaces the step's error", stopAt: "b", res: endWithdrawing(refused), withdrawErr: withdrawFailed,
			wantRan: []string{"a", "b"}, wantWithdraw: true, want: endWith(withdrawFailed)},
		{name: "the last step stopping", stopAt: "d", res: endWith(refused), wantRan: []string{"a", "b", "c", "d"}, want: endWith(refused)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			withdrew := false
			got := runSteps(context.Background(), &authClientScope{}, recordingSteps(&ran, tt.stopAt, tt.res), func(context.Context, *authClientScope) error {
				// Withdrawing comes after the step that asked for it, and ends the chain.
				if ran[len(ran)-1] != tt.stopAt {
					t.Errorf("withdraw ran after step %q, want after %q", ran[len(ran)-1], tt.stopAt)
				}
				withdrew = true
				return tt.withdrawErr
			})
			if !slices.Equal(ran, tt.wantRan) {
				t.Errorf("steps ran %v, want %v", ran, tt.wantRan)
			}
			if withdrew != tt.wantWithdraw {
				t.Errorf("withdrew = %v, want %v", withdrew, tt.wantWithdraw)
			}
			if got.stop != tt.want.stop || got.withdraw != tt.want.withdraw || got.keepWake != tt.want.keepWake || !errors.Is(got.err, tt.want.err) || (got.err == nil) != (tt.want.err == nil) {
				t.Errorf("runSteps = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// outcomeScope is the scope of a reconcile of a client with a secret whose
// steps all ran, with rotation due again in an hour and a note of its own.
func outcomeScope() *authClientScope {
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "app"}}
	return &authClientScope{
		ac:       ac,
		as:       server(metav1.ConditionTrue, authv1.ReasonRealmProvisioned),
		problems: &audienceProblems{},
		gov:      governance{kept: &desired.KeptAuthentication{}},
		rot:      rotationResult{wake: time.Hour, note: "the next rotation waits"},
	}
}

func TestAuthClientOutcome(t *testing.T) {
	const wake = time.Hour
	failed := reconciler.Transient(authv1.ReasonKeycloakUnavailable, "connection refused")
	notApplied := reconciler.Permanent(authv1.ReasonChangeNotApplied, "not applied")
	saMissing := reconciler.Transient(authv1.ReasonServiceAccountNotFound, "no ServiceAccount")
	violation := policy.Violation{Rule: policy.RuleGrantTypes, Message: "grant type password is not allowed"}
	tests := []struct {
		name       string
		edit       func(*authClientScope)
		end        stepResult
		wantWake   time.Duration
		wantNote   string
		wantReason string // "" : no error
	}{
		{name: "ready, with the rotation's note and wake", wantWake: wake, wantNote: "the next rotation waits"},
		{name: "a failed request: retried by the rate limiter, no wake", end: endWith(failed), wantReason: authv1.ReasonKeycloakUnavailable},
		{name: "a stop without error: done, no note", end: endWith(nil)},
		{name: "a finding after the rotation keeps its wake", end: endKeepingWake(reconciler.Permanent(authv1.ReasonSecretTemplateInvalid, "bad")),
			wantWake: wake, wantReason: authv1.ReasonSecretTemplateInvalid},
		{name: "a change not applied comes first", edit: func(s *authClientScope) {
			s.clientErr, s.violations, s.serviceAccountErr = notApplied, []policy.Violation{violation}, saMissing
			s.problems.notFound = []string{"x"}
		}, wantWake: wake, wantReason: authv1.ReasonChangeNotApplied},
		{name: "an authentication kept comes before violations", edit: func(s *authClientScope) {
			*s.gov.kept = desired.KeptAuthentication{Kept: true, Have: "a client secret", Asked: "no secret"}
			s.violations = []policy.Violation{violation}
		}, wantWake: wake, wantReason: authv1.ReasonAuthenticationNotChanged},
		{name: "violations come before a missing ServiceAccount", edit: func(s *authClientScope) {
			s.violations, s.serviceAccountErr = []policy.Violation{violation}, saMissing
		}, wantWake: wake, wantReason: authv1.ReasonPolicyViolation},
		{name: "a missing ServiceAccount comes before audiences", edit: func(s *authClientScope) {
			s.serviceAccountErr = saMissing
			s.problems.notPermitted = []string{"x"}
		}, wantWake: wake, wantReason: authv1.ReasonServiceAccountNotFound},
		{name: "audience problems last", edit: func(s *authClientScope) { s.problems.pending = []string{"x"} },
			wantWake: wake, wantReason: authv1.ReasonAudiencePending},
		{name: "the issuer's note before the rotation's", edit: func(s *authClientScope) {
			s.ac.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: "app"}
			s.as.Status.Conditions = append(s.as.Status.Conditions, metav1.Condition{Type: authv1.ServiceAccountIssuerCondition, Status: metav1.ConditionFalse, Reason: authv1.ReasonIssuerNotDiscovered})
		}, wantWake: wake, wantNote: "but Keycloak cannot check service-account tokens yet (AuthServer /: " + authv1.ReasonIssuerNotDiscovered + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := outcomeScope()
			if tt.edit != nil {
				tt.edit(s)
			}
			wake, note, err := s.outcome(tt.end)
			if wake != tt.wantWake || note != tt.wantNote {
				t.Errorf("outcome = (%v, %q), want (%v, %q)", wake, note, tt.wantWake, tt.wantNote)
			}
			switch {
			case tt.wantReason == "" && err != nil:
				t.Errorf("outcome error = %v, want none", err)
			case tt.wantReason != "" && (err == nil || reconciler.Classify(err).Reason != tt.wantReason):
				t.Errorf("outcome error = %v, want reason %s", err, tt.wantReason)
			}
		})
	}
}

// A finding the status reports anyway spares the ServiceAccount read (the
// reconciler has no reader here: a read would panic).
func TestServiceAccountStepSkippedUnderGraverFinding(t *testing.T) {
	r := &AuthClientReconciler{}
	s := outcomeScope()
	s.ac.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: "app"}
	s.violations = []policy.Violation{{Rule: policy.RuleScopes, Message: "scope x is not allowed"}}
	if res := r.stepServiceAccount(context.Background(), s); res.stop || s.serviceAccountErr != nil {
		t.Fatalf("stepServiceAccount = %+v, serviceAccountErr %v; want it skipped", res, s.serviceAccountErr)
	}
}

func TestStatusStepRecordsWhatIsProvisioned(t *testing.T) {
	s := outcomeScope()
	s.ac.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: "robot"}
	s.ac.Status.ServiceAccount = "stale"
	s.kcClient = &gocloak.Client{ClientID: gocloak.StringP("team-app")}
	if res := stepStatus(context.Background(), s); res.stop {
		t.Fatalf("stepStatus stopped the chain: %+v", res)
	}
	st := s.ac.Status
	if st.ClientID != s.ac.EffectiveClientID() || st.ClientSecretRef == nil || st.ClientSecretRef.Name != s.ac.SecretName() ||
		st.Issuer != s.as.Status.Issuer || st.ServiceAccount != authv1.ServiceAccountSubject("team", "robot") {
		t.Errorf("status = %+v", st)
	}
}

func TestReadyMessageAndRequeue(t *testing.T) {
	if got := readyMessage(""); got != "OIDC client has been successfully provisioned." {
		t.Errorf("readyMessage(\"\") = %q", got)
	}
	if got := readyMessage("the next rotation waits"); got != "OIDC client has been successfully provisioned; the next rotation waits." {
		t.Errorf("readyMessage(note) = %q", got)
	}
	for _, c := range []struct{ after, wake, want time.Duration }{
		{after: 0, wake: 0, want: 0},
		{after: 0, wake: time.Minute, want: time.Minute}, // a permanent failure: rotation still runs on time
		{after: time.Hour, wake: time.Minute, want: time.Minute},
		{after: time.Minute, wake: time.Hour, want: time.Minute},
		{after: time.Minute, wake: 0, want: time.Minute},
	} {
		if got := sooner(c.after, c.wake); got != c.want {
			t.Errorf("sooner(%v, %v) = %v, want %v", c.after, c.wake, got, c.want)
		}
	}
}

// The step list in doc.go is the code's: same steps, same order.
func TestDocListsAuthClientSteps(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "// # AuthClient")
	if !ok {
		t.Fatal("doc.go has no AuthClient section")
	}
	section, _, _ = strings.Cut(section, "\n// # ") // up to the next kind's section
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^//\t(\w+) `).FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	var steps []string
	for _, st := range (&AuthClientReconciler{}).authClientSteps() {
		steps = append(steps, st.name)
	}
	if !slices.Equal(documented, steps) {
		t.Errorf("doc.go lists the AuthClient steps\n%v\nthe reconciler runs\n%v", documented, steps)
	}
}
