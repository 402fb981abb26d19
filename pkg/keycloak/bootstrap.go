package keycloak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// The bootstrap of an operator without a password: run once with an admin
// that may manage the admin realm (Keycloak's temporary bootstrap admin),
// it makes the admin realm trust the cluster's service-account issuer and
// creates the admin client the operator logs in as (federated.go). Every
// step is idempotent, so the chart's hook may run it on each upgrade.
// These verbs are not part of Admin: the controllers never call them.

// FederatedAdmin is an admin client that authenticates with a Kubernetes
// service-account token.
type FederatedAdmin struct {
	// Realm holds the identity provider and the client; defaults to the
	// client's admin realm.
	Realm string
	// IdentityProviderAlias names the Kubernetes identity provider that
	// trusts Issuer.
	IdentityProviderAlias string
	// Issuer is the cluster's service-account token issuer (the iss claim).
	Issuer string
	// ClientID is the admin client's clientId.
	ClientID string
	// Subject is the token subject that authenticates the client:
	// system:serviceaccount:<namespace>:<name>.
	Subject string
	// RealmRoles are roles of Realm given to the client's service account:
	// "admin" for an operator that manages every realm, or "create-realm".
	RealmRoles []string
	// ManagedRealms are realms whose realm-management roles (the roles of
	// the "<realm>-realm" client in Realm but impersonation) the service account gets: an
	// admin identity that reaches these realms and no other.
	ManagedRealms []string
	// AccessTokenLifespan, when set, bounds the admin token's life (the
	// client's access.token.lifespan); zero keeps the realm's default.
	AccessTokenLifespan time.Duration
}

// BootstrapFederatedAdmin has Keycloak read fa.Issuer's discovery document
// (anonymously), then runs EnsureFederatedAdmin. A document that names
// another issuer is an error: the client could never log in. A document
// Keycloak cannot read is only a warning, returned: the kubernetes identity
// provider may still reach the issuer with Keycloak's own service-account
// token (in-cluster), which an anonymous fetch does not use. No answer from
// Keycloak at all is returned as the transient error it is.
func (c *AdminClient) BootstrapFederatedAdmin(ctx context.Context, fa FederatedAdmin) (warning string, err error) {
	if fa.Realm == "" {
		fa.Realm = c.realm
	}
	doc, err := c.FetchOIDCConfiguration(ctx, fa.Realm, strings.TrimRight(fa.Issuer, "/")+"/.well-known/openid-configuration")
	var kerr *Error
	switch {
	case errors.As(err, &kerr) && kerr.Code == 0:
		return "", err
	case err != nil:
		warning = fmt.Sprintf("Keycloak could not read %s/.well-known/openid-configuration anonymously (%v): the operator's login fails unless Keycloak reaches the issuer and its keys (with its own service-account token in-cluster, or anonymously) and trusts its certificate", fa.Issuer, err)
	case doc["issuer"] != fa.Issuer:
		return "", fmt.Errorf("the issuer's discovery document names issuer %q, not %q: give the issuer exactly as the tokens' iss", doc["issuer"], fa.Issuer)
	}
	return warning, c.EnsureFederatedAdmin(ctx, fa)
}

// EnsureFederatedAdmin creates or updates the identity provider and the
// client of fa, and gives the client's service account its roles. Roles
// it already holds stay; none is taken away.
func (c *AdminClient) EnsureFederatedAdmin(ctx context.Context, fa FederatedAdmin) error {
	if fa.Realm == "" {
		fa.Realm = c.realm
	}
	if err := c.ensureIssuerTrust(ctx, fa); err != nil {
		return err
	}
	id, err := c.ensureFederatedClient(ctx, fa)
	if err != nil {
		return err
	}
	var user *gocloak.User
	if err := c.call(ctx, "client.serviceaccount", func(ctx context.Context, tok string) (err error) {
		user, err = c.gc.GetClientServiceAccount(ctx, tok, fa.Realm, id)
		return err
	}); err != nil {
		return err
	}
	uid := gocloak.PString(user.ID)
	for _, name := range fa.RealmRoles {
		if err := c.call(ctx, "role.grant", func(ctx context.Context, tok string) error {
			role, err := c.gc.GetRealmRole(ctx, tok, fa.Realm, name)
			if err != nil {
				return err
			}
			return c.gc.AddRealmRoleToUser(ctx, tok, fa.Realm, uid, []gocloak.Role{*role})
		}); err != nil {
			return fmt.Errorf("grant realm role %s to the service account of %s: %w", name, fa.ClientID, err)
		}
	}
	for _, realm := range fa.ManagedRealms {
		if err := c.grantRealmManagement(ctx, fa.Realm, uid, realm); err != nil {
			return fmt.Errorf("grant the management roles of realm %s to the service account of %s: %w", realm, fa.ClientID, err)
		}
	}
	return nil
}

func (c *AdminClient) ensureIssuerTrust(ctx context.Context, fa FederatedAdmin) error {
	want := gocloak.IdentityProviderRepresentation{
		Alias:       gocloak.StringP(fa.IdentityProviderAlias),
		ProviderID:  gocloak.StringP("kubernetes"),
		DisplayName: gocloak.StringP("Kubernetes service accounts (Nauthera operator login)"),
		Enabled:     gocloak.BoolP(true),
		HideOnLogin: gocloak.BoolP(true),
		Config:      map[string]string{"issuer": fa.Issuer},
	}
	have, err := c.GetIdentityProvider(ctx, fa.Realm, fa.IdentityProviderAlias)
	switch {
	case IsNotFound(err):
		return c.CreateIdentityProvider(ctx, fa.Realm, want)
	case err != nil:
		return err
	case have.Config["issuer"] == fa.Issuer && gocloak.PBool(have.Enabled):
		return nil
	}
	merged := *have
	merged.Enabled = want.Enabled
	merged.Config = map[string]string{}
	for k, v := range have.Config {
		merged.Config[k] = v
	}
	merged.Config["issuer"] = fa.Issuer
	return c.UpdateIdentityProvider(ctx, fa.Realm, merged)
}

// ensureFederatedClient creates or updates the admin client and returns its internal id.
func (c *AdminClient) ensureFederatedClient(ctx context.Context, fa FederatedAdmin) (string, error) {
	attrs := map[string]string{
		"jwt.credential.issuer": fa.IdentityProviderAlias,
		"jwt.credential.sub":    fa.Subject,
	}
	if fa.AccessTokenLifespan > 0 {
		attrs["access.token.lifespan"] = strconv.Itoa(int(fa.AccessTokenLifespan / time.Second))
	}
	want := gocloak.Client{
		ClientID:                  gocloak.StringP(fa.ClientID),
		Name:                      gocloak.StringP("Nauthera operator (service-account login)"),
		Enabled:                   gocloak.BoolP(true),
		PublicClient:              gocloak.BoolP(false),
		ServiceAccountsEnabled:    gocloak.BoolP(true),
		StandardFlowEnabled:       gocloak.BoolP(false),
		DirectAccessGrantsEnabled: gocloak.BoolP(false),
		ImplicitFlowEnabled:       gocloak.BoolP(false),
		ClientAuthenticatorType:   gocloak.StringP("federated-jwt"),
		Attributes:                attrs,
	}
	have, err := c.FindClient(ctx, fa.Realm, fa.ClientID)
	if IsNotFound(err) {
		return c.CreateClient(ctx, fa.Realm, want)
	}
	if err != nil {
		return "", err
	}
	want.ID = have.ID
	merged := map[string]string{}
	for k, v := range have.Attributes {
		merged[k] = v
	}
	for k, v := range attrs {
		merged[k] = v
	}
	want.Attributes = merged
	return gocloak.PString(have.ID), c.UpdateClient(ctx, fa.Realm, want)
}

// notForAdminIdentities are roles of a "<realm>-realm" client that the
// operator never uses and a per-realm identity therefore does not get:
// impersonation would let a leaked identity act as any user of the realm.
var notForAdminIdentities = map[string]bool{"impersonation": true}

// grantRealmManagement gives user the roles of the "<realm>-realm" client
// of the admin realm adminRealm (but notForAdminIdentities): management of
// realm, nothing else.
func (c *AdminClient) grantRealmManagement(ctx context.Context, adminRealm, userID, realm string) error {
	mgmt, err := c.FindClient(ctx, adminRealm, realm+"-realm")
	if err != nil {
		return err
	}
	return c.call(ctx, "role.grant", func(ctx context.Context, tok string) error {
		roles, err := c.gc.GetClientRoles(ctx, tok, adminRealm, gocloak.PString(mgmt.ID), gocloak.GetRoleParams{})
		if err != nil {
			return err
		}
		all := make([]gocloak.Role, 0, len(roles))
		for _, r := range roles {
			if !notForAdminIdentities[gocloak.PString(r.Name)] {
				all = append(all, *r)
			}
		}
		return c.gc.AddClientRolesToUser(ctx, tok, adminRealm, gocloak.PString(mgmt.ID), userID, all)
	})
}

// DeleteUserByName deletes the user of realm with exactly this username;
// ErrNotFound if there is none.
func (c *AdminClient) DeleteUserByName(ctx context.Context, realm, username string) error {
	return c.deleteUser(ctx, realm, username, false)
}

// temporaryAdminAttribute is the attribute Keycloak sets to "true" on the
// admin it creates from KC_BOOTSTRAP_ADMIN_* (UserModel.IS_TEMP_ADMIN_ATTR_NAME).
const temporaryAdminAttribute = "is_temporary_admin"

// ErrNotTemporaryAdmin: the user named for deletion is not Keycloak's
// temporary bootstrap admin, and is left alone.
var ErrNotTemporaryAdmin = errors.New("not Keycloak's temporary bootstrap admin (no is_temporary_admin attribute): left in place")

// IsTemporaryAdmin says whether Keycloak marks u as its temporary bootstrap admin.
func IsTemporaryAdmin(u gocloak.User) bool {
	for _, v := range u.Attributes[temporaryAdminAttribute] {
		if strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// DeleteTemporaryAdmin deletes the temporary bootstrap admin of realm with
// this username once the operator no longer needs it. A user without
// Keycloak's temporary-admin mark (a permanent admin someone named as the
// bootstrap admin) is not deleted: ErrNotTemporaryAdmin. ErrNotFound if
// there is no such user.
func (c *AdminClient) DeleteTemporaryAdmin(ctx context.Context, realm, username string) error {
	return c.deleteUser(ctx, realm, username, true)
}

func (c *AdminClient) deleteUser(ctx context.Context, realm, username string, temporaryOnly bool) error {
	var users []*gocloak.User
	if err := c.call(ctx, "user.get", func(ctx context.Context, tok string) (err error) {
		users, err = c.gc.GetUsers(ctx, tok, realm, gocloak.GetUsersParams{Username: gocloak.StringP(username), Exact: gocloak.BoolP(true)})
		return err
	}); err != nil {
		return err
	}
	if len(users) == 0 {
		return &Error{Operation: "user.get", Code: http.StatusNotFound, Kind: KindNotFound, Message: "no user " + username + " in realm " + realm}
	}
	// Checked outside call, which would turn a plain error into a transient one.
	if temporaryOnly && !IsTemporaryAdmin(*users[0]) {
		return fmt.Errorf("user %s of realm %s: %w", username, realm, ErrNotTemporaryAdmin)
	}
	return c.call(ctx, "user.delete", func(ctx context.Context, tok string) error {
		return c.gc.DeleteUser(ctx, tok, realm, gocloak.PString(users[0].ID))
	})
}
