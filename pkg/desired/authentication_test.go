package desired

import (
	"testing"

	"github.com/Nerzal/gocloak/v14"
)

func TestApplyAuthentication(t *testing.T) {
	secretJWT := gocloak.Client{PublicClient: gocloak.BoolP(false), ClientAuthenticatorType: gocloak.StringP("client-secret-jwt"),
		ServiceAccountsEnabled: gocloak.BoolP(true), Attributes: map[string]string{AttrJWTIssuer: "", AttrJWTSubject: ""}}
	secret := gocloak.Client{PublicClient: gocloak.BoolP(false), ClientAuthenticatorType: gocloak.StringP("client-secret"),
		ServiceAccountsEnabled: gocloak.BoolP(false), StandardFlowEnabled: gocloak.BoolP(false), Attributes: map[string]string{AttrJWTIssuer: "", AttrJWTSubject: "", "x": "1"}}
	public := gocloak.Client{PublicClient: gocloak.BoolP(true), ServiceAccountsEnabled: gocloak.BoolP(false), Attributes: map[string]string{}}
	token := gocloak.Client{PublicClient: gocloak.BoolP(false), ClientAuthenticatorType: gocloak.StringP(AuthenticatorFederatedJWT),
		ServiceAccountsEnabled: gocloak.BoolP(true), Attributes: map[string]string{AttrJWTIssuer: IdentityProviderAlias, AttrJWTSubject: "system:serviceaccount:a:b"}}
	for _, tc := range []struct {
		name             string
		want, actual     gocloak.Client
		violated, kept   bool
		auth             string
		serviceAccounts  bool
		issuer, standard string
	}{
		{"no violation: want's", secret, secretJWT, false, false, "client-secret", false, "", "false"},
		{"violation, same method: want's", secret, secret, true, false, "client-secret", false, "", "false"},
		{"policy moved secret_jwt to private_key_jwt: Keycloak's method, want's grants", secret, secretJWT, true, true, "client-secret-jwt", false, "", "false"},
		{"spec edited to Public: the secret kept", public, secret, true, true, "client-secret", false, "", ""},
		{"console made it public: stays public, no service account", secretJWT, public, true, true, "public", false, "", ""},
		{"secretless kept with its binding", secret, token, true, true, AuthenticatorFederatedJWT, false, IdentityProviderAlias, "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ApplyAuthentication(tc.want, tc.actual, tc.violated)
			if got.Kept != tc.kept || AuthenticationOf(got.Client) != tc.auth {
				t.Fatalf("kept %v auth %q, want %v %q", got.Kept, AuthenticationOf(got.Client), tc.kept, tc.auth)
			}
			if got.Kept && (got.Have != AuthenticationOf(tc.actual) || got.Asked != AuthenticationOf(tc.want)) {
				t.Errorf("have %q asked %q", got.Have, got.Asked)
			}
			if gocloak.PBool(got.Client.ServiceAccountsEnabled) != tc.serviceAccounts {
				t.Errorf("serviceAccountsEnabled %v", gocloak.PBool(got.Client.ServiceAccountsEnabled))
			}
			if got.Client.Attributes[AttrJWTIssuer] != tc.issuer {
				t.Errorf("issuer %q", got.Client.Attributes[AttrJWTIssuer])
			}
			// Everything but the authentication is want's.
			if tc.standard != "" && boolString(gocloak.PBool(got.Client.StandardFlowEnabled)) != tc.standard {
				t.Errorf("standardFlowEnabled %v", gocloak.PBool(got.Client.StandardFlowEnabled))
			}
			if tc.want.Attributes["x"] != got.Client.Attributes["x"] {
				t.Errorf("attribute x %q, want's %q", got.Client.Attributes["x"], tc.want.Attributes["x"])
			}
			if d := ClientDiff(got.Client, MergeClient(got.Client, tc.actual)); len(d) != 0 {
				t.Errorf("the merged update does not carry the decision: %v", d)
			}
		})
	}
	if tc := ApplyAuthentication(secret, secretJWT, true); secret.Attributes[AttrJWTIssuer] != "" || tc.Client.Attributes == nil {
		t.Error("want's attributes were modified")
	}
}
