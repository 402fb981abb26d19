package desired

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/policy"
)

func secretless(name string) func(*authv1.AuthClientSpec) {
	return func(s *authv1.AuthClientSpec) {
		s.ServiceAccount = &authv1.ServiceAccountReference{Name: name}
		s.GrantTypes = []authv1.GrantType{authv1.GrantTypeClientCredentials}
	}
}

func TestSecretlessClient(t *testing.T) {
	ac := authClient(secretless("app"))
	// Whatever the policy's method or rotation: the client keeps the
	// authenticator its workloads can use, and has no secret to rotate.
	rot := &policy.Rotation{Policy: "security/rot", Schedule: "@daily"}
	for _, eff := range []policy.Effective{{}, {Method: authv1.ClientAuthSecretJWT, Rotation: rot}, {Method: authv1.ClientAuthServiceAccountToken}} {
		c := GovernedClient(ac, eff, RealmSessions{})
		if got := gocloak.PString(c.ClientAuthenticatorType); got != AuthenticatorFederatedJWT {
			t.Errorf("method %q: authenticator %q, want %s", eff.Method, got, AuthenticatorFederatedJWT)
		}
		if c.Attributes[AttrJWTIssuer] != IdentityProviderAlias || c.Attributes[AttrJWTSubject] != "system:serviceaccount:my-app-dev:app" {
			t.Errorf("binding %q %q", c.Attributes[AttrJWTIssuer], c.Attributes[AttrJWTSubject])
		}
		if !gocloak.PBool(c.ServiceAccountsEnabled) || gocloak.PBool(c.PublicClient) || c.Secret != nil {
			t.Errorf("serviceAccountsEnabled %v public %v secret %v", gocloak.PBool(c.ServiceAccountsEnabled), gocloak.PBool(c.PublicClient), c.Secret)
		}
		if c.Attributes[AttrSecretRotation] != "" {
			t.Errorf("a secretless client carries the rotation marker %q", c.Attributes[AttrSecretRotation])
		}
	}

	// A client with a secret has the binding deleted (""): a client that
	// stops being secretless loses it, and others never diff on it.
	withSecret := Client(authClient(nil))
	if v, ok := withSecret.Attributes[AttrJWTSubject]; !ok || v != "" || gocloak.PString(withSecret.ClientAuthenticatorType) != "client-secret" {
		t.Errorf("client with a secret: sub %q (present %v), authenticator %q", v, ok, gocloak.PString(withSecret.ClientAuthenticatorType))
	}
	if d := ClientDiff(withSecret, gocloak.Client{Attributes: map[string]string{}}); strings.Contains(strings.Join(d, ","), "jwt.credential") {
		t.Errorf("an absent binding is no drift: %v", d)
	}
	d := ClientDiff(Client(ac), withSecret)
	for _, f := range []string{"clientAuthenticatorType", "attributes." + AttrJWTIssuer, "attributes." + AttrJWTSubject} {
		if !strings.Contains(strings.Join(d, ","), f) {
			t.Errorf("switching to secretless must change %s: %v", f, d)
		}
	}
}

func TestSecretlessSecret(t *testing.T) {
	ac := authClient(secretless("app"))
	data := SecretData(ac, "https://kc.example.com/realms/r/", "")
	if _, ok := data[KeyClientSecret]; ok {
		t.Error("a secretless client's Secret holds a client_secret")
	}
	if got := string(data[KeyTokenAudience]); got != "https://kc.example.com/realms/r" {
		t.Errorf("token_audience %q, want the realm's issuer", got)
	}
	if _, ok := SecretData(authClient(nil), "https://kc.example.com/realms/r", "s3cret")[KeyTokenAudience]; ok {
		t.Error("a client with a secret got token_audience")
	}

	ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"AUD": "{{ .token_audience }}", "ID": "{{ .client_id }}"}}
	if err := CheckSecretTemplate(context.Background(), ac, ""); err != nil {
		t.Fatalf("token_audience is a template value of a secretless client: %v", err)
	}
	out, err := SecretPayload(context.Background(), ac, "https://kc.example.com/realms/r", "")
	if err != nil || string(out["AUD"]) != "https://kc.example.com/realms/r" {
		t.Errorf("rendered %q, %v", out["AUD"], err)
	}
	// No secret to render: refused like a public client's client_secret.
	ac.Spec.SecretTemplate.Data["SECRET"] = "{{ .client_secret }}"
	if err := CheckSecretTemplate(context.Background(), ac, ""); err == nil || !strings.Contains(err.Error(), "client_secret") || !strings.Contains(err.Error(), "SECRET") {
		t.Errorf("client_secret in a secretless client's template: %v", err)
	}
	withSecret := authClient(nil)
	withSecret.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"AUD": "{{ .token_audience }}"}}
	if err := CheckSecretTemplate(context.Background(), withSecret, ""); err == nil {
		t.Error("token_audience rendered for a client with a secret")
	}
}

func TestIdentityProvider(t *testing.T) {
	as := &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "prod"},
		Spec: authv1.AuthServerSpec{ServiceAccountAuthentication: &authv1.ServiceAccountAuthentication{}}}
	want := IdentityProvider(as, "https://k8s.example.com")
	if gocloak.PString(want.Alias) != IdentityProviderAlias || gocloak.PString(want.ProviderID) != "kubernetes" ||
		want.Config["issuer"] != "https://k8s.example.com" || want.Config["fedClientAssertionMaxExp"] != "3600" ||
		IdentityProviderOwner(&want) != "security/prod" {
		t.Errorf("identity provider %+v %v", want, want.Config)
	}
	as.Spec.ServiceAccountAuthentication.MaxTokenAge = &metav1.Duration{Duration: 10 * time.Minute}
	if got := IdentityProvider(as, "https://k8s.example.com").Config["fedClientAssertionMaxExp"]; got != "600" {
		t.Errorf("maxTokenAge 10m: %s", got)
	}

	// Keycloak adds its own settings; only managed fields count, and an
	// administrator's other settings survive a merge.
	actual := want
	actual.Config = map[string]string{"issuer": "https://k8s.example.com", "fedClientAssertionMaxExp": "3600", AttrOwner: "security/prod", AttrOwnerKind: "AuthServer", "allowedClockSkew": "5"}
	actual.InternalID = gocloak.StringP("id-1")
	if d := IdentityProviderDiff(want, actual); len(d) != 0 {
		t.Errorf("no drift expected: %v", d)
	}
	actual.Config["issuer"] = "https://evil.example.com"
	actual.Enabled = gocloak.BoolP(false)
	if d := IdentityProviderDiff(want, actual); strings.Join(d, ",") != "enabled,config.issuer" {
		t.Errorf("drift %v", d)
	}
	merged := MergeIdentityProvider(want, actual)
	if merged.Config["issuer"] != "https://k8s.example.com" || merged.Config["allowedClockSkew"] != "5" || gocloak.PString(merged.InternalID) != "id-1" || !gocloak.PBool(merged.Enabled) {
		t.Errorf("merged %+v %v", merged, merged.Config)
	}
}

func TestCheckServiceAccount(t *testing.T) {
	server := func(sa *authv1.ServiceAccountAuthentication) *authv1.AuthServer {
		return &authv1.AuthServer{ObjectMeta: metav1.ObjectMeta{Namespace: "security", Name: "prod"}, Spec: authv1.AuthServerSpec{ServiceAccountAuthentication: sa}}
	}
	cases := []struct {
		name   string
		ac     *authv1.AuthClient
		as     *authv1.AuthServer
		reason string
	}{
		{"a client with a secret is not concerned", authClient(nil), server(nil), ""},
		{"disabled on the server", authClient(secretless("app")), server(nil), authv1.ReasonServiceAccountAuthenticationDisabled},
		{"enabled", authClient(secretless("app")), server(&authv1.ServiceAccountAuthentication{}), ""},
		{"default refused", authClient(secretless("default")), server(&authv1.ServiceAccountAuthentication{}), authv1.ReasonServiceAccountNotAllowed},
		{"default allowed", authClient(secretless("default")), server(&authv1.ServiceAccountAuthentication{AllowDefaultServiceAccount: true}), ""},
		{"a name that only contains default", authClient(secretless("default-app")), server(&authv1.ServiceAccountAuthentication{}), ""},
	}
	for _, c := range cases {
		reason, msg := CheckServiceAccount(c.ac, c.as)
		if reason != c.reason {
			t.Errorf("%s: reason %q (%s), want %q", c.name, reason, msg, c.reason)
		}
		if reason != "" && (!strings.Contains(msg, "security/prod") || !strings.Contains(msg, "spec.serviceAccount")) {
			t.Errorf("%s: message must name the field and the AuthServer: %s", c.name, msg)
		}
	}
}

func TestServiceAccountHolder(t *testing.T) {
	at := func(name string, sec int, holds bool) *authv1.AuthClient {
		ac := authClient(secretless("app"))
		ac.Name = name
		ac.CreationTimestamp = metav1.NewTime(time.Unix(int64(1000+sec), 0))
		if holds {
			ac.Status.ServiceAccount = "system:serviceaccount:my-app-dev:app"
		}
		return ac
	}
	name := func(ac *authv1.AuthClient) string {
		if ac == nil {
			return "<nil>"
		}
		return ac.Name
	}
	cases := []struct {
		name      string
		claimants []*authv1.AuthClient
		want      string
	}{
		{"none", nil, "<nil>"},
		{"the oldest when nobody holds it", []*authv1.AuthClient{at("b", 2, false), at("a", 1, false)}, "a"},
		{"by name at the same second", []*authv1.AuthClient{at("b", 1, false), at("a", 1, false)}, "a"},
		// An older AuthClient edited to name a ServiceAccount that a newer
		// one uses must not break the newer one's workloads.
		{"the one provisioned for it, though newer", []*authv1.AuthClient{at("old", 1, false), at("new", 5, true)}, "new"},
		{"two that hold it (a race): the oldest", []*authv1.AuthClient{at("b", 2, true), at("a", 3, true), at("c", 1, false)}, "b"},
	}
	for _, c := range cases {
		if got := name(ServiceAccountHolder(c.claimants)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// An older claimant stuck on a problem of its own (a SecretConflict)
	// does not block a younger one; one stalled by the conflict itself
	// stays in line by age.
	stalled := func(ac *authv1.AuthClient, reason string) *authv1.AuthClient {
		ac.Status.Conditions = []metav1.Condition{
			{Type: authv1.ReadyCondition, Status: metav1.ConditionFalse, Reason: reason},
			{Type: authv1.StalledCondition, Status: metav1.ConditionTrue, Reason: reason},
		}
		return ac
	}
	if got := ServiceAccountHolder([]*authv1.AuthClient{stalled(at("old", 1, false), authv1.ReasonSecretConflict), at("young", 5, false)}); got.Name != "young" {
		t.Errorf("holder %s: a stuck older claimant blocked the younger one", got.Name)
	}
	if got := ServiceAccountHolder([]*authv1.AuthClient{stalled(at("old", 1, false), authv1.ReasonServiceAccountConflict), at("young", 5, false)}); got.Name != "old" {
		t.Errorf("holder %s: a claimant refused only by the conflict lost its place", got.Name)
	}
	// A status recorded for another ServiceAccount than the spec names
	// (an AuthClient edited to name this one) does not count.
	edited := at("edited", 9, true)
	edited.Status.ServiceAccount = "system:serviceaccount:my-app-dev:other"
	if got := ServiceAccountHolder([]*authv1.AuthClient{edited, at("z", 1, false)}); got.Name != "z" {
		t.Errorf("holder %s: a status for another ServiceAccount counted", got.Name)
	}
	if ServiceAccountKey("security/prod", authClient(nil)) != "" || ServiceAccountKey("security/prod", at("a", 1, false)) != "security/prod|system:serviceaccount:my-app-dev:app" {
		t.Error("ServiceAccountKey")
	}
}
