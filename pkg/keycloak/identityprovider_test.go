package keycloak_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"

	"github.com/nauthera/nauthera/pkg/kcversion"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// The identity provider verbs, on a kubernetes identity provider as
// service-account authentication uses it, and Keycloak's server-side fetch
// of a discovery document.
func TestIdentityProviders(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	idp := gocloak.IdentityProviderRepresentation{
		Alias: gocloak.StringP("kube"), ProviderID: gocloak.StringP("kubernetes"), Enabled: gocloak.BoolP(true),
		Config: map[string]string{"issuer": "https://k8s.example.com", "fedClientAssertionMaxExp": "3600", "nauthera.io/owner": "security/s"},
	}
	if _, err := c.GetIdentityProvider(ctx, realm, "kube"); !keycloak.IsNotFound(err) {
		t.Fatalf("GetIdentityProvider before create: want not found, got %v", err)
	}
	if !secretlessOn(t, c) {
		// Measured on 26.4.0 and 26.5.6 as shipped (the kubernetes
		// provider off): a plain 400, which the operator never sends
		// (kcversion.Check says no first).
		if err := c.CreateIdentityProvider(ctx, realm, idp); !keycloak.IsRejected(err) || !strings.Contains(err.Error(), "Invalid identity provider id [kubernetes]") {
			t.Fatalf("a kubernetes identity provider on Keycloak %s without the feature: want rejected, got %v", kc.Version, err)
		}
		return
	}
	if err := c.CreateIdentityProvider(ctx, realm, idp); err != nil {
		t.Fatal(err)
	}
	// Keycloak finds the identity provider by the token's issuer: two
	// with one issuer in a realm are refused (400), before the alias is
	// looked at; an alias taken with another issuer is a conflict.
	for _, alias := range []string{"kube", "kube-twin"} {
		twin := idp
		twin.Alias = gocloak.StringP(alias)
		if err := c.CreateIdentityProvider(ctx, realm, twin); !keycloak.IsRejected(err) || !strings.Contains(err.Error(), "Issuer URL already used") {
			t.Errorf("alias %s with the same issuer: want rejected, got %v", alias, err)
		}
	}
	other := idp
	other.Config = map[string]string{"issuer": "https://other-k8s.example.com"}
	if err := c.CreateIdentityProvider(ctx, realm, other); !keycloak.IsConflict(err) {
		t.Errorf("the alias again with another issuer: want conflict, got %v", err)
	}
	got, err := c.GetIdentityProvider(ctx, realm, "kube")
	if err != nil {
		t.Fatal(err)
	}
	// Keycloak keeps config keys it does not know (the owner mark).
	if got.Config["issuer"] != "https://k8s.example.com" || got.Config["nauthera.io/owner"] != "security/s" || got.Config["fedClientAssertionMaxExp"] != "3600" {
		t.Errorf("config read back %v", got.Config)
	}
	got.Config["fedClientAssertionMaxExp"] = "600"
	if err := c.UpdateIdentityProvider(ctx, realm, *got); err != nil {
		t.Fatal(err)
	}
	if got, _ = c.GetIdentityProvider(ctx, realm, "kube"); got.Config["fedClientAssertionMaxExp"] != "600" {
		t.Errorf("after update %v", got.Config)
	}
	if err := c.DeleteIdentityProvider(ctx, realm, "kube"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteIdentityProvider(ctx, realm, "kube"); !keycloak.IsNotFound(err) {
		t.Errorf("second delete: want not found, got %v", err)
	}
}

// Keycloak fetches a discovery document itself (here its own): on every
// supported version, with or without the kubernetes identity provider.
func TestFetchOIDCConfiguration(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	cfg, err := c.FetchOIDCConfiguration(ctx, realm, kc.URL+"/realms/master/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	if cfg["issuer"] != kc.URL+"/realms/master" || cfg["jwksUrl"] != kc.URL+"/realms/master/protocol/openid-connect/certs" {
		t.Errorf("fetched %v", cfg)
	}
	// A URL it cannot reach: Keycloak 26.7 answers HTTP 500 without
	// detail (the cause is in its log), as for an untrusted certificate,
	// an unknown host or an HTTP error from the server.
	_, err = c.FetchOIDCConfiguration(ctx, realm, "https://127.0.0.1:1/.well-known/openid-configuration")
	var kerr *keycloak.Error
	if !errors.As(err, &kerr) || kerr.Code != http.StatusInternalServerError {
		t.Errorf("fetching from a closed port: %v, want HTTP 500", err)
	}
}

// secretlessOn says whether the test bed's Keycloak has service-account
// authentication (the kubernetes identity provider and the federated-jwt
// client authenticator), as the operator decides it.
func secretlessOn(t *testing.T, c *keycloak.AdminClient) bool {
	t.Helper()
	info, err := c.ServerInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ok, why := kcversion.Check(kcversion.Server{Version: info.Version, Features: info.Features}, kcversion.SecretlessClients)
	if !ok {
		t.Logf("Keycloak %s: %s", kc.Version, why)
	}
	return ok
}
