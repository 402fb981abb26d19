// Package controllers holds one thin reconciler per kind (AuthServer,
// AuthClient, AuthPolicy, UserStore): each reads, decides through the pure
// packages under pkg/, and delegates Keycloak I/O to pkg/keycloak.
//
// # AuthClient
//
// Reconcile (authclient_controller.go) reads the AuthClient, defers the
// status patch, handles deletion (authclient_delete.go), adds the
// finalizer, then runs the steps below, in order, over one
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
//	keycloakClient  create or bring the Keycloak client into line (authclient_keycloak.go)
//	clientSecret    read the client's secret from Keycloak (authclient_scope.go)
//	rotation        rotate the secret when due (authclient_rotation.go)
//	secret          write the credentials Secret (authclient_secret.go)
//	finishRotation  end a rotation the Secret now holds (authclient_rotation.go)
//	workloads       roll opted-in workloads on new credentials (authclient_workloads.go)
//	status          record client, Secret, issuer, audiences, ServiceAccount (authclient_scope.go)
//	serviceAccount  check a secretless client's ServiceAccount exists (authclient_serviceaccount.go)
//
// A step that stops before the Keycloak client is brought into line
// (issuer, policies, governance, keycloakClient) first takes withdrawn
// audiences out of the client's tokens (withdrawAudiences).
package controllers
