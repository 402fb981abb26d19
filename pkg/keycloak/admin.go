package keycloak

import (
	"context"
	"encoding/json"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// Admin is the set of Keycloak admin API verbs the controllers use: the sum
// of the consumer-sized interfaces below, one per area of the admin API. A
// function that needs only one area takes that interface, so that its
// signature says what it may touch in Keycloak (in the manner of
// cert-manager's narrow client interfaces). Every method returns an *Error
// on failure; use IsNotFound, IsConflict and IsTransient to tell failures
// apart.
//
// A new verb joins the interface of its area (or a new one embedded here,
// never Admin itself: TestAdminIsTheSumOfItsAreas checks), and takes and
// returns Nauthera-owned types (such as Discovery, LDAPTest, SyncResult),
// not gocloak's: the verbs below that still speak gocloak types are the
// ones written before this rule.
type Admin interface {
	RealmAdmin
	ClientAdmin
	ClientSecretAdmin
	ClientScopeAdmin
	ClientPolicyAdmin
	FederationAdmin
	IdentityProviderAdmin
	RoleAdmin
	RoleGrantAdmin
	RealmRoleAdmin
	ServerAdmin
	AdminEventAdmin
}

// RealmAdmin manages realms.
type RealmAdmin interface {
	// GetRealm returns the realm, or an error matching ErrNotFound.
	GetRealm(ctx context.Context, realm string) (*gocloak.RealmRepresentation, error)
	// CreateRealm creates rep.Realm; ErrConflict if it exists.
	CreateRealm(ctx context.Context, rep gocloak.RealmRepresentation) error
	// UpdateRealm updates the fields set in rep (Keycloak ignores nil fields).
	UpdateRealm(ctx context.Context, rep gocloak.RealmRepresentation) error
	// DeleteRealm deletes the realm and everything in it.
	DeleteRealm(ctx context.Context, realm string) error
	// GetDiscovery reads the realm's OpenID Connect discovery document.
	GetDiscovery(ctx context.Context, realm string) (*Discovery, error)
}

// ClientAdmin manages a realm's clients and their protocol mappers, never
// their secrets (ClientSecretAdmin).
type ClientAdmin interface {
	// FindClient returns the client with this clientId, or ErrNotFound.
	FindClient(ctx context.Context, realm, clientID string) (*gocloak.Client, error)
	// GetClient returns the client with this internal id, or ErrNotFound.
	GetClient(ctx context.Context, realm, id string) (*gocloak.Client, error)
	// CreateClient creates a client and returns its internal id; ErrConflict
	// if the clientId is taken.
	CreateClient(ctx context.Context, realm string, c gocloak.Client) (string, error)
	// UpdateClient updates the client whose internal id is c.ID. It never
	// changes the client's secret, whatever c.Secret or its client.secret.*
	// attributes hold.
	UpdateClient(ctx context.Context, realm string, c gocloak.Client) error
	// DeleteClient deletes the client with this internal id.
	DeleteClient(ctx context.Context, realm, id string) error

	// CreateClientMapper adds a protocol mapper to the client with this
	// internal id. UpdateClientMapper overwrites the mapper m.ID;
	// DeleteClientMapper removes one.
	CreateClientMapper(ctx context.Context, realm, id string, m gocloak.ProtocolMapperRepresentation) error
	UpdateClientMapper(ctx context.Context, realm, id string, m gocloak.ProtocolMapperRepresentation) error
	DeleteClientMapper(ctx context.Context, realm, id, mapperID string) error
}

// ClientSecretAdmin reads and rotates a client's secret.
type ClientSecretAdmin interface {
	// GetClientSecret returns the client's current secret.
	GetClientSecret(ctx context.Context, realm, id string) (string, error)
	// RegenerateClientSecret replaces the client's secret and returns the
	// new one. Under a client policy with the secret-rotation executor the
	// previous secret stays valid for the policy's grace period.
	RegenerateClientSecret(ctx context.Context, realm, id string) (string, error)
	// DeleteRotatedSecret ends the previous secret's grace period now.
	DeleteRotatedSecret(ctx context.Context, realm, id string) error
	// SetClientSecret makes secret (chosen by the caller) the client's
	// secret. With previous, the secret it replaces stays valid until
	// previous.Until, if a secret-rotation client policy applies to the
	// client; without, it stops working at once.
	SetClientSecret(ctx context.Context, realm, id, secret string, previous *PreviousSecret) error
}

// ClientScopeAdmin manages a realm's client scopes and their assignment to
// clients.
type ClientScopeAdmin interface {
	// ListClientScopes returns the realm's client scopes.
	ListClientScopes(ctx context.Context, realm string) ([]*gocloak.ClientScope, error)
	// EnsureClientScope returns the id of the client scope named scope.Name,
	// creating it from scope when the realm has none of that name.
	EnsureClientScope(ctx context.Context, realm string, scope gocloak.ClientScope) (id string, created bool, err error)
	// GetClientScopesOf returns the default or optional scopes assigned to a client.
	GetClientScopesOf(ctx context.Context, realm, clientUUID string, kind ScopeKind) ([]*gocloak.ClientScope, error)
	// AddClientScope assigns a scope to a client as default or optional.
	AddClientScope(ctx context.Context, realm, clientUUID, scopeID string, kind ScopeKind) error
	// RemoveClientScope unassigns a scope from a client.
	RemoveClientScope(ctx context.Context, realm, clientUUID, scopeID string, kind ScopeKind) error
}

// ClientPolicyAdmin reads and writes a realm's client profiles and client
// policies (where secret rotation is set up).
type ClientPolicyAdmin interface {
	// GetClientProfiles and GetClientPolicies return the realm's own client
	// profiles and policies, raw, so that entries others own round-trip
	// unchanged. PutClientProfiles and PutClientPolicies replace the whole
	// list (Keycloak has no per-entry endpoint).
	GetClientProfiles(ctx context.Context, realm string) ([]json.RawMessage, error)
	PutClientProfiles(ctx context.Context, realm string, profiles []json.RawMessage) error
	GetClientPolicies(ctx context.Context, realm string) ([]json.RawMessage, error)
	PutClientPolicies(ctx context.Context, realm string, policies []json.RawMessage) error
}

// FederationAdmin manages user federation: a realm's components (the LDAP
// provider and its mappers), the LDAP pre-flight and the syncs.
type FederationAdmin interface {
	// ListComponents returns the realm's components with this parent and provider type.
	ListComponents(ctx context.Context, realm, parentID, providerType string) ([]*gocloak.Component, error)
	// CreateComponent creates a component and returns its id.
	CreateComponent(ctx context.Context, realm string, c gocloak.Component) (string, error)
	// UpdateComponent updates the component whose id is c.ID.
	UpdateComponent(ctx context.Context, realm string, c gocloak.Component) error
	// DeleteComponent deletes the component with this id.
	DeleteComponent(ctx context.Context, realm, id string) error
	// GetComponent returns one component, or ErrNotFound.
	GetComponent(ctx context.Context, realm, id string) (*gocloak.Component, error)

	// TestLDAPConnection checks a connection (and bind) to an LDAP server.
	TestLDAPConnection(ctx context.Context, realm string, t LDAPTest) error
	// LDAPTestTimeout is the longest an LDAP test may let Keycloak wait
	// for the directory and still answer within the request timeout.
	LDAPTestTimeout() time.Duration
	// SyncUsers imports a user-storage component's users (all, or the changed ones).
	SyncUsers(ctx context.Context, realm, componentID string, full bool) (*SyncResult, error)
	// SyncMapper runs a federation mapper's sync from the directory into Keycloak.
	SyncMapper(ctx context.Context, realm, componentID, mapperID string) (*SyncResult, error)
}

// IdentityProviderAdmin manages a realm's identity providers (the
// Kubernetes service-account issuer of secretless clients).
type IdentityProviderAdmin interface {
	// GetIdentityProvider returns the realm's identity provider with this
	// alias, or ErrNotFound. CreateIdentityProvider creates one (ErrConflict
	// if the alias is taken); UpdateIdentityProvider replaces idp.Alias;
	// DeleteIdentityProvider removes one.
	GetIdentityProvider(ctx context.Context, realm, alias string) (*gocloak.IdentityProviderRepresentation, error)
	CreateIdentityProvider(ctx context.Context, realm string, idp gocloak.IdentityProviderRepresentation) error
	UpdateIdentityProvider(ctx context.Context, realm string, idp gocloak.IdentityProviderRepresentation) error
	DeleteIdentityProvider(ctx context.Context, realm, alias string) error
	// FetchOIDCConfiguration makes Keycloak fetch a discovery document
	// itself, proving it can reach the URL and trusts its certificate.
	FetchOIDCConfiguration(ctx context.Context, realm, url string) (map[string]string, error)
}
