// Package controllers holds one thin reconciler per kind (AuthServer,
// AuthClient, AuthPolicy, UserStore): each reads, decides through the pure
// packages under pkg/, and delegates Keycloak I/O to pkg/keycloak.
//
// # AuthClient
//
// Reconcile (authclient_controller.go) reads the AuthClient, defers the
// status patch, handles deletion (authclient_delete.go), adds the
// finalizer (a no-op when the mutating webhook, internal/admission/
// finalizer.go, gave it at create; the fallback when the webhook is off),
// then runs the steps below, in order, over one
// authClientScope (authclient_scope.go). A step goes on or stops the chain
// with a stepResult; the outcome (Ready note, failure, next reconcile) is
// computed once, from the scope, by authClientScope.outcome.
//
//	authServer      read the AuthServer and admission (authclient_authserver.go)
//	connect         the AuthServer's Keycloak connection (internal/connection)
//	admission       disable the Keycloak client of a refused AuthClient (authclient_authserver.go)
//	audiences       resolve spec.audiences to consenting targets (authclient_audience.go)
//	issuer          wait for service-account authentication of a secretless client (authclient_serviceaccount.go)
//	policies        select, combine and evaluate the AuthPolicies (authclient_scope.go, pkg/policy)
//	governance      what the policies make of the client; the Secret's plan (authclient_scope.go, pkg/desired)
//	clientSecretRef read the Secret spec.clientSecretRef names; refuse it without consent (authclient_byosecret.go)
//	adoption        show the diff of adopting an unmanaged client (spec.adopt), adopt it once acknowledged (authclient_adopt.go)
//	keycloakClient  create or bring the Keycloak client into line (authclient_keycloak.go)
//	roles           make the client's roles exactly spec.roles, when set (authclient_roles.go, pkg/desired)
//	roleGrants      the service account's roles of consenting clients (authclient_rolegrants.go)
//	claims          the claim mappers of spec.claims; unmanaged mappers reported (authclient_claims.go, pkg/desired)
//	clientSecret    read the client's secret from Keycloak (authclient_scope.go)
//	byoSecret       set Keycloak's secret to spec.clientSecretRef's value, with grace (authclient_byosecret.go)
//	rotation        rotate the secret when due (authclient_rotation.go)
//	secret          write the credentials Secret (authclient_secret.go)
//	finishRotation  end a rotation the Secret now holds (authclient_rotation.go)
//	workloads       roll opted-in workloads on new credentials (authclient_workloads.go)
//	status          record client, Secret, issuer, audiences, ServiceAccount (authclient_scope.go)
//	serviceAccount  check a secretless client's ServiceAccount exists (authclient_serviceaccount.go)
//
// A step that stops before the Keycloak client is brought into line
// (issuer, policies, governance, keycloakClient) first takes withdrawn
// audiences out of the client's tokens (withdrawAudiences), and withdrawn
// role grants off its service account (withdrawRoleGrants).
//
// # AuthServer
//
// Reconcile (authserver_controller.go) reads the AuthServer into a
// serverScope, defers the status patch (skipped when a mid-reconcile
// persist found the copy stale), handles deletion (reconcileDelete: an
// orphaned realm loses its LDAP federation, a deleted one goes with it),
// adds the finalizer, then
// reconcileSteps runs, in order, stopping at the first failure (the
// certificate, userStore and serviceAccounts steps report on their own
// conditions and only bring the next reconcile forward):
//
//	certificate      the issuer's TLS certificate; needs no Keycloak (authserver_certificate.go)
//	selectors        the namespace and policy selectors parse (authserver_controller.go)
//	connect          the Keycloak connection (internal/connection)
//	keycloakVersion  the server's version and features; refuse one older than the range (authserver_version.go, pkg/kcversion)
//	realm            create the realm or revert its drift (authserver_controller.go, pkg/desired)
//	issuer           record the issuer URL (authserver_controller.go)
//	policies         combine the selected AuthPolicies; PoliciesConsistent (authserver_controller.go)
//	rotation         the realm's client policy for secret rotation; FeatureNeedsKeycloak without the feature (authserver_rotation.go)
//	userStore        the LDAP federation, group mapper and user sync (authserver_userstore.go)
//	realmRoles       spec.realmRoles and spec.groups: owned roles, groups, role mappings; RealmRolesReady (authserver_realmroles.go, pkg/desired)
//	serviceAccounts  the identity provider trusting the cluster's tokens; FeatureNeedsKeycloak without the feature (authserver_serviceaccounts.go)
//
// Conditions beside Ready go through reconciler.Reporter.Condition: one
// rule decides their Events (a Warning when one turns False, a Normal one
// when it recovers, none when it is True from the start).
//
// # Drift detection
//
// DriftWatch (driftwatch.go) is a leader-elected Runnable: every
// --drift-interval it reads each Ready AuthServer's realm admin events since
// the last read, ignores the operator's own, and hands the AuthClients and
// AuthServers others touched to their controllers through source.Channel;
// pkg/drift maps events to objects and decides when a gap forces a full
// resync of the realm. The AuthClient reconcile records which Keycloak
// client is whose (noteClient). --resync-interval (24h) is the safety net;
// objects waiting on what has no watch keep a 10-minute recheck (recheck,
// needsRecheck in authserver_controller.go).
//
// # UserStore and AuthPolicy
//
// Neither talks to Keycloak. The UserStore reconciler summarizes what the
// AuthServers that federate it report (summarizeServers); the AuthPolicy
// reconciler validates the policy and lists the AuthServers and AuthClients
// it governs. Field indexes used across reconcilers are registered once,
// by SetupIndexes (setup.go), before any SetupWithManager.
package controllers
