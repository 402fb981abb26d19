// Package keycloak is the only package that talks to Keycloak. It offers the
// narrow set of admin API verbs the controllers need, over gocloak, with a
// shared admin token, typed errors and per-request metrics.
//
// The verbs are grouped by area into consumer-sized interfaces (RealmAdmin,
// ClientAdmin, ClientSecretAdmin, ClientScopeAdmin, ClientPolicyAdmin,
// FederationAdmin, IdentityProviderAdmin), all embedded in Admin, which
// AdminClient implements.
//
// Verbs added from now on take and return Nauthera-owned types, declared in
// this package (as Discovery, LDAPTest and SyncResult are), never gocloak's:
// gocloak is how this package speaks to Keycloak, not part of its API. The
// older verbs that still pass gocloak types keep them until they are next
// changed.
package keycloak
