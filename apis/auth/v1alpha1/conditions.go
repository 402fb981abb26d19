package v1alpha1

// Condition types shared by all kinds. Ready is the summary; Reconciling and
// Stalled follow kstatus so that Argo CD and Flux read health correctly.
const (
	// ReadyCondition is True when the object is provisioned in Keycloak as its spec asks.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while the operator is working towards the spec.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when the operator cannot make progress without a
	// change to the spec or to something the spec refers to.
	StalledCondition = "Stalled"
)

// Reasons for conditions. Each names one cause so that `kubectl describe`
// and alerts can tell failures apart.
const (
	// ReasonProgressing: the operator is working on the object.
	ReasonProgressing = "Progressing"
	// ReasonClientProvisioned: the Keycloak client and the credentials Secret exist as desired.
	ReasonClientProvisioned = "ClientProvisioned"
	// ReasonRealmProvisioned: the Keycloak realm exists as desired.
	ReasonRealmProvisioned = "RealmProvisioned"
	// ReasonPolicyAccepted: the policy is valid and applied to the clients it governs.
	ReasonPolicyAccepted = "PolicyAccepted"
	// ReasonUserStoreConfigured: the user federation exists in every realm that uses it.
	ReasonUserStoreConfigured = "UserStoreConfigured"

	// ReasonAuthServerNotFound: authServerRef names an AuthServer that does not exist.
	ReasonAuthServerNotFound = "AuthServerNotFound"
	// ReasonAuthServerNotReady: the referenced AuthServer has no realm ready yet.
	ReasonAuthServerNotReady = "AuthServerNotReady"
	// ReasonNamespaceNotAllowed: the AuthServer does not accept clients from this namespace.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	// ReasonClientIDConflict: the clientId exists in the realm and belongs to someone else.
	ReasonClientIDConflict = "ClientIdConflict"
	// ReasonRealmConflict: the realm exists and belongs to another AuthServer or to no AuthServer.
	ReasonRealmConflict = "RealmConflict"
	// ReasonKeycloakUnavailable: Keycloak could not be reached or answered with a server error.
	ReasonKeycloakUnavailable = "KeycloakUnavailable"
	// ReasonKeycloakRejected: Keycloak refused a request; the message carries Keycloak's answer.
	ReasonKeycloakRejected = "KeycloakRejected"
	// ReasonInvalidSpec: the spec is well-formed but cannot be applied as written.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonPolicyViolation: the object breaks an AuthPolicy that governs it.
	ReasonPolicyViolation = "PolicyViolation"
	// ReasonAuthenticationNotChanged: the object breaks an AuthPolicy's
	// authentication rule, and its Keycloak client keeps authenticating as
	// it does rather than being switched (its workloads would be locked out).
	ReasonAuthenticationNotChanged = "AuthenticationNotChanged"
	// ReasonAuthenticationNotCreated: the object's Keycloak client is gone
	// and is not created again with an authentication method its
	// AuthPolicies forbid.
	ReasonAuthenticationNotCreated = "AuthenticationNotCreated"
	// ReasonCredentialsNotFound: a Secret with credentials named by the spec is missing or incomplete.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonDeleting: the object is being deleted and its Keycloak state cleaned up.
	ReasonDeleting = "Deleting"
	// ReasonAdoptionNotPermitted: spec.adopt asks for a Keycloak client the
	// AuthServer does not let this namespace adopt, or that cannot be adopted
	// (none unmanaged of that clientId in the realm); nothing is written.
	ReasonAdoptionNotPermitted = "AdoptionNotPermitted"
	// ReasonAdoptionPending: an adoption waits for its diff (status.adoption)
	// to be acknowledged with the auth.nauthera.io/adopt annotation; nothing
	// is written meanwhile.
	ReasonAdoptionPending = "AdoptionPending"
)

// More reasons, added by the reconciler foundation.
const (
	// ReasonKubernetesRejected: the Kubernetes API refused a write as invalid; retrying the same write cannot help.
	ReasonKubernetesRejected = "KubernetesRejected"
	// ReasonSecretConflict: the credentials Secret's name is taken by a Secret this AuthClient does not own.
	ReasonSecretConflict = "SecretConflict"
	// ReasonPolicyConflict: two AuthPolicies of one AuthServer contradict each other.
	ReasonPolicyConflict = "PolicyConflict"
	// ReasonNoAuthServer: no AuthServer selects the policy.
	ReasonNoAuthServer = "NoAuthServerSelects"
	// PoliciesCondition on an AuthServer is False when its policies conflict.
	PoliciesCondition = "PoliciesConsistent"
	// ReasonKeycloakWriteFailed: Keycloak answered a write with HTTP 500 while it answered reads; retried with backoff.
	ReasonKeycloakWriteFailed = "KeycloakWriteFailed"
	// ReasonKeycloakForbidden: Keycloak accepted the admin login but answered HTTP 403: the identity lacks the roles for this realm (a per-realm spec.adminIdentity used for another realm); retried with backoff.
	ReasonKeycloakForbidden = "KeycloakForbidden"
	// ReasonChangeNotApplied: Keycloak accepted a change but did not apply it; writing it again would not help.
	ReasonChangeNotApplied = "ChangeNotApplied"
	// ReasonSecretTemplateInvalid: spec.secretTemplate does not render; the Secret is left as it was.
	ReasonSecretTemplateInvalid = "SecretTemplateInvalid"
	// ReasonSecretNotWritable: the credentials Secret cannot be written; a due secret rotation waits, Keycloak is not asked for a new secret.
	ReasonSecretNotWritable = "SecretNotWritable"
	// ReasonAudienceNotFound: an AuthClient named in spec.audiences does not exist (or is being deleted).
	ReasonAudienceNotFound = "AudienceNotFound"
	// ReasonAudienceNotPermitted: an AuthClient named in spec.audiences does not consent (its spec.audienceAccess), or belongs to another AuthServer.
	ReasonAudienceNotPermitted = "AudienceNotPermitted"
	// ReasonAudiencePending: an AuthClient named in spec.audiences has no Keycloak client yet; its audience is added once it has.
	ReasonAudiencePending = "AudiencePending"
	// ReasonRoleGrantNotPermitted: an AuthClient named in spec.roleGrants does not consent to a role (its spec.roleGrantAccess), belongs to another AuthServer, or its clientId is not its client; or this client has no service account.
	ReasonRoleGrantNotPermitted = "RoleGrantNotPermitted"
	// ReasonRoleNotFound: an AuthClient named in spec.roleGrants does not exist, does not declare a role in its spec.roles, or is Ready and Keycloak does not hold a role it did not hold at its last reconcile either (status.roles).
	ReasonRoleNotFound = "RoleNotFound"
	// ReasonRoleGrantPending: an AuthClient named in spec.roleGrants has no Keycloak client or role yet, or they were deleted in Keycloak and it restores them; the roles are granted once it has.
	ReasonRoleGrantPending = "RoleGrantPending"
)

// Realm roles and groups of an AuthServer (issue 22).
const (
	// RealmRolesCondition on an AuthServer says whether its spec.realmRoles and spec.groups are in the realm.
	RealmRolesCondition = "RealmRolesReady"
	// ReasonRealmRolesProvisioned: the declared realm roles exist and the declared groups hold them.
	ReasonRealmRolesProvisioned = "RealmRolesProvisioned"
	// ReasonRealmRoleConflict: a declared realm role exists in the realm and is not the AuthServer's (Keycloak's, the console's, another AuthServer's); it is not taken over.
	ReasonRealmRoleConflict = "RealmRoleConflict"
	// ReasonClaimInvalid: a claim of spec.claims cannot be put into tokens (a hard-coded JSON value that does not parse, the roles of a client that is not this one nor one of spec.roleGrants, a token claim set twice); the other claims are in force.
	ReasonClaimInvalid = "ClaimInvalid"
	// ReasonClientSecretRefNotFound: the Secret spec.clientSecretRef names, or its key, does not exist.
	ReasonClientSecretRefNotFound = "ClientSecretRefNotFound"
	// ReasonClientSecretRefNotPermitted: the Secret spec.clientSecretRef names does not consent to this AuthClient (annotation auth.nauthera.io/client-secret-for), or is a credentials Secret Nauthera writes.
	ReasonClientSecretRefNotPermitted = "ClientSecretRefNotPermitted"
	// ReasonClientSecretRefInvalid: the value spec.clientSecretRef names cannot be a client secret (16 to 255 printable ASCII characters without spaces).
	ReasonClientSecretRefInvalid = "ClientSecretRefInvalid"
	// ReasonKeycloakVersionUnsupported: the AuthServer's Keycloak is older than the oldest version Nauthera supports; the message names both. Nothing is written to it; the version is read again every 10 minutes.
	ReasonKeycloakVersionUnsupported = "KeycloakVersionUnsupported"
	// ReasonFeatureNeedsKeycloak: a feature the spec asks for (service-account authentication, secret rotation) is not enabled in, or not available from, this Keycloak; the message names the version and Keycloak features it needs. Nothing is sent that Keycloak would refuse; looked at again every 10 minutes.
	ReasonFeatureNeedsKeycloak = "FeatureNeedsKeycloak"
)
