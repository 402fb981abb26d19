package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/reconciler"
	"github.com/nauthera/nauthera/internal/testbed"
	"github.com/nauthera/nauthera/internal/testbed/settle"
)

// Secretless clients (issue 15): workloads authenticate with a
// service-account token that the test API server issues (TokenRequest),
// Keycloak checks it against the API server's issuer (over TLS, with the
// API server's CA in its truststore), and no secret exists anywhere.

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// saToken asks the API server for a token of ServiceAccount ns/name with
// these audiences, as the kubelet does for a projected volume.
func saToken(t *testing.T, ns, name string, audiences ...string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// tokenAnswer is Keycloak's answer at the token endpoint.
type tokenAnswer struct {
	code        int
	AccessToken string `json:"access_token"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (a tokenAnswer) String() string {
	return fmt.Sprintf("HTTP %d %s: %s", a.code, a.Error, a.Description)
}

// postToken sends a client-credentials request to the token endpoint, as a
// workload would, with these form values.
func postToken(t *testing.T, tokenURL string, form url.Values) tokenAnswer {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	resp, err := http.PostForm(tokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := tokenAnswer{code: resp.StatusCode}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("token endpoint answered HTTP %d, not JSON: %s", resp.StatusCode, b)
	}
	return out
}

// assertionToken requests a token for clientID with a service-account token as client assertion.
func assertionToken(t *testing.T, tokenURL, clientID, assertion string) tokenAnswer {
	t.Helper()
	return postToken(t, tokenURL, url.Values{"client_id": {clientID}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}})
}

func serviceAccount(t *testing.T, ns, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// waitIssuer waits for the AuthServer's ServiceAccountIssuerReady condition.
func waitIssuer(t *testing.T, as *authv1.AuthServer, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	eventually(t, 60*time.Second, fmt.Sprintf("AuthServer %s %s=%s/%s", as.Name, authv1.ServiceAccountIssuerCondition, status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(as), as); err != nil {
			return err
		}
		cond = meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition)
		if cond == nil || cond.Status != status || cond.Reason != reason || cond.ObservedGeneration != as.Generation {
			return fmt.Errorf("condition is %+v", cond)
		}
		return nil
	})
	assertConditions(t, as)
	return cond
}

func identityProvider(t *testing.T, realm string) (*gocloak.IdentityProviderRepresentation, error) {
	t.Helper()
	gc, tok := console(t)
	return gc.GetIdentityProvider(context.Background(), tok, realm, "nauthera-kubernetes")
}

// refusedBeforeKeycloak waits for ac to be refused with reason, its message
// naming each of parts, and checks that no Keycloak client was created for it.
func refusedBeforeKeycloak(t *testing.T, realm string, ac *authv1.AuthClient, reason string, parts ...string) {
	t.Helper()
	cond := waitReady(t, ac, metav1.ConditionFalse, reason, 30*time.Second)
	for _, p := range parts {
		if !strings.Contains(cond.Message, p) {
			t.Errorf("%s message %q does not say %q", reason, cond.Message, p)
		}
	}
	if keycloakClient(t, realm, ac.EffectiveClientID()) != nil {
		t.Errorf("a Keycloak client was created for AuthClient %s, refused with %s", ac.Name, reason)
	}
}

func TestSecretlessClient(t *testing.T) {
	integration(t)
	ctx := context.Background()
	as := serverWith(t, "sa-server", "  serviceAccountAuthentication: {}\n  policySelector:\n    matchLabels: {tier: sa-server}")
	cond := waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	realm := as.Status.RealmName
	st := as.Status.ServiceAccountAuthentication
	// The issuer was read from the API server itself (none in the spec).
	if st == nil || st.Issuer != saIssuer.URL || st.IdentityProvider != "nauthera-kubernetes" || st.TokenAudience != as.Status.Issuer || st.MaxTokenAgeSeconds != 3600 {
		t.Fatalf("status.serviceAccountAuthentication %+v, want issuer %s and audience %s", st, saIssuer.URL, as.Status.Issuer)
	}
	if !strings.Contains(cond.Message, "/openid/v1/jwks") {
		t.Errorf("the condition does not say Keycloak fetched the keys: %s", cond.Message)
	}
	idp, err := identityProvider(t, realm)
	if err != nil {
		t.Fatal(err)
	}
	if gocloak.PString(idp.ProviderID) != "kubernetes" || idp.Config["issuer"] != saIssuer.URL || idp.Config["nauthera.io/owner"] != "security/sa-server" || !gocloak.PBool(idp.Enabled) {
		t.Errorf("identity provider %+v %v", idp, idp.Config)
	}

	for _, ns := range []string{"team-sa", "team-sb"} {
		ensureNamespace(t, ns, nil)
		serviceAccount(t, ns, "app")
	}
	serviceAccount(t, "team-sa", "other")

	ac := &authv1.AuthClient{}
	apply(t, authClient("team-sa", "app", "sa-server", worker+"\n  serviceAccount: {name: app}"), ac)
	t.Cleanup(func() { deleteAndWait(t, ac) })
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	if ac.Status.ServiceAccount != "system:serviceaccount:team-sa:app" {
		t.Errorf("status.serviceAccount %q", ac.Status.ServiceAccount)
	}
	clientID := ac.Status.ClientID
	s := secretOf(t, "team-sa", "app-client-secret")
	if _, ok := s.Data["client_secret"]; ok {
		t.Error("the Secret of a secretless client holds a client_secret")
	}
	audience := string(s.Data["token_audience"])
	if audience != as.Status.Issuer || string(s.Data["client_id"]) != clientID {
		t.Errorf("Secret: token_audience %q (want the realm's issuer %q), client_id %q", audience, as.Status.Issuer, s.Data["client_id"])
	}
	kcc := keycloakClient(t, realm, clientID)
	if gocloak.PString(kcc.ClientAuthenticatorType) != "federated-jwt" || kcc.Attributes["jwt.credential.issuer"] != "nauthera-kubernetes" ||
		kcc.Attributes["jwt.credential.sub"] != "system:serviceaccount:team-sa:app" || !gocloak.PBool(kcc.ServiceAccountsEnabled) {
		t.Errorf("Keycloak client: authenticator %q, attributes %v", gocloak.PString(kcc.ClientAuthenticatorType), kcc.Attributes)
	}
	if want := as.Status.Issuer + "/protocol/openid-connect/token"; string(s.Data["token_url"]) != want {
		t.Errorf("token_url %q, want %q", s.Data["token_url"], want)
	}
	// The realm's public URL (its issuerUrl) does not resolve here: the
	// token endpoint is reached at Keycloak's own address.
	tokenURL := kc.URL + "/realms/" + realm + "/protocol/openid-connect/token"

	t.Run("the ServiceAccount's token authenticates the client", func(t *testing.T) {
		got := assertionToken(t, tokenURL, clientID, saToken(t, "team-sa", "app", audience))
		if got.code != http.StatusOK || got.AccessToken == "" {
			t.Fatalf("token request with the service-account token: %s", got)
		}
		var claims struct {
			Azp string `json:"azp"`
		}
		claimsOf(t, got.AccessToken, &claims)
		if claims.Azp != clientID {
			t.Errorf("access token azp %q, want %q", claims.Azp, clientID)
		}
	})

	t.Run("other tokens and secrets are refused", func(t *testing.T) {
		for _, c := range []struct {
			name      string
			assertion string
			want      int
		}{
			{"another ServiceAccount of the namespace", saToken(t, "team-sa", "other", audience), http.StatusUnauthorized},
			{"the same ServiceAccount name in another namespace", saToken(t, "team-sb", "app", audience), http.StatusUnauthorized},
			{"the wrong audience", saToken(t, "team-sa", "app", "https://wrong.example.com"), http.StatusBadRequest},
			{"a second audience", saToken(t, "team-sa", "app", audience, "https://other.example.com"), http.StatusBadRequest},
		} {
			if got := assertionToken(t, tokenURL, clientID, c.assertion); got.code != c.want || got.AccessToken != "" {
				t.Errorf("%s: %s, want HTTP %d and no token", c.name, got, c.want)
			}
		}
		// Keycloak keeps a secret for every confidential client; it is
		// never written to the Secret, and it does not authenticate one.
		secret := keycloakSecret(t, realm, gocloak.PString(kcc.ID))
		if secret == "" {
			t.Fatal("Keycloak has no secret for the client: this check would prove nothing")
		}
		if got := postToken(t, tokenURL, url.Values{"client_id": {clientID}, "client_secret": {secret}}); got.code != http.StatusUnauthorized {
			t.Errorf("the client's Keycloak secret: %s, want HTTP 401", got)
		}
	})

	t.Run("a restarted operator writes nothing", func(t *testing.T) {
		op := restartOperator(t)
		// The first reconciles and two resyncs: the realm's identity
		// provider and the client are read, the issuer is not checked
		// again (Keycloak's fetch is a POST), nothing is written.
		eventually(t, 30*time.Second, "three reads of the identity provider and the client", func() error {
			if n, m := op.calls("identityprovider.get"), op.calls("client.find"); n < 3 || m < 3 {
				return fmt.Errorf("%d identity provider reads, %d client reads", n, m)
			}
			return nil
		})
		if n := op.writes(); n != 0 {
			t.Errorf("%d Keycloak writes, want 0", n)
		}
		if n := op.calls("identityprovider.fetchconfig"); n != 0 {
			t.Errorf("the issuer was checked %d times though nothing changed", n)
		}
		waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, time.Second)
	})

	t.Run("the default ServiceAccount is refused", func(t *testing.T) {
		dflt := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "as-default", "sa-server", worker+"\n  serviceAccount: {name: default}"), dflt)
		t.Cleanup(func() { deleteAndWait(t, dflt) })
		refusedBeforeKeycloak(t, realm, dflt, authv1.ReasonServiceAccountNotAllowed, "allowDefaultServiceAccount")
		warningEvent(t, dflt, authv1.ReasonServiceAccountNotAllowed)
	})

	t.Run("a ServiceAccount that does not exist yet", func(t *testing.T) {
		ghost := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "ghost", "sa-server", worker+"\n  serviceAccount: {name: ghost}"), ghost)
		t.Cleanup(func() { deleteAndWait(t, ghost) })
		cond := waitReady(t, ghost, metav1.ConditionFalse, authv1.ReasonServiceAccountNotFound, 30*time.Second)
		if !strings.Contains(cond.Message, "team-sa/ghost does not exist") {
			t.Errorf("message %q", cond.Message)
		}
		warningEvent(t, ghost, authv1.ReasonServiceAccountNotFound)
		// Provisioned meanwhile: the ServiceAccount applied later works at once.
		secretOf(t, "team-sa", "ghost-client-secret")
		serviceAccount(t, "team-sa", "ghost")
		waitReady(t, ghost, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		if got := assertionToken(t, tokenURL, ghost.Status.ClientID, saToken(t, "team-sa", "ghost", audience)); got.code != http.StatusOK {
			t.Errorf("token request: %s", got)
		}
	})

	t.Run("an AuthPolicy requiring secretless authentication", func(t *testing.T) {
		p := applyPolicy(t, "security", "secretless-only", "sa-server", "  clientAuthentication: {method: service_account_token}")
		withSecret := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "with-secret", "sa-server", worker), withSecret)
		t.Cleanup(func() { deleteAndWait(t, withSecret) })
		// Never provisioned: no client with a secret the policy excludes.
		refusedBeforeKeycloak(t, realm, withSecret, authv1.ReasonPolicyViolation, "AuthPolicy security/secretless-only requires service_account_token", "not created")
		// The secretless client is governed by it, and complies.
		eventually(t, 30*time.Second, "the secretless client governed by the policy", func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
				return err
			}
			if len(ac.Status.Policies) != 1 || ac.Status.Policies[0] != "security/secretless-only" {
				return fmt.Errorf("status.policies %v", ac.Status.Policies)
			}
			return nil
		})
		waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 10*time.Second)
		deleteAndWait(t, p)
	})

	t.Run("console edits of the identity provider are reverted", func(t *testing.T) {
		gc, tok := console(t)
		idp, err := identityProvider(t, realm)
		if err != nil {
			t.Fatal(err)
		}
		idp.Config["issuer"] = "https://attacker.example.com"
		if err := gc.UpdateIdentityProvider(ctx, tok, realm, "nauthera-kubernetes", *idp); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the issuer restored", func() error {
			idp, err := identityProvider(t, realm)
			if err != nil {
				return err
			}
			if idp.Config["issuer"] != saIssuer.URL {
				return fmt.Errorf("issuer %q", idp.Config["issuer"])
			}
			return nil
		})
		if note := warningEvent(t, as, authv1.ReasonDriftReverted); !strings.Contains(note, "config.issuer") {
			t.Errorf("DriftReverted %q does not name the field", note)
		}
		if got := assertionToken(t, tokenURL, clientID, saToken(t, "team-sa", "app", audience)); got.code != http.StatusOK {
			t.Errorf("token request after the drift was reverted: %s", got)
		}
	})

	t.Run("maxTokenAge reaches Keycloak", func(t *testing.T) {
		drifts := occurrences(events(t, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted))
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		as.Spec.ServiceAccountAuthentication.MaxTokenAge = &metav1.Duration{Duration: 10 * time.Minute}
		if err := k8s.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
		waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
		eventually(t, 30*time.Second, "fedClientAssertionMaxExp 600", func() error {
			idp, err := identityProvider(t, realm)
			if err != nil {
				return err
			}
			if got := idp.Config["fedClientAssertionMaxExp"]; got != "600" {
				return fmt.Errorf("fedClientAssertionMaxExp %q", got)
			}
			return nil
		})
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		if got := as.Status.ServiceAccountAuthentication.MaxTokenAgeSeconds; got != 600 {
			t.Errorf("status maxTokenAgeSeconds %d", got)
		}
		if n := occurrences(settledEvents(t, as, corev1.EventTypeWarning, authv1.ReasonDriftReverted)); n != drifts {
			t.Errorf("a spec edit was reported as drift (%d DriftReverted, %d before)", n, drifts)
		}
	})

	t.Run("a change Keycloak does not make is not written at every resync", func(t *testing.T) {
		t.Cleanup(faults.Clear)
		// Keycloak answers 204 to the identity provider's update and keeps it as it was.
		faults.Set("identityprovider.update", testbed.Fault{Status: 204, PathContains: "/realms/" + realm + "/"})
		setMaxTokenAge := func(d time.Duration) {
			t.Helper()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
				t.Fatal(err)
			}
			as.Spec.ServiceAccountAuthentication.MaxTokenAge = &metav1.Duration{Duration: d}
			if err := k8s.Update(ctx, as); err != nil {
				t.Fatal(err)
			}
		}
		setMaxTokenAge(15 * time.Minute)
		cond := waitIssuer(t, as, metav1.ConditionFalse, authv1.ReasonChangeNotApplied)
		if !strings.Contains(cond.Message, "config.fedClientAssertionMaxExp") {
			t.Errorf("the condition does not name the change: %s", cond.Message)
		}
		updates := func() int { return faults.Requests("/realms/"+realm+"/identity-provider/", "PUT") }
		before := updates()
		// Three resyncs of every AuthServer (counted by their outcomes)
		// before anything is compared.
		var servers authv1.AuthServerList
		if err := k8s.List(ctx, &servers); err != nil {
			t.Fatal(err)
		}
		reconciled := func() float64 {
			return reconciler.OutcomeCount("AuthServer", reconciler.OutcomeReady, authv1.ReasonRealmProvisioned)
		}
		settle.Advanced(t, 60*time.Second, "AuthServer resyncs", reconciled(), float64(3*len(servers.Items)), reconciled)
		if n := updates() - before; n != 0 {
			t.Errorf("%d identity provider updates in three resyncs of a change Keycloak does not make, want 0", n)
		}
		// The next spec change is written again.
		faults.Clear()
		setMaxTokenAge(10 * time.Minute)
		waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	})

	parent := t
	t.Run("a secret retired by going secretless never comes back", func(t *testing.T) {
		ac2 := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "switcher", "sa-server", worker), ac2)
		t.Cleanup(func() { deleteAndWait(t, ac2) })
		waitReady(t, ac2, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		old := string(secretOf(t, "team-sa", "switcher-client-secret").Data["client_secret"])
		if got := postToken(t, tokenURL, url.Values{"client_id": {ac2.Status.ClientID}, "client_secret": {old}}); got.code != http.StatusOK {
			t.Fatalf("the client's secret before the switch: %s", got)
		}
		serviceAccount(t, "team-sa", "switcher")
		editClient(t, ac2, func(a *authv1.AuthClient) { a.Spec.ServiceAccount = &authv1.ServiceAccountReference{Name: "switcher"} })
		eventually(t, 30*time.Second, "the Secret without client_secret", func() error {
			if _, ok := secretOf(t, "team-sa", "switcher-client-secret").Data["client_secret"]; ok {
				return fmt.Errorf("client_secret still there")
			}
			return nil
		})
		waitReady(t, ac2, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		// Back to a secret: a new one, not the one retired.
		editClient(t, ac2, func(a *authv1.AuthClient) { a.Spec.ServiceAccount = nil })
		var back string
		eventually(t, 30*time.Second, "a client_secret again", func() error {
			if back = string(secretOf(t, "team-sa", "switcher-client-secret").Data["client_secret"]); back == "" {
				return fmt.Errorf("no client_secret yet")
			}
			return nil
		})
		if back == old {
			t.Error("going back to a secret revived the secret retired by going secretless")
		}
		if got := postToken(t, tokenURL, url.Values{"client_id": {ac2.Status.ClientID}, "client_secret": {old}}); got.code != http.StatusUnauthorized {
			t.Errorf("the retired secret: %s, want HTTP 401", got)
		}
	})

	t.Run("an orphaned client is unbound from its ServiceAccount", func(t *testing.T) {
		serviceAccount(t, "team-sa", "orphan")
		ac3 := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "orphan", "sa-server", worker+"\n  serviceAccount: {name: orphan}\n  deletionPolicy: Orphan"), ac3)
		waitReady(t, ac3, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		id := ac3.Status.ClientID
		if got := assertionToken(t, tokenURL, id, saToken(t, "team-sa", "orphan", audience)); got.code != http.StatusOK {
			t.Fatalf("token before the deletion: %s", got)
		}
		deleteAndWait(t, ac3)
		if keycloakClient(t, realm, id) == nil {
			t.Fatal("the orphaned client is gone")
		}
		// Whoever creates namespace team-sa and ServiceAccount orphan later
		// must not inherit the client.
		if got := assertionToken(t, tokenURL, id, saToken(t, "team-sa", "orphan", audience)); got.code == http.StatusOK {
			t.Errorf("the orphaned client still accepts the ServiceAccount's token: %s", got)
		}
	})

	t.Run("one ServiceAccount, one client", func(t *testing.T) {
		second := &authv1.AuthClient{}
		apply(t, authClient("team-sa", "app-2", "sa-server", worker+"\n  serviceAccount: {name: app}"), second)
		parent.Cleanup(func() { deleteAndWait(parent, second) })
		refusedBeforeKeycloak(t, realm, second, authv1.ReasonServiceAccountConflict, "already authenticates AuthClient team-sa/app")
		warningEvent(t, second, authv1.ReasonServiceAccountConflict)
		// The first one keeps working: Keycloak refuses a token that
		// matches two clients.
		if got := assertionToken(t, tokenURL, clientID, saToken(t, "team-sa", "app", audience)); got.code != http.StatusOK {
			t.Errorf("the holder's token request: %s", got)
		}
		// The holder goes: the second takes the ServiceAccount over, through
		// the watch (no resync needed), and its workloads authenticate.
		deleteAndWait(t, ac)
		waitReady(t, second, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 30*time.Second)
		if got := assertionToken(t, tokenURL, second.Status.ClientID, saToken(t, "team-sa", "app", audience)); got.code != http.StatusOK {
			t.Errorf("the new holder's token request: %s", got)
		}
	})

	t.Run("turning service-account authentication off", func(t *testing.T) {
		holder := &authv1.AuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team-sa", Name: "app-2"}}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(holder), holder); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		as.Spec.ServiceAccountAuthentication = nil
		if err := k8s.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the identity provider removed", func() error {
			if _, err := identityProvider(t, realm); err == nil {
				return fmt.Errorf("still there")
			}
			return nil
		})
		cond := waitReady(t, holder, metav1.ConditionFalse, authv1.ReasonServiceAccountAuthenticationDisabled, 30*time.Second)
		if !strings.Contains(cond.Message, "spec.serviceAccountAuthentication is not set") || !strings.Contains(cond.Message, "is disabled") {
			t.Errorf("message %q", cond.Message)
		}
		if kcc := keycloakClient(t, realm, holder.Status.ClientID); kcc == nil || gocloak.PBool(kcc.Enabled) {
			t.Error("the Keycloak client of the refused secretless client is not disabled")
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err != nil {
			t.Fatal(err)
		}
		if as.Status.ServiceAccountAuthentication != nil || meta.FindStatusCondition(as.Status.Conditions, authv1.ServiceAccountIssuerCondition) != nil {
			t.Errorf("status still says service-account authentication: %+v", as.Status.ServiceAccountAuthentication)
		}
	})
}

// An issuer Keycloak cannot reach, or whose discovery document names
// another issuer, is reported on the AuthServer; its realm stays Ready.
func TestServiceAccountIssuerProblems(t *testing.T) {
	integration(t)
	unreachable := serverWith(t, "sa-unreachable", "  serviceAccountAuthentication:\n    issuer: https://127.0.0.1:1")
	cond := waitIssuer(t, unreachable, metav1.ConditionFalse, authv1.ReasonIssuerUnreachable)
	if !strings.Contains(cond.Message, "https://127.0.0.1:1/.well-known/openid-configuration") || !strings.Contains(cond.Message, "system:unauthenticated") {
		t.Errorf("message %q does not name the URL and what the cluster must allow", cond.Message)
	}
	warningEvent(t, unreachable, authv1.ReasonIssuerUnreachable)
	waitReady(t, unreachable, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, time.Second)

	// The API server's discovery document, reached as localhost, names
	// 127.0.0.1: tokens carry that, so Keycloak would refuse them all.
	other := strings.Replace(saIssuer.URL, "127.0.0.1", "localhost", 1)
	mismatch := serverWith(t, "sa-mismatch", "  serviceAccountAuthentication:\n    issuer: "+other)
	cond = waitIssuer(t, mismatch, metav1.ConditionFalse, authv1.ReasonIssuerMismatch)
	if !strings.Contains(cond.Message, saIssuer.URL) {
		t.Errorf("message %q does not name the issuer the document has", cond.Message)
	}
	waitReady(t, mismatch, metav1.ConditionTrue, authv1.ReasonRealmProvisioned, time.Second)
}

// The sample of docs/guides/secretless.md works as written: its
// Deployment requests the audience the operator puts in the Secret, and a
// token of its ServiceAccount for that audience authenticates its client.
func TestSecretlessSample(t *testing.T) {
	integration(t)
	theOperator(t)
	ctx := context.Background()
	var as *authv1.AuthServer
	var ac *authv1.AuthClient
	var deploy *appsv1.Deployment
	for _, doc := range strings.Split(sample(t, "secretless/orders-worker.yaml"), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		ensureNamespace(t, u.GetNamespace(), nil)
		var obj client.Object
		switch u.GetKind() {
		case "AuthServer":
			as = &authv1.AuthServer{}
			obj = as
		case "AuthClient":
			ac = &authv1.AuthClient{}
			obj = ac
		case "Deployment":
			deploy = &appsv1.Deployment{}
			obj = deploy
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		default:
			t.Fatalf("unexpected %s in the sample", u.GetKind())
		}
		apply(t, doc, obj)
		t.Cleanup(func() { deleteAndWait(t, obj) })
	}
	// Deleted in reverse order: the client before its AuthServer, whose
	// realm then goes (deletionPolicy Delete).
	t.Cleanup(func() {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(as), as); err == nil {
			as.Spec.DeletionPolicy = authv1.DeletionPolicyDelete
			_ = k8s.Update(ctx, as)
		}
	})
	waitIssuer(t, as, metav1.ConditionTrue, authv1.ReasonIssuerReachable)
	waitReady(t, ac, metav1.ConditionTrue, authv1.ReasonClientProvisioned, 60*time.Second)
	s := secretOf(t, ac.Namespace, ac.SecretName())
	audience := deploy.Spec.Template.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience
	if string(s.Data["token_audience"]) != audience {
		t.Fatalf("the sample's Deployment requests audience %q, the Secret says %q", audience, s.Data["token_audience"])
	}
	tokenURL := kc.URL + "/realms/" + as.Status.RealmName + "/protocol/openid-connect/token"
	if got := assertionToken(t, tokenURL, string(s.Data["client_id"]), saToken(t, ac.Namespace, deploy.Spec.Template.Spec.ServiceAccountName, audience)); got.code != http.StatusOK {
		t.Errorf("token request as the sample's workload: %s", got)
	}
}
