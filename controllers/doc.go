// Package controllers holds one thin reconciler per kind (AuthServer,
// AuthClient, AuthPolicy, UserStore): each reads, decides through the pure
// packages under pkg/, and delegates Keycloak I/O to pkg/keycloak.
package controllers
