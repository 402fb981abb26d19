package v1alpha1

// Reasons of Events that no condition carries. Conditions' reasons (above
// all in conditions.go) are also Event reasons: a condition that turns False
// emits a Warning Event with the condition's reason. Each Event reason here
// is emitted in exactly the situation its comment names.
const (
	// ReasonDriftReverted (Warning): a change made in Keycloak outside
	// Nauthera (a realm, client, client role, federation, mapper, identity
	// provider or client policy) was reverted; the message lists the fields
	// (for client roles: each role by name).
	ReasonDriftReverted = "DriftReverted"
	// ReasonRealmCreated (Normal): the AuthServer's realm was created in Keycloak.
	ReasonRealmCreated = "RealmCreated"
	// ReasonRealmLeftBehind (Warning): the AuthServer was deleted but its realm could not be.
	ReasonRealmLeftBehind = "RealmLeftBehind"
	// ReasonClientRecreated (Normal): the Keycloak client had been deleted in Keycloak and was created again.
	ReasonClientRecreated = "ClientRecreated"
	// ReasonClientLeftBehind (Warning): the AuthClient was deleted but its Keycloak client could not be.
	ReasonClientLeftBehind = "ClientLeftBehind"
	// ReasonSecretUpdated (Normal): the credentials Secret was written with new content.
	ReasonSecretUpdated = "SecretUpdated"
	// ReasonSecretRecreated (Normal): the credentials Secret had been deleted and was written again.
	ReasonSecretRecreated = "SecretRecreated"
	// ReasonSecretReplaced (Normal): a Secret left by an earlier AuthClient of the same name was replaced.
	ReasonSecretReplaced = "SecretReplaced"
	// ReasonSecretRestored (Warning): the credentials Secret was edited outside Nauthera and restored.
	ReasonSecretRestored = "SecretRestored"
	// ReasonSecretReclaimed (Normal): the managed-by label on an owned credentials Secret was restored.
	ReasonSecretReclaimed = "SecretReclaimed"
	// ReasonCredentialsChanged (Warning): the client's secret in Keycloak changed outside a rotation
	// Nauthera made; the Secret now holds Keycloak's secret.
	ReasonCredentialsChanged = "CredentialsChanged"
	// ReasonWorkloadsRestarted (Normal): workloads annotated to restart on rotation were rolled.
	ReasonWorkloadsRestarted = "WorkloadsRestarted"
	// ReasonWorkloadRestartFailed (Warning): a workload annotated to restart on rotation could not be rolled.
	ReasonWorkloadRestartFailed = "WorkloadRestartFailed"
	// ReasonIdentityProviderCreated (Normal): the identity provider trusting the cluster's
	// service-account tokens was created in the realm.
	ReasonIdentityProviderCreated = "IdentityProviderCreated"
	// ReasonIdentityProviderRemoved (Normal): that identity provider was removed, because
	// spec.serviceAccountAuthentication was removed.
	ReasonIdentityProviderRemoved = "IdentityProviderRemoved"
	// ReasonUserStoreFederated (Normal): a UserStore was federated into the realm.
	ReasonUserStoreFederated = "UserStoreFederated"
	// ReasonUserStoreRemoved (Normal): a UserStore's federation was removed from the realm.
	ReasonUserStoreRemoved = "UserStoreRemoved"
	// ReasonUserStoreLeftBehind (Warning): the AuthServer was deleted but a federation of its realm could not be removed.
	ReasonUserStoreLeftBehind = "UserStoreLeftBehind"
	// ReasonUsersSynced (Normal): users of a UserStore were synced into the realm; the message counts them.
	ReasonUsersSynced = "UsersSynced"
	// ReasonClientAdopted (Normal): an existing Keycloak client was adopted after its diff was acknowledged.
	ReasonClientAdopted = "ClientAdopted"
	// ReasonRealmAdopted (Normal): an existing Keycloak realm was adopted after its diff was acknowledged.
	ReasonRealmAdopted = "RealmAdopted"
	// ReasonClaimDriftReverted (Warning): a protocol mapper Nauthera keeps for
	// spec.claims was edited or removed in Keycloak and restored; the message names it.
	ReasonClaimDriftReverted = "ClaimDriftReverted"
	// ReasonUnmanagedMapper (Normal): the client has a protocol mapper
	// Nauthera did not create (seen for the first time); it is left alone
	// and listed in status.unmanagedMappers. The message names it.
	ReasonUnmanagedMapper = "UnmanagedMapper"
)
