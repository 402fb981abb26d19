package controllers_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/testbed"
)

// logCapture records every log line of the operator (all levels, V(1)
// included) while a test has it on: the grep for a secret in the logs.
type logCapture struct {
	mu  sync.Mutex
	on  int
	buf bytes.Buffer
}

var capturedLogs = &logCapture{}

// tee adds a core that writes to the capture (wired in runSuite).
func (c *logCapture) tee(core zapcore.Core) zapcore.Core {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", NameKey: "logger", EncodeLevel: zapcore.LowercaseLevelEncoder})
	return zapcore.NewTee(core, zapcore.NewCore(enc, zapcore.AddSync(c), uzap.LevelEnablerFunc(func(zapcore.Level) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.on > 0
	})))
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on > 0 {
		c.buf.Write(p)
	}
	return len(p), nil
}

// record starts recording for t; the returned function reads what was logged.
func (c *logCapture) record(t *testing.T) func() string {
	c.mu.Lock()
	c.on++
	c.mu.Unlock()
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.on--; c.on == 0 {
			c.buf.Reset()
		}
	})
	return func() string {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.buf.String()
	}
}

// randomSecret is a fresh client secret of 32 letters and digits.
func randomSecret(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// putSourceSecret creates or replaces Secret ns/name with data and the
// consent annotation (none when consent is "").
func putSourceSecret(t *testing.T, ns, name, consent string, data map[string]string) *corev1.Secret {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	err := k8s.Get(ctx, client.ObjectKeyFromObject(s), s)
	exists := err == nil
	s.Annotations = map[string]string{}
	if consent != "" {
		s.Annotations[authv1.AnnotationClientSecretFor] = consent
	}
	s.Data = map[string][]byte{}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if exists {
		err = k8s.Update(ctx, s)
	} else {
		err = k8s.Create(ctx, s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitMirrored waits until Keycloak and the credentials Secret of ns/name
// both hold value.
func waitMirrored(t *testing.T, realm, clientID, ns, name, value string) {
	t.Helper()
	eventually(t, 30*time.Second, "the value in Keycloak and in Secret "+name+"-client-secret", func() error {
		kcc := keycloakClient(t, realm, clientID)
		if kcc == nil {
			return fmt.Errorf("no Keycloak client")
		}
		if keycloakSecret(t, realm, gocloak.PString(kcc.ID)) != value {
			return fmt.Errorf("Keycloak holds another secret")
		}
		if currentSecret(t, ns, name) != value {
			return fmt.Errorf("the credentials Secret holds another secret")
		}
		return nil
	})
}

// assertNowhere fails if any of values appears in the captured logs, the
// Events about ac, or ac itself (status and conditions included).
func assertNowhere(t *testing.T, logs func() string, ac *authv1.AuthClient, values ...string) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	obj, _ := json.Marshal(ac)
	evs, _ := json.Marshal(eventsAbout(t, ac))
	captured := logs()
	if !strings.Contains(captured, ac.Name) && !strings.Contains(captured, "Setting the client secret") {
		t.Errorf("the log capture holds nothing about %s: the grep below would prove nothing", ac.Name)
	}
	for _, v := range values {
		for what, text := range map[string]string{"logs": captured, "Events": string(evs), "the AuthClient": string(obj)} {
			if strings.Contains(text, v) {
				t.Errorf("a client secret appears in %s", what)
			}
		}
	}
}

// A bring-your-own secret, with no admission webhook: refused until the
// Secret consents (nothing reaches Keycloak meanwhile); then Keycloak holds
// the value, a client-credentials token request with it succeeds, and the
// credentials Secret mirrors it. A new value replaces the old at once (no
// rotation policy). A key gone, or the Secret deleted, is reported and the
// client keeps its credentials; the Secret back brings the client back. A
// reference to another AuthClient's credentials Secret is refused even if
// that Secret is annotated. No value appears in logs, Events or status.
func TestBYOSecretReachesKeycloak(t *testing.T) {
	integration(t)
	logs := capturedLogs.record(t)
	as := realmServer(t, "byo-server")
	realm := as.Status.RealmName
	const ns = "byo-a"
	ensureNamespace(t, ns, nil)
	v1, v2, v3 := randomSecret(t), randomSecret(t), randomSecret(t)
	putSourceSecret(t, ns, "app-creds", "", map[string]string{"secret": v1})
	ac := &authv1.AuthClient{}
	apply(t, authClient(ns, "worker", "byo-server", "  grantTypes: [client_credentials]\n  clientSecretRef: {name: app-creds, key: secret}"), ac)
	clientID := ac.EffectiveClientID()

	waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonClientSecretRefNotPermitted, 30*time.Second)
	if note := warningEvent(t, ac, authv1.ReasonClientSecretRefNotPermitted); !strings.Contains(note, authv1.AnnotationClientSecretFor) {
		t.Errorf("the Event does not say how to consent: %s", note)
	}
	if keycloakClient(t, realm, clientID) != nil {
		t.Fatal("a Keycloak client was created from a Secret that does not consent")
	}

	// Consent: the watch on the Secret brings the client in.
	putSourceSecret(t, ns, "app-creds", "other, worker", map[string]string{"secret": v1})
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitMirrored(t, realm, clientID, ns, "worker", v1)
	if err := tokenWith(realm, clientID, v1); err != nil {
		t.Fatalf("a token request with the value refused: %v", err)
	}

	// A new value, without a rotation policy: the old stops at once.
	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"secret": v2})
	waitMirrored(t, realm, clientID, ns, "worker", v2)
	if err := tokenWith(realm, clientID, v2); err != nil {
		t.Fatalf("the new value refused: %v", err)
	}
	if err := tokenWith(realm, clientID, v1); !refused(err) {
		t.Errorf("the replaced value still works without a rotation policy: %v", err)
	}
	if n := len(events(t, ac, corev1.EventTypeNormal, authv1.ReasonSecretRotated)); n == 0 {
		t.Error("no SecretRotated Event for the new value")
	}

	// The key gone, then the Secret: reported, credentials kept.
	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"other": v3})
	waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonClientSecretRefNotFound, 30*time.Second)
	if err := k8s.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-creds", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the reason names the missing Secret", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		for _, c := range ac.Status.Conditions {
			if c.Type == authv1.ReadyCondition && c.Reason == authv1.ReasonClientSecretRefNotFound && strings.Contains(c.Message, "does not exist") {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", ac.Status.Conditions)
	})
	if err := tokenWith(realm, clientID, v2); err != nil {
		t.Errorf("the client lost its credentials when its Secret went: %v", err)
	}
	if currentSecret(t, ns, "worker") != v2 {
		t.Error("the credentials Secret changed when the referenced Secret went")
	}
	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"secret": v3})
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitMirrored(t, realm, clientID, ns, "worker", v3)

	// Another AuthClient's credentials Secret, even annotated, is refused.
	annotate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "worker-client-secret", Namespace: ns}}, authv1.AnnotationClientSecretFor, "thief")
	thief := &authv1.AuthClient{}
	apply(t, authClient(ns, "thief", "byo-server", "  grantTypes: [client_credentials]\n  clientSecretRef: {name: worker-client-secret, key: client_secret}"), thief)
	waitReady(t, thief, metav1.ConditionFalse, authv1.ReasonClientSecretRefNotPermitted, 30*time.Second)
	if keycloakClient(t, realm, thief.EffectiveClientID()) != nil {
		t.Error("a Keycloak client was created from another AuthClient's credentials Secret")
	}

	// A value that cannot be a client secret.
	putSourceSecret(t, ns, "short", "shorty", map[string]string{"secret": "too-short"})
	shorty := &authv1.AuthClient{}
	apply(t, authClient(ns, "shorty", "byo-server", "  grantTypes: [client_credentials]\n  clientSecretRef: {name: short, key: secret}"), shorty)
	waitReady(t, shorty, metav1.ConditionFalse, authv1.ReasonClientSecretRefInvalid, 30*time.Second)

	settleEvents(t, ac)
	assertNowhere(t, logs, ac, v1, v2, v3)
	assertNowhere(t, logs, thief, v1, v2, v3)
}

// A new value under a rotation policy: the old value keeps working for the
// realm's grace period beside the new one, then stops; Nauthera never
// regenerates the secret on the policy's schedule; Keycloak and the
// credentials Secret agree throughout (no flip back).
func TestBYOSecretRotationKeepsOldValueForGrace(t *testing.T) {
	integration(t)
	logs := capturedLogs.record(t)
	const name, ns = "byo-rot", "byo-rot"
	theOperator(t)
	policyServer(t, name)
	applyPolicy(t, "security", name, name, `  clientAuthentication:
    secretRotation: {enabled: true, schedule: "@every 20s", gracePeriod: 15s}`)
	ensureNamespace(t, ns, nil)
	v1, v2 := randomSecret(t), randomSecret(t)
	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"secret": v1})
	ac := &authv1.AuthClient{}
	apply(t, authClient(ns, "worker", name, "  grantTypes: [client_credentials]\n  clientSecretRef: {name: app-creds, key: secret}"), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	as := waitRotationReady(t, name)
	realm, clientID := as.Status.RealmName, ac.EffectiveClientID()
	waitMirrored(t, realm, clientID, ns, "worker", v1)
	// A workload that opted in to restarts on new credentials.
	d := &appsv1.Deployment{}
	apply(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: byo-rot, annotations: {auth.nauthera.io/restart-on-rotation: worker}}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: example.com/app:1}]}`, d)
	eventually(t, 30*time.Second, "the credentials the workloads have recorded", func() error {
		if rotationStatus(t, ac).RestartedWorkloadsFor == "" {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"secret": v2})
	waitMirrored(t, realm, clientID, ns, "worker", v2)
	changed := time.Now()
	eventually(t, 30*time.Second, "the opted-in Deployment restarted for the new value", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations[authv1.AnnotationSecretHash] == "" {
			return fmt.Errorf("pod template not annotated")
		}
		return nil
	})
	// The version on the pod template and in status is read by more people
	// than the Secret: it must not be a function of the value and of what
	// they can see (the AuthClient's UID), or they could test guesses of a
	// chosen, possibly short value offline.
	public := hmac.New(sha256.New, []byte(ac.UID))
	public.Write([]byte(v2))
	guessable := hex.EncodeToString(public.Sum(nil)[:8])
	if got := d.Spec.Template.Annotations[authv1.AnnotationSecretHash]; got == guessable {
		t.Errorf("the pod template's %s is HMAC(AuthClient UID, value): anyone who reads the AuthClient can test guesses of the value", authv1.AnnotationSecretHash)
	}
	if got := rotationStatus(t, ac).RestartedWorkloadsFor; got == guessable {
		t.Error("status.secretRotation.restartedWorkloadsFor is HMAC(AuthClient UID, value): anyone who reads the AuthClient can test guesses of the value")
	}
	for _, v := range []string{v2, v1} {
		if err := tokenWith(realm, clientID, v); err != nil {
			t.Errorf("during the grace period a value is refused: %v", err)
		}
	}
	st := rotationStatus(t, ac)
	if st.PreviousSecretValidUntil == nil || st.PreviousSecretValidUntil.Time.Before(changed) {
		t.Fatalf("status does not say until when the old value works: %+v", st)
	}
	eventually(t, 45*time.Second, "the old value refused after the grace period", func() error {
		if err := tokenWith(realm, clientID, v1); !refused(err) {
			return fmt.Errorf("still accepted (%v)", err)
		}
		return nil
	})
	if time.Now().Before(st.PreviousSecretValidUntil.Time) {
		t.Errorf("the old value stopped before the grace period ended (%s)", st.PreviousSecretValidUntil)
	}
	// The marker goes once the grace period is over: the value the user
	// chose never expires in Keycloak.
	eventually(t, 30*time.Second, "the rotation marker off after the grace period", func() error {
		if v := keycloakClient(t, realm, clientID).Attributes["nauthera.io/secret-rotation"]; v != "" {
			return fmt.Errorf("marker %q", v)
		}
		return nil
	})
	if err := tokenWith(realm, clientID, v2); err != nil {
		t.Errorf("the current value refused after the grace period: %v", err)
	}
	waitMirrored(t, realm, clientID, ns, "worker", v2)
	if n := regenerates(t, realm, clientID); n != 0 {
		t.Errorf("Nauthera regenerated a bring-your-own secret %d times", n)
	}

	// A change Keycloak made while the operator never heard its answer
	// (the connection dropped, as when the operator is killed mid-request):
	// the next reconcile finishes it, with the old value's grace period,
	// and nothing flips back.
	v3 := randomSecret(t)
	hits := faults.Hits("client.secret.update")
	faults.Set("client.secret.update", testbed.Fault{Err: errors.New("injected: connection reset"), AfterSend: true, BodyContains: v3, Times: 1})
	putSourceSecret(t, ns, "app-creds", "worker", map[string]string{"secret": v3})
	waitMirrored(t, realm, clientID, ns, "worker", v3)
	if faults.Hits("client.secret.update") != hits+1 {
		t.Fatal("the injected fault did not fire: the interrupted change was not tested")
	}
	for _, v := range []string{v3, v2} {
		if err := tokenWith(realm, clientID, v); err != nil {
			t.Errorf("after an interrupted change, within the grace period, a value is refused: %v", err)
		}
	}
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitMirrored(t, realm, clientID, ns, "worker", v3)
	assertNowhere(t, logs, ac, v1, v2, v3)
}
