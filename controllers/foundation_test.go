package controllers_test

// Tests of the reconciler foundation (issue 8): each reproduces a defect of
// the shared plumbing against the real API server and the real Keycloak,
// with faults injected in front of Keycloak where the real server cannot
// be made to misbehave on cue.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/internal/testbed/settle"
)

// realmServer creates an AuthServer with a realm of its own (so faults can
// be injected into its requests alone) and waits until it is Ready.
func realmServer(t *testing.T, name string) *authv1.AuthServer { return serverWith(t, name, "") }

// serverWith is realmServer with more spec lines (indented by two spaces).
func serverWith(t *testing.T, name, extra string) *authv1.AuthServer {
	t.Helper()
	theOperator(t)
	as := serverWithoutWait(t, name, "  deletionPolicy: Delete\n"+extra)
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	return as
}

// editClient reads ac, applies edit to it and updates it; a conflict (the
// operator wrote its status meanwhile) is read again and retried, as a
// person using kubectl edit would.
func editClient(t *testing.T, ac *authv1.AuthClient, edit func(*authv1.AuthClient)) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		edit(ac)
		return k8s.Update(context.Background(), ac)
	}); err != nil {
		t.Fatal(err)
	}
}

// events returns the Events about obj with this type and reason.
func events(t testing.TB, obj client.Object, typ, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.UID == obj.GetUID() && e.Reason == reason && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// settledEvents is events once the Events about obj have stopped coming:
// the recorder writes them asynchronously, so a count ("exactly one",
// "none") means something only once the number of Events about obj is the
// same over several polls.
func settledEvents(t testing.TB, obj client.Object, typ, reason string) []eventsv1.Event {
	t.Helper()
	settleEvents(t, obj)
	return events(t, obj, typ, reason)
}

// settleEvents waits until the number of Events about obj is stable,
// counted as occurrences: a repeated identical Event only raises the Series
// count of the first one.
func settleEvents(t testing.TB, obj client.Object) {
	t.Helper()
	settle.Stable(t, "Events about "+obj.GetName(), func() int { return occurrences(eventsAbout(t, obj)) })
}

// occurrences is how many times the Events in list were emitted. client-go's
// events recorder does not write a second Event identical to one it wrote
// shortly before: it raises Series.Count of the first (the deprecated
// DeprecatedCount for Events written through the old API). A check for
// "exactly one" that counted Event objects could not see a duplicate.
func occurrences(list []eventsv1.Event) int {
	n := 0
	for _, e := range list {
		n += timesOf(e)
	}
	return n
}

// timesOf is how many times one Event was emitted (at least once).
func timesOf(e eventsv1.Event) int {
	n := 1
	if e.Series != nil && int(e.Series.Count) > n {
		n = int(e.Series.Count)
	}
	if int(e.DeprecatedCount) > n {
		n = int(e.DeprecatedCount)
	}
	return n
}

// eventsAbout lists every Event about obj.
func eventsAbout(t testing.TB, obj client.Object) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			out = append(out, e)
		}
	}
	return out
}

// kstatusOf computes the kstatus (Flux, Argo CD health) of obj as the API server has it.
func kstatusOf(t testing.TB, obj client.Object) status.Status {
	t.Helper()
	u := &unstructured.Unstructured{}
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		t.Fatal(err)
	}
	u.SetGroupVersionKind(gvk)
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), u); err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func waitKstatus(t testing.TB, obj client.Object, want status.Status) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("kstatus of %s is %s", obj.GetName(), want), func() error {
		if got := kstatusOf(t, obj); got != want {
			return fmt.Errorf("kstatus %s", got)
		}
		return nil
	})
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	assertConditions(t, obj)
}

// Defect 1: the finalizer is added with a patch. A full Update would drop
// `grantTypes: []` (omitempty), a field the user wrote. (An empty list
// means the default grants, authorization_code among them, so it needs a
// redirect URI like an omitted one: issue 21.)
func TestFinalizerPatchKeepsFieldsItDoesNotTouch(t *testing.T) {
	integration(t)
	realmServer(t, "finalizer-server")
	ensureNamespace(t, "team-fin", nil)
	// Created as unstructured: the typed client itself would drop the
	// empty list on the way out, as the old finalizer Update did.
	created := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthClient
metadata: {name: no-grants, namespace: team-fin}
spec:
  authServerRef: {name: finalizer-server, namespace: security}
  redirectUris: ["https://no-grants.example.com/cb"]
  grantTypes: []`), &created.Object); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), created); err != nil {
		t.Fatal(err)
	}
	ac := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "no-grants", Namespace: "team-fin"}}
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(authv1.GroupVersion.WithKind("AuthClient"))
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), u); err != nil {
		t.Fatal(err)
	}
	grants, found, _ := unstructured.NestedSlice(u.Object, "spec", "grantTypes")
	if !found || len(grants) != 0 {
		t.Errorf("spec.grantTypes = %v (found %v), want the empty list the user wrote", grants, found)
	}
	if fin := u.GetFinalizers(); len(fin) != 1 || fin[0] != "auth.nauthera.io/finalizer" {
		t.Errorf("finalizers = %v", fin)
	}
	deleteAndWait(t, ac)
}

// Defect 2 and the kstatus check: Current when Ready, Failed when Stalled
// (also after a spec edit: observedGeneration follows), InProgress while
// waiting or retrying.
func TestKstatusFollowsOutcome(t *testing.T) {
	integration(t)
	realmServer(t, "kstatus-server")
	ensureNamespace(t, "team-ks", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-ks", "app", "kstatus-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	waitKstatus(t, ac, status.CurrentStatus)

	// A spec edit that stalls: a SAML client scope on an OIDC client.
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Scopes = []string{"openid", "profile", "role_list"} })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonInvalidSpec, 30*time.Second)
	if !strings.Contains(cond.Message, `spec.scopes[2] "role_list"`) {
		t.Errorf("the message should name the field: %q", cond.Message)
	}
	if ac.Status.ObservedGeneration != ac.Generation {
		t.Errorf("observedGeneration %d, generation %d: a stalled outcome is known", ac.Status.ObservedGeneration, ac.Generation)
	}
	waitKstatus(t, ac, status.FailedStatus)

	// Waiting for an AuthServer that is still retrying: InProgress.
	down := &authv1.AuthServer{}
	apply(t, `
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: kstatus-down, namespace: security}
spec:
  issuerUrl: "https://down.example.com"
  keycloak:
    url: "http://127.0.0.1:1"
    adminCredentialsSecretRef: {name: nope}`, down)
	t.Cleanup(func() { deleteAndWait(t, down) })
	waitReady(t, down, metav1.ConditionFalse, authv1.ReasonCredentialsNotFound, 30*time.Second)
	waitKstatus(t, down, status.InProgressStatus)
	waiting := &authv1.AuthClient{}
	apply(t, authClient("team-ks", "waiting", "kstatus-down", ""), waiting)
	waitReady(t, waiting, metav1.ConditionFalse, authv1.ReasonAuthServerNotReady, 30*time.Second)
	waitKstatus(t, waiting, status.InProgressStatus)
	deleteAndWait(t, waiting)
	deleteAndWait(t, ac)
}

// Defect 3: an Event's text is never a format string. Also: a successful
// first provisioning emits no Event at all, not one per step: the Ready
// condition says it (issue 25: an Event is one API write per new client).
func TestEventTextWithPercent(t *testing.T) {
	integration(t)
	realmServer(t, "percent-server")
	ensureNamespace(t, "team-pct", nil)
	ensureNamespace(t, "team-pct2", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-pct", "pct", "percent-server", `  clientId: "pct-100%s%d"`), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	settleEvents(t, ac)
	var reasons []string
	for _, e := range eventsAbout(t, ac) {
		for range timesOf(e) {
			reasons = append(reasons, e.Reason)
		}
	}
	if len(reasons) != 0 {
		t.Errorf("Events of one first provisioning: %v, want none", reasons)
	}
	// A second AuthClient asking for the same clientId: the Warning quotes it intact.
	thief := &authv1.AuthClient{}
	apply(t, authClient("team-pct2", "pct", "percent-server", `  clientId: "pct-100%s%d"`), thief)
	note := warningEvent(t, thief, authv1.ReasonClientIDConflict)
	if !strings.Contains(note, `"pct-100%s%d"`) || strings.Contains(note, "MISSING") {
		t.Errorf("Event note %q should quote the clientId as written", note)
	}
	deleteAndWait(t, thief)
	deleteAndWait(t, ac)
}

// Defects 4 and 10: a long Keycloak error still gives an Event (cut below
// the API server's 1 KiB limit) and a bounded condition message; an HTTP
// 500 on a write while Keycloak answers reads is reported as a failed write,
// not as an outage (which would page the platform team), and retried with
// backoff; a value too long for Keycloak is refused before any write.
func TestLongErrorsAndServerErrorsOnWrites(t *testing.T) {
	integration(t)
	realmServer(t, "errors-server")
	ensureNamespace(t, "team-err", nil)
	t.Cleanup(faults.Clear)

	faults.Set("client.create", testbed.Fault{Status: 400, PathContains: "/realms/errors-server/",
		Body: `{"errorMessage":"` + strings.Repeat("Keycloak explains at length. ", 150) + `"}`})
	long := &authv1.AuthClient{}
	apply(t, authClient("team-err", "long-error", "errors-server", ""), long)
	cond := waitReady(t, long, metav1.ConditionFalse, authv1.ReasonKeycloakRejected, 30*time.Second)
	if len(cond.Message) > 2000 || !strings.HasSuffix(cond.Message, "(truncated)") {
		t.Errorf("condition message: %d bytes, ends %q", len(cond.Message), cond.Message[max(0, len(cond.Message)-20):])
	}
	note := warningEvent(t, long, authv1.ReasonKeycloakRejected)
	if len(note) > 1024 || !strings.Contains(note, "Keycloak explains at length") || !strings.HasSuffix(note, "(truncated)") {
		t.Errorf("Event note: %d bytes: %q…", len(note), note[:min(len(note), 80)])
	}
	if kstatusOf(t, long) != status.FailedStatus {
		t.Errorf("a rejected request is a stalled object")
	}
	deleteAndWait(t, long)

	faults.Set("client.create", testbed.Fault{Status: 500, PathContains: "/realms/errors-server/"})
	server := &authv1.AuthClient{}
	apply(t, authClient("team-err", "server-error", "errors-server", ""), server)
	cond = waitReady(t, server, metav1.ConditionFalse, authv1.ReasonKeycloakWriteFailed, 30*time.Second)
	if !strings.Contains(cond.Message, "255 characters") {
		t.Errorf("message should say what may be wrong: %q", cond.Message)
	}
	if n := occurrences(settledEvents(t, server, corev1.EventTypeWarning, authv1.ReasonKeycloakUnavailable)); n != 0 {
		t.Errorf("%d KeycloakUnavailable Warnings for a write Keycloak cannot store while it is up", n)
	}
	faults.Clear()
	waitReady(t, server, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	deleteAndWait(t, server)

	// The real thing, a 256-character redirect URI, never reaches Keycloak:
	// it is refused at admission (and, for a CRD from an older version, by
	// desired.CheckClientLimits before any write; see its unit test).
	uri := "https://app.example.com/" + strings.Repeat("a", 256-len("https://app.example.com/"))
	tooLong := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Name: "too-long", Namespace: "team-err"},
		Spec: authv1.AuthClientSpec{AuthServerRef: authv1.ObjectReference{Name: "errors-server", Namespace: "security"},
			RedirectURIs: []string{"https://ok.example.com/cb", uri}}}
	if err := k8s.Create(context.Background(), tooLong); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.redirectUris[1]") {
		t.Errorf("256-character redirect URI: want refused at admission naming the field, got %v", err)
	}
}

// Defect 5: an outage whose error wording changes (connection refused, then
// HTTP 503) gives one Warning per client, not one per wording.
func TestOutageWarnsOncePerClient(t *testing.T) {
	integration(t)
	realmServer(t, "outage-server")
	ensureNamespace(t, "team-out", nil)
	t.Cleanup(faults.Clear)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-out", "app", "outage-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)

	faults.Set("client.find", testbed.Fault{Err: fmt.Errorf("dial tcp: connection refused (injected)"), PathContains: "/realms/outage-server/"})
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonKeycloakUnavailable, 30*time.Second)
	if !strings.Contains(cond.Message, "connection refused") {
		t.Fatalf("message = %q", cond.Message)
	}
	faults.Set("client.find", testbed.Fault{Status: 503, PathContains: "/realms/outage-server/"})
	eventually(t, 30*time.Second, "condition message follows the new error", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ac.Status.Conditions, authv1.ReadyCondition)
		if c == nil || c.Reason != authv1.ReasonKeycloakUnavailable || !strings.Contains(c.Message, "503") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	if kstatusOf(t, ac) != status.InProgressStatus {
		t.Errorf("an object waiting out an outage is in progress")
	}
	faults.Clear()
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	if n := occurrences(settledEvents(t, ac, corev1.EventTypeWarning, authv1.ReasonKeycloakUnavailable)); n != 1 {
		t.Errorf("%d KeycloakUnavailable Warnings for one outage, want 1", n)
	}
	deleteAndWait(t, ac)
}

// Defect 6: ownership of the Secret is the controller owner reference. A
// Secret the AuthClient owns whose label was removed is taken back with the
// same credentials; a Secret that merely carries the label is never
// overwritten, and no Keycloak client is created while its name is taken.
func TestSecretOwnershipIsTheOwnerReference(t *testing.T) {
	integration(t)
	realmServer(t, "owner-server")
	ensureNamespace(t, "team-own", nil)
	ctx := context.Background()
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-own", "app", "owner-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	s := secretOf(t, "team-own", "app-client-secret")
	creds := string(s.Data["client_secret"])
	delete(s.Labels, "app.kubernetes.io/managed-by")
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "label restored", func() error {
		s := secretOf(t, "team-own", "app-client-secret")
		if s.Labels["app.kubernetes.io/managed-by"] != "nauthera" {
			return fmt.Errorf("labels %v", s.Labels)
		}
		if string(s.Data["client_secret"]) != creds {
			return fmt.Errorf("credentials changed")
		}
		return nil
	})
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)

	// Someone else's Secret with our label.
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "squat-client-secret", Namespace: "team-own",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "nauthera"}},
		StringData: map[string]string{"client_secret": "theirs"},
	}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	squat := &authv1.AuthClient{}
	apply(t, authClient("team-own", "squat", "owner-server", ""), squat)
	cond := waitReady(t, squat, metav1.ConditionFalse, authv1.ReasonSecretConflict, 30*time.Second)
	if !strings.Contains(cond.Message, "team-own/squat-client-secret") {
		t.Errorf("message = %q", cond.Message)
	}
	warningEvent(t, squat, authv1.ReasonSecretConflict)
	got := secretOf(t, "team-own", "squat-client-secret")
	if string(got.Data["client_secret"]) != "theirs" || len(got.OwnerReferences) != 0 {
		t.Errorf("the foreign Secret was changed: %v, owners %v", got.Data, got.OwnerReferences)
	}
	if keycloakClient(t, "owner-server", "team-own.squat") != nil {
		t.Error("a Keycloak client was created although its Secret cannot be written")
	}
	deleteAndWait(t, squat)

	// A Secret controlled by an earlier AuthClient of the same name (or by
	// anyone who wrote such a reference) is replaced, not patched: nothing
	// its creator put on it carries over.
	forged := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "heir-client-secret", Namespace: "team-own",
			Annotations: map[string]string{"replicator.example.com/copy-to": "elsewhere"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "auth.nauthera.io/v1alpha1", Kind: "AuthClient",
				Name: "heir", UID: "00000000-0000-0000-0000-000000000000", Controller: ptr.To(true)}}},
		StringData: map[string]string{"client_secret": "stale"},
	}
	if err := k8s.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}
	heir := &authv1.AuthClient{}
	apply(t, authClient("team-own", "heir", "owner-server", ""), heir)
	waitReady(t, heir, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	got = secretOf(t, "team-own", "heir-client-secret")
	if len(got.OwnerReferences) != 1 || !metav1.IsControlledBy(got, heir) || got.Annotations["replicator.example.com/copy-to"] != "" || string(got.Data["client_secret"]) == "stale" {
		t.Errorf("the predecessor's Secret should be replaced: owners %v, annotations %v", got.OwnerReferences, got.Annotations)
	}
	deleteAndWait(t, heir)
	deleteAndWait(t, ac)
}

// Defect 8: a change Keycloak accepts (2xx) without applying it is a
// permanent failure, not drift: it is not written again on every resync and
// raises no DriftReverted Warnings. That holds for a change list longer
// than a condition message holds (it is truncated): the guard compares a
// fingerprint of the change set, not the truncated message.
func TestChangeKeycloakIgnoresIsNotDrift(t *testing.T) {
	integration(t)
	realmServer(t, "sticky-server")
	ensureNamespace(t, "team-stk", nil)
	t.Cleanup(faults.Clear)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-stk", "app", "sticky-server", `  scopes: [openid, profile]`), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)

	// Keycloak answers 204 to the scope assignments and does nothing (as it
	// does for a SAML scope on an OIDC client).
	faults.Set("client.scopes.default.add", testbed.Fault{Status: 204, PathContains: "/realms/sticky-server/"})
	scopes := []string{"openid", "profile"}
	for i := range 40 {
		scopes = append(scopes, fmt.Sprintf("api:a-scope-with-a-name-long-enough-to-fill-the-message-%02d", i))
	}
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Scopes = scopes })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonChangeNotApplied, 60*time.Second)
	if !strings.Contains(cond.Message, "add default api:a-scope-with-a-name-long-enough-to-fill-the-message-00") || len(cond.Message) < reconciler.MaxConditionMessage-100 {
		t.Errorf("message should name the changes, and the test needs one that is truncated: %d bytes %q", len(cond.Message), cond.Message)
	}
	realmWrites := func() int { return faults.Requests("/realms/sticky-server/", "POST", "PUT", "DELETE") }
	// Three more reconciles (resyncs) that end ChangeNotApplied, counted by
	// the outcome metric, before anything is compared.
	stuck := func() float64 {
		return reconciler.OutcomeCount("AuthClient", reconciler.OutcomeStalled, authv1.ReasonChangeNotApplied)
	}
	writes, version, start := realmWrites(), ac.ResourceVersion, stuck()
	settle.Advanced(t, 20*resync, "ChangeNotApplied reconciles of the stuck client", start, 3, stuck)
	if n := realmWrites() - writes; n != 0 {
		t.Errorf("%d Keycloak writes in three resyncs of a change that does not stick, want 0", n)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatal(err)
	}
	if ac.ResourceVersion != version {
		t.Errorf("the AuthClient was written during steady resyncs (resourceVersion %s -> %s)", version, ac.ResourceVersion)
	}
	if n := occurrences(settledEvents(t, ac, corev1.EventTypeWarning, authv1.ReasonDriftReverted)); n != 0 {
		t.Errorf("%d DriftReverted Warnings, want 0", n)
	}
	if n := occurrences(settledEvents(t, ac, corev1.EventTypeWarning, authv1.ReasonChangeNotApplied)); n != 1 {
		t.Errorf("%d ChangeNotApplied Warnings, want 1", n)
	}
	// The next spec change is tried again.
	faults.Clear()
	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.Scopes = []string{"openid", "email"} })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	deleteAndWait(t, ac)
}

// Defect 9: a client deleted in the console is recreated with new
// credentials, and a Warning says workloads must pick up the new Secret.
func TestRecreatedClientWarnsCredentialsChanged(t *testing.T) {
	integration(t)
	realmServer(t, "recreate-server")
	ensureNamespace(t, "team-rec", nil)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-rec", "app", "recreate-server", ""), ac)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	old := string(secretOf(t, "team-rec", "app-client-secret").Data["client_secret"])
	gc, tok := console(t)
	cl := keycloakClient(t, "recreate-server", "team-rec.app")
	if err := gc.DeleteClient(context.Background(), tok, "recreate-server", gocloak.PString(cl.ID)); err != nil {
		t.Fatal(err)
	}
	note := warningEvent(t, ac, authv1.ReasonCredentialsChanged)
	if !strings.Contains(note, "recreated") || !strings.Contains(note, "restarted") {
		t.Errorf("note = %q", note)
	}
	if got := string(secretOf(t, "team-rec", "app-client-secret").Data["client_secret"]); got == old || got == "" {
		t.Error("the Secret should hold the recreated client's new secret")
	}
	deleteAndWait(t, ac)
}
