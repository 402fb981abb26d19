package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// invalid is a Kubernetes API answer refusing a write as invalid, as for
// a Secret made immutable after the dry run.
func invalid(what string) string {
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonInvalid, Code: 422, Message: what + " is invalid: injected by the test"})
	return string(b)
}

// scopeTemplate renders ("y": the text " profile" replaced in "y") while
// the client's scopes are "openid profile", and fails (replace of an
// empty text) once a policy takes profile away.
const scopeTemplate = `{{ replace (trimPrefix "openid" .scopes) "x" "y" }}`

// Issue 21 review, item 1: a template that stops rendering when a policy
// tightens does not keep the Keycloak client from being brought into line:
// the forbidden scope goes, and the condition names the template problem.
func TestPolicyTightenedUnderATemplate(t *testing.T) {
	integration(t)
	as := policyServer(t, "tpl-gov")
	p := applyPolicy(t, "security", "tpl-gov", "tpl-gov", "  allowedScopes: [openid, profile]")
	ensureNamespace(t, "team-tplgov", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-tplgov", "app", "tpl-gov", worker+"\n  scopes: [openid, profile]\n  secretTemplate:\n    mergePolicy: Merge\n    data:\n      TAIL: '"+scopeTemplate+"'"), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if cl := keycloakClient(t, as.Status.RealmName, "team-tplgov.app"); !slices.Contains(cl.DefaultClientScopes, "profile") {
		t.Fatalf("profile not assigned: %v", cl.DefaultClientScopes)
	}
	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.AllowedScopes = []string{"openid"} })
	eventually(t, 30*time.Second, "profile removed from the Keycloak client", func() error {
		if cl := keycloakClient(t, as.Status.RealmName, "team-tplgov.app"); slices.Contains(cl.DefaultClientScopes, "profile") || slices.Contains(cl.OptionalClientScopes, "profile") {
			return fmt.Errorf("scopes %v %v", cl.DefaultClientScopes, cl.OptionalClientScopes)
		}
		return nil
	})
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 30*time.Second)
	if !strings.Contains(cond.Message, "spec.secretTemplate.data[TAIL]") {
		t.Errorf("message %q", cond.Message)
	}
	if tail := string(secretOf(t, "team-tplgov", "app-client-secret").Data["TAIL"]); tail != "y" {
		t.Errorf("the Secret changed although its template does not render: TAIL %q", tail)
	}
	// The Keycloak client deleted in Keycloak meanwhile: recreated (under
	// its policies), and the condition says its new secret is not in the
	// Secret.
	gc, tok := console(t)
	if err := gc.DeleteClient(context.Background(), tok, as.Status.RealmName, gocloak.PString(keycloakClient(t, as.Status.RealmName, "team-tplgov.app").ID)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the client recreated, and that said", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ac.Status.Conditions, authv1.ReadyCondition)
		if c == nil || c.Reason != authv1.ReasonSecretTemplateInvalid || !strings.Contains(c.Message, "has been recreated with a new secret, which Secret app-client-secret does not hold") {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	if cl := keycloakClient(t, as.Status.RealmName, "team-tplgov.app"); cl == nil || slices.Contains(cl.DefaultClientScopes, "profile") {
		t.Errorf("recreated client %+v", cl)
	}
	deleteAndWait(t, ac)
}

// Issue 21 review, item 2: Keycloak made the rotated secret, the Secret's
// write failed, and before the retry the template stopped rendering. The
// condition says that a rotation was made and the Secret still holds the
// replaced secret; once the template renders again the rotation finishes.
func TestRotationTemplateFailsAfterTheSecretWasMade(t *testing.T) {
	integration(t)
	theOperator(t)
	policyServer(t, "rot-late")
	p := applyPolicy(t, "security", "rot-late", "rot-late", `  allowedScopes: [openid, profile]
  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@yearly", gracePeriod: 1h}`)
	ensureNamespace(t, "team-late", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-late", "worker", "rot-late", worker+"\n  scopes: [openid, profile]\n  secretTemplate:\n    mergePolicy: Merge\n    data:\n      TAIL: '"+scopeTemplate+"'"), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	as := waitRotationReady(t, "rot-late")
	realm, clientID := as.Status.RealmName, "team-late.worker"
	t.Cleanup(faults.Clear)
	s0, n0 := secretsAgree(t, "team-late", "worker", realm, clientID), regenerates(t, realm, clientID)

	faults.Set("kubernetes.secrets.patch", testbed.Fault{Status: 500, PathContains: "/namespaces/team-late/secrets/", SkipDryRun: true})
	annotate(t, ac, authv1.AnnotationRotateSecret, "late")
	eventually(t, 30*time.Second, "a secret made and its write refused", func() error {
		if regenerates(t, realm, clientID) == n0 || faults.Hits("kubernetes.secrets.patch") == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.AllowedScopes = []string{"openid"} })
	waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 30*time.Second)
	faults.Clear()
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretTemplateInvalid, 10*time.Second)
	for _, want := range []string{"spec.secretTemplate.data[TAIL]", "Keycloak already made a new secret", "still holds the replaced secret"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if currentSecret(t, "team-late", "worker") != s0 {
		t.Error("the Secret changed although its template does not render")
	}
	// The template renders again: the rotation finishes.
	patchPolicy(t, p, func(p *authv1.AuthPolicy) { p.Spec.AllowedScopes = []string{"openid", "profile"} })
	waitNewSecret(t, "team-late", "worker", s0, "the rotated secret once the template renders", 30*time.Second)
	eventually(t, 30*time.Second, "the rotation done", func() error {
		if st := rotationStatus(t, ac); st.Pending != nil || st.LastRequest != "late" {
			return fmt.Errorf("status.secretRotation %+v", st)
		}
		return nil
	})
	secretsAgree(t, "team-late", "worker", realm, clientID)
	if n := regenerates(t, realm, clientID) - n0; n != 1 {
		t.Errorf("%d regenerations for one request", n)
	}
	deleteAndWait(t, ac)
}

// Issue 21 review, item 3: after Keycloak made the rotated secret, a write
// the API server refuses as invalid (a Secret made immutable after the dry
// run) is retried with backoff, not left to the resync.
func TestRotationWriteRefusedAfterTheSecretWasMade(t *testing.T) {
	integration(t)
	longResync(t)
	ac, _, as := rotatingClient(t, "rot-inv", "team-inv", "@yearly", "1h")
	realm, clientID := as.Status.RealmName, "team-inv.worker"
	t.Cleanup(faults.Clear)
	s0 := secretsAgree(t, "team-inv", "worker", realm, clientID)
	faults.Set("kubernetes.secrets.patch", testbed.Fault{Status: 422, Body: invalid(`secrets "worker-client-secret"`), PathContains: "/namespaces/team-inv/secrets/", SkipDryRun: true, Times: 1})
	hits := faults.Hits("kubernetes.secrets.patch")
	annotate(t, ac, authv1.AnnotationRotateSecret, "inv")
	waitNewSecret(t, "team-inv", "worker", s0, "the rotated secret after a refused write", 30*time.Second)
	if faults.Hits("kubernetes.secrets.patch") != hits+1 {
		t.Fatal("the fault was not injected")
	}
	secretsAgree(t, "team-inv", "worker", realm, clientID)

	// Item 4: the dry run of a Secret that does not exist (deleted) is a
	// create; refused, no secret is made until it passes.
	faults.Set("kubernetes.secrets.create", testbed.Fault{Status: 403, Body: forbidden(`secrets "worker-client-secret"`), PathContains: "/namespaces/team-inv/secrets"})
	n1, creates := regenerates(t, realm, clientID), faults.Hits("kubernetes.secrets.create")
	if err := k8s.Delete(context.Background(), secretOf(t, "team-inv", "worker-client-secret")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Secret's re-creation refused", func() error {
		if faults.Hits("kubernetes.secrets.create") == creates {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	annotate(t, ac, authv1.AnnotationRotateSecret, "create")
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonSecretNotWritable, 30*time.Second)
	if !strings.Contains(cond.Message, "Keycloak is not asked for a new secret") {
		t.Errorf("message %q", cond.Message)
	}
	if n := regenerates(t, realm, clientID) - n1; n != 0 {
		t.Errorf("%d secrets were made that the Secret could not take", n)
	}
	faults.Clear()
	eventually(t, 30*time.Second, "the rotation done into a new Secret", func() error {
		s := &corev1.Secret{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "team-inv", Name: "worker-client-secret"}, s); err != nil {
			return err
		}
		if st := rotationStatus(t, ac); st.Pending != nil || st.LastRequest != "create" {
			return fmt.Errorf("status.secretRotation %+v", st)
		}
		return nil
	})
	secretsAgree(t, "team-inv", "worker", realm, clientID)
	if n := regenerates(t, realm, clientID) - n1; n != 1 {
		t.Errorf("%d regenerations for one request", n)
	}
	deleteAndWait(t, ac)
}
