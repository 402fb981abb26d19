package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/admission"
)

// Issue 21, item 5: the admission webhook and the reconciler agree on every
// policy rule. Each row runs the webhook's validator (internal/admission)
// twice, once reading the AuthServer as a synced cache would and once as a
// cache that has not seen the AuthServer yet, and then the real reconciler
// on the same AuthClient (no webhook in front of it here); all three must
// give the same verdict, naming the same field.
//
// The AuthServer selects with `policySelector: {}`, and its policies carry
// no labels: an empty selector selects every AuthPolicy of the AuthServer's
// namespace (the Kubernetes convention), in the webhook and the reconciler.

// laggingCache reads the API server like the manager's cache, except that
// it has not seen any AuthServer yet: a real client with Get of AuthServers
// answering NotFound, the way a cache answers right after the AuthServer
// was created in the same sync as its clients.
func laggingCache(t *testing.T) client.Reader {
	t.Helper()
	return interceptor.NewClient(k8sWithWatch(t), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*authv1.AuthServer); ok {
				return apierrors.NewNotFound(schema.GroupResource{Group: authv1.GroupVersion.Group, Resource: "authservers"}, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
}

// setPolicy creates or replaces the spec of the AuthPolicy name in ns and
// waits until the operator's cache holds that generation (the AuthPolicy
// reconciler, which reads from the same cache as the AuthClient
// reconciler, reported it).
func setPolicy(t *testing.T, ns, name, spec string) {
	t.Helper()
	ctx := context.Background()
	p := &authv1.AuthPolicy{}
	if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf("apiVersion: auth.nauthera.io/v1alpha1\nkind: AuthPolicy\nmetadata: {name: %s, namespace: %s}\nspec:\n%s", name, ns, spec)), p); err != nil {
		t.Fatal(err)
	}
	cur := &authv1.AuthPolicy{}
	switch err := k8s.Get(ctx, client.ObjectKeyFromObject(p), cur); {
	case apierrors.IsNotFound(err):
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	case err != nil:
		t.Fatal(err)
	default:
		cur.Spec = p.Spec
		if err := k8s.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		p = cur
	}
	eventually(t, 30*time.Second, "AuthPolicy "+name+" seen by the operator", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", p.Status.ObservedGeneration, p.Generation)
		}
		return nil
	})
}

// webhookVerdict is what the webhook said: "" for admitted, else its error.
func webhookVerdict(t *testing.T, v *admission.AuthClientValidator, ac *authv1.AuthClient) string {
	t.Helper()
	warnings, err := v.ValidateCreate(context.Background(), ac.DeepCopy())
	if err == nil {
		// A warning that the AuthServer is unknown means the webhook did not judge.
		for _, w := range warnings {
			if strings.Contains(w, "does not exist") || strings.Contains(w, "could not be") {
				t.Errorf("the webhook did not judge: %s", w)
			}
		}
		return ""
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("webhook: want Invalid or nil, got %v", err)
	}
	return err.Error()
}

func TestWebhookAndReconcilerAgreeOnEveryPolicyRule(t *testing.T) {
	integration(t)
	theOperator(t)
	const ns, clientNS = "policy-agree", "team-agree"
	ensureNamespace(t, ns, nil)
	ensureNamespace(t, clientNS, nil)
	as := &authv1.AuthServer{}
	apply(t, fmt.Sprintf(`
apiVersion: auth.nauthera.io/v1alpha1
kind: AuthServer
metadata: {name: policy-agree, namespace: %s}
spec:
  issuerUrl: "https://policy-agree.example.com"
  deletionPolicy: Delete
  serviceAccountAuthentication: {}
  policySelector: {}`, ns), as)
	t.Cleanup(func() { deleteAndWait(t, as) })
	waitReady(t, as, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, 60*time.Second)
	realm := as.Status.RealmName

	synced := &admission.AuthClientValidator{Reader: k8s}
	lagging := &admission.AuthClientValidator{Reader: laggingCache(t), APIReader: k8s}

	for i, row := range []struct {
		name   string
		policy string // the spec of AuthPolicy "rule"
		extra  string // added to the AuthClient's spec
		// field is the field both name; "" for a compliant client.
		field string
		// reason is the reconciler's Ready=False reason.
		reason string
		// created: the Keycloak client exists (brought into line); false
		// for rules about how the client authenticates.
		created bool
		// policy2 is the spec of a second AuthPolicy "rule-2", if any.
		policy2 string
	}{
		{"compliant", "  allowedScopes: [openid, profile]", "  scopes: [openid]", "", "", true, ""},
		{"forbidden scope", "  allowedScopes: [openid, profile]", `  scopes: [openid, "api:admin"]`, "spec.scopes[1]", authv1.ReasonPolicyViolation, true, ""},
		{"forbidden grant", "  allowedGrantTypes: [authorization_code, refresh_token]", "  grantTypes: [authorization_code, client_credentials]", "spec.grantTypes[1]", authv1.ReasonPolicyViolation, true, ""},
		{"grant types omitted, no default allowed", "  allowedGrantTypes: [client_credentials]", "", "spec.grantTypes", authv1.ReasonPolicyViolation, true, ""},
		{"Public where a client secret is required", "  clientAuthentication: {method: client_secret_basic}", "  clientType: Public", "spec.clientType", authv1.ReasonPolicyViolation, false, ""},
		{"Public where client_secret_jwt is required", "  clientAuthentication: {method: client_secret_jwt}", "  clientType: Public", "spec.clientType", authv1.ReasonPolicyViolation, false, ""},
		{"a secret where service_account_token is required", "  clientAuthentication: {method: service_account_token}", "", "spec.serviceAccount", authv1.ReasonPolicyViolation, false, ""},
		{"Public where service_account_token is required", "  clientAuthentication: {method: service_account_token}", "  clientType: Public", "spec.clientType", authv1.ReasonPolicyViolation, false, ""},
		{"a secret where private_key_jwt is required", "  clientAuthentication: {method: private_key_jwt}", "", "spec.clientType", authv1.ReasonPolicyViolation, false, ""},
		{"the method a policy requires", "  clientAuthentication: {method: client_secret_jwt}", "", "", "", true, ""},
		{"a role grant across namespaces where the policy forbids it", "  roleGrants: {acrossNamespaces: Forbidden}", "  grantTypes: [client_credentials]\n  roleGrants:\n  - client: {name: orders, namespace: elsewhere}\n    roles: [\"orders:write\"]", "spec.roleGrants[0].client", authv1.ReasonPolicyViolation, true, ""},
		{"a claim reaching a token the policy does not allow", "  claims: {allowedTokens: [IDToken]}", "  claims:\n  - {name: tier, type: HardCoded, tokens: [AccessToken], hardCoded: {value: gold}}", "spec.claims[0].tokens[0]", authv1.ReasonPolicyViolation, true, ""},
		// Each allows a default grant type, not the same one: together none.
		{"grant types omitted, no default allowed by two policies together", "  allowedGrantTypes: [authorization_code, client_credentials]", "", "spec.grantTypes", authv1.ReasonPolicyViolation, true,
			"  allowedGrantTypes: [refresh_token, client_credentials]"},
		{"a secretless client where a client secret is required", "  clientAuthentication: {method: client_secret_basic}", "  grantTypes: [client_credentials]\n  serviceAccount: {name: app}", "spec.serviceAccount", authv1.ReasonPolicyViolation, false, ""},
		{"one policy's method and another's scopes", "  clientAuthentication: {method: client_secret_basic}", "  clientType: Public\n  scopes: [openid, profile]", "spec.clientType", authv1.ReasonPolicyViolation, false,
			"  allowedScopes: [openid]"},
	} {
		t.Run(row.name, func(t *testing.T) {
			setPolicy(t, ns, "rule", row.policy)
			if row.policy2 != "" {
				setPolicy(t, ns, "rule-2", row.policy2)
			}
			ac := &authv1.AuthClient{}
			if err := yaml.UnmarshalStrict([]byte(authClient(clientNS, fmt.Sprintf("c%d", i), "policy-agree", row.extra)), ac); err != nil {
				t.Fatal(err)
			}
			ac.Spec.AuthServerRef.Namespace = ns
			got, gotLagging := webhookVerdict(t, synced, ac), webhookVerdict(t, lagging, ac)
			if got != gotLagging {
				t.Errorf("the webhook judges differently before its cache has the AuthServer:\nsynced:  %q\nlagging: %q", got, gotLagging)
			}
			if (got == "") != (row.field == "") || (row.field != "" && !strings.Contains(got, row.field)) {
				t.Errorf("webhook verdict %q, want the field %q named", got, row.field)
			}
			if err := k8s.Create(context.Background(), ac); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteAndWait(t, ac) })
			if row.field == "" {
				waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
				return
			}
			cond := waitReady(t, ac, metav1.ConditionFalse, row.reason, 30*time.Second)
			if !strings.Contains(cond.Message, row.field) || !strings.Contains(cond.Message, ns+"/rule") {
				t.Errorf("reconciler message %q does not name %s and the policy", cond.Message, row.field)
			}
			kcClient := keycloakClient(t, realm, ac.EffectiveClientID())
			switch {
			case row.created && kcClient == nil:
				t.Error("the Keycloak client was not created, though the rule broken is brought into line")
			case row.created && !strings.Contains(cond.Message, "switched off") && !strings.Contains(cond.Message, "are not given") && !strings.Contains(cond.Message, "kept out of its tokens"):
				t.Errorf("message %q does not say what was brought into line", cond.Message)
			case !row.created && kcClient != nil:
				t.Errorf("a Keycloak client (public %v) was created with an authentication method the policy forbids", gocloak.PBool(kcClient.PublicClient))
			case !row.created && (!strings.Contains(cond.Message, "not created") || strings.Contains(cond.Message, "brought into line")):
				t.Errorf("message %q: want it to say the client is not created, and nothing brought into line", cond.Message)
			}
		})
	}

	// Two policies that contradict each other: the webhook refuses every
	// client, the reconciler reports the conflict and creates nothing.
	t.Run("policies that contradict each other", func(t *testing.T) {
		setPolicy(t, ns, "rule", "  clientAuthentication: {method: client_secret_basic}")
		setPolicy(t, ns, "rule-2", "  clientAuthentication: {method: client_secret_jwt}")
		ac := &authv1.AuthClient{}
		if err := yaml.UnmarshalStrict([]byte(authClient(clientNS, "conflicted", "policy-agree", "")), ac); err != nil {
			t.Fatal(err)
		}
		ac.Spec.AuthServerRef.Namespace = ns
		for _, v := range []*admission.AuthClientValidator{synced, lagging} {
			if got := webhookVerdict(t, v, ac); !strings.Contains(got, "spec.authServerRef") || !strings.Contains(got, "contradict") {
				t.Errorf("webhook verdict %q, want the conflict on spec.authServerRef", got)
			}
		}
		if err := k8s.Create(context.Background(), ac); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, ac) })
		waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonPolicyConflict, 30*time.Second)
		if keycloakClient(t, realm, ac.EffectiveClientID()) != nil {
			t.Error("a Keycloak client was created under contradicting policies")
		}
	})
}

// A Public client provisioned before a policy that requires a client
// secret stays public (its users keep signing in), and its condition says
// so: never that it was brought into line.
func TestPublicClientUnderSecretPolicyIsNotCalledInLine(t *testing.T) {
	integration(t)
	as := policyServer(t, "public-later")
	ensureNamespace(t, "team-public", nil)
	spa := &authv1.AuthClient{}
	apply(t, authClient("team-public", "spa", "public-later", "  clientType: Public"), spa)
	t.Cleanup(func() { deleteAndWait(t, spa) })
	waitReady(t, spa, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	applyPolicy(t, "security", "secrets-required", "public-later", "  clientAuthentication: {method: client_secret_basic}\n  allowedScopes: [openid]")
	cond := waitReady(t, spa, metav1.ConditionFalse, authv1.ReasonPolicyViolation, 30*time.Second)
	for _, want := range []string{`spec.clientType "Public"`, "security/secrets-required", "not brought into line", "stays a public client"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if strings.Contains(cond.Message, "was brought into line") {
		t.Errorf("message %q claims the client was brought into line", cond.Message)
	}
	if cl := keycloakClient(t, as.Status.RealmName, spa.EffectiveClientID()); cl == nil || !gocloak.PBool(cl.PublicClient) {
		t.Errorf("the existing public client must be kept as it is: %+v", cl)
	}
}

// A provisioned client whose spec is edited to a method its policies forbid
// (the webhook bypassed, as here) is not switched: Keycloak and the Secret
// keep what works, and the condition says why. Deleted in the console, it
// is not created again with the forbidden method.
func TestExistingClientIsNotSwitchedToAForbiddenMethod(t *testing.T) {
	integration(t)
	as := policyServer(t, "no-switch")
	ensureNamespace(t, "team-no-switch", nil)
	applyPolicy(t, "security", "no-switch-secrets", "no-switch", "  clientAuthentication: {method: client_secret_basic}")
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-no-switch", "web", "no-switch", ""), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	realm := as.Status.RealmName
	secret := string(secretOf(t, "team-no-switch", "web-client-secret").Data["client_secret"])

	editClient(t, ac, func(ac *authv1.AuthClient) { ac.Spec.ClientType = authv1.ClientTypePublic })
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAuthenticationNotChanged, 30*time.Second)
	for _, want := range []string{`spec.clientType "Public"`, "security/no-switch-secrets", "keeps authenticating as it does (client-secret)", "not switched to public", "the spec asks for another kind of client", "the Secret is left as it is"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	cl := keycloakClient(t, realm, ac.EffectiveClientID())
	if cl == nil || gocloak.PBool(cl.PublicClient) {
		t.Fatalf("the Keycloak client was switched to public: %+v", cl)
	}
	if got := string(secretOf(t, "team-no-switch", "web-client-secret").Data["client_secret"]); got != secret {
		t.Error("the Secret lost or changed its client secret")
	}

	gc, tok := console(t)
	if err := gc.DeleteClient(context.Background(), tok, realm, gocloak.PString(cl.ID)); err != nil {
		t.Fatal(err)
	}
	// The resync notices; the condition says the client is not created again.
	eventually(t, 30*time.Second, "the deleted client reported, not recreated", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		for _, c := range ac.Status.Conditions {
			if c.Type == "Ready" && strings.Contains(c.Message, "is gone and is not created again") {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", ac.Status.Conditions)
	})
	if cl := keycloakClient(t, realm, ac.EffectiveClientID()); cl != nil {
		t.Errorf("the client was created again, public %v", gocloak.PBool(cl.PublicClient))
	}
}

// A policy that moves from client_secret_jwt to private_key_jwt (which an
// AuthClient cannot use) does not freeze its existing clients: the client
// keeps client-secret-jwt, its secret still rotates (and the Secret
// follows), a scope the policy now forbids is still removed, and the
// condition blames the policy's method, not the spec; a Warning Event
// says so once.
func TestPolicyMethodChangeKeepsTheClientRotatingAndInLine(t *testing.T) {
	integration(t)
	as := policyServer(t, "method-move")
	realm := as.Status.RealmName
	ensureNamespace(t, "team-method-move", nil)
	const rotation = `    secretRotation: {enabled: true, schedule: "@every 20s", gracePeriod: 10s}`
	p := applyPolicy(t, "security", "method-move", "method-move", "  clientAuthentication:\n    method: client_secret_jwt\n"+rotation)
	ac := &authv1.AuthClient{}
	apply(t, authClient("team-method-move", "worker", "method-move", "  grantTypes: [client_credentials]\n  scopes: [profile, email]"), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
	clientID := ac.EffectiveClientID()
	if a := gocloak.PString(keycloakClient(t, realm, clientID).ClientAuthenticatorType); a != "client-secret-jwt" {
		t.Fatalf("authenticator %q", a)
	}

	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	p.Spec.AllowedScopes = []string{"profile"}
	p.Spec.ClientAuthentication.Method = authv1.ClientAuthPrivateKey
	if err := k8s.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	cond := waitReady(t, ac, metav1.ConditionFalse, authv1.ReasonAuthenticationNotChanged, 30*time.Second)
	for _, want := range []string{"security/method-move", "private_key_jwt", "the spec is not what differs", "keeps authenticating as it does (client-secret-jwt)", "not switched to client-secret", "secret rotation and the Secret are still kept in line"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	eventually(t, 30*time.Second, "the forbidden scope removed, the method kept", func() error {
		cl := keycloakClient(t, realm, clientID)
		if a := gocloak.PString(cl.ClientAuthenticatorType); a != "client-secret-jwt" {
			t.Fatalf("the client was switched to %q", a)
		}
		if slices.Contains(cl.DefaultClientScopes, "email") || slices.Contains(cl.OptionalClientScopes, "email") {
			return fmt.Errorf("scopes %v %v", cl.DefaultClientScopes, cl.OptionalClientScopes)
		}
		return nil
	})
	s0 := currentSecret(t, "team-method-move", "worker")
	s1 := waitNewSecret(t, "team-method-move", "worker", s0, "a scheduled rotation under the violation", 60*time.Second)
	if got := currentKeycloakSecret(t, realm, clientID); got != s1 {
		t.Error("the Secret does not hold Keycloak's current secret")
	}
	if ev := settledEvents(t, ac, corev1.EventTypeWarning, authv1.ReasonAuthenticationNotChanged); len(ev) == 0 {
		t.Error("no Warning Event for AuthenticationNotChanged")
	}
}
