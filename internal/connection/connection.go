// Package connection resolves the Keycloak admin client an AuthServer (and
// so its clients) talks to: the operator's default Keycloak, or the one the
// AuthServer names, with admin credentials read from a Secret or a folder.
package connection

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// Defaults describe the Keycloak the operator was installed with,
// used by every AuthServer that does not name another.
type Defaults struct {
	// URL of the Keycloak server.
	URL string
	// AdminRealm holds the admin credentials; defaults to master.
	AdminRealm string
	// CredentialsSecret names a Secret with the admin credentials.
	CredentialsSecret types.NamespacedName
	// CredentialsDir is a folder with one file per key (a mounted Secret).
	// Used when CredentialsSecret is empty.
	CredentialsDir string
	// TokenFile, when set, makes the operator log in without a password:
	// as client ClientID of AdminRealm, with the service-account token in
	// this file as a federated client assertion (keycloak.Credentials).
	// CredentialsSecret and CredentialsDir are then not read.
	TokenFile string
	// ClientID is the admin client the token authenticates (with TokenFile).
	ClientID string
	// Audience is the audience of the service-account tokens the operator
	// presents (its projected token's, and those it requests for an
	// AuthServer's spec.adminIdentity); empty: the admin realm's issuer at URL.
	Audience string
}

// CredentialsError says that admin credentials are missing or incomplete:
// a configuration problem, not a Keycloak outage.
type CredentialsError struct{ msg string }

func (e *CredentialsError) Error() string { return e.msg }

// Resolver resolves the Keycloak admin client for an AuthServer: the
// operator's default Keycloak, or the one the AuthServer names.
type Resolver struct {
	// Reader reads admin credential Secrets. It must not be the manager's
	// cache: that only holds the Secrets the operator writes.
	Reader   client.Reader
	Defaults Defaults
	Pool     *keycloak.Pool
	// Tokens requests the service-account tokens of AuthServers'
	// spec.adminIdentity; nil refuses such AuthServers.
	Tokens TokenRequester

	// Admin credentials are re-read at most once a minute, so a rotated
	// admin password is picked up without a read per reconcile. A plain map
	// rather than an informer: the operator must not watch every Secret.
	// mu guards the map only; a read of the API server runs outside it, one
	// flight per key, so a slow read for one AuthServer's Secret never
	// holds up another's, and callers of the same key share one read.
	mu      sync.Mutex
	creds   map[string]cachedCreds
	flights singleflight.Group
}

type cachedCreds struct {
	creds keycloak.Credentials
	read  time.Time
}

const credentialsTTL = time.Minute

// credentialsReadTimeout bounds one shared read of admin credentials, which
// no single caller's cancellation ends.
const credentialsReadTimeout = 30 * time.Second

// For returns the admin client for the Keycloak that hosts as's realm.
func (c *Resolver) For(ctx context.Context, as *authv1.AuthServer) (keycloak.Admin, error) {
	cfg := keycloak.Config{URL: c.Defaults.URL, AdminRealm: c.Defaults.AdminRealm}
	var err error
	if kc := as.Spec.Keycloak; kc != nil {
		cfg.URL, cfg.AdminRealm = kc.URL, kc.AdminRealm
		cfg.Credentials, err = c.fromSecret(ctx, types.NamespacedName{Namespace: as.Namespace, Name: kc.AdminCredentialsSecretRef.Name})
	} else {
		if cfg.URL == "" {
			return nil, &CredentialsError{"the operator has no default Keycloak URL (--keycloak-url) and the AuthServer names no spec.keycloak"}
		}
		switch {
		case as.Spec.AdminIdentity != nil:
			cfg.Credentials, err = c.adminIdentity(as, as.Spec.AdminIdentity)
		case c.Defaults.TokenFile != "":
			cfg.Credentials, err = c.federated()
		case c.Defaults.CredentialsSecret.Name != "":
			cfg.Credentials, err = c.fromSecret(ctx, c.Defaults.CredentialsSecret)
		default:
			cfg.Credentials, err = c.fromDir(ctx, c.Defaults.CredentialsDir)
		}
	}
	if err != nil {
		return nil, err
	}
	return c.Pool.Get(cfg)
}

// federated returns the operator's passwordless credentials: the token
// file is read at each login (pkg/keycloak), not here.
func (c *Resolver) federated() (keycloak.Credentials, error) {
	if c.Defaults.ClientID == "" {
		return keycloak.Credentials{}, &CredentialsError{"the operator logs in with its service-account token (--keycloak-token-file) but names no admin client (--keycloak-client-id)"}
	}
	return keycloak.Credentials{ClientID: c.Defaults.ClientID, TokenFile: c.Defaults.TokenFile}, nil
}

// cached returns the credentials under key, read by load at most once a
// minute. Callers of the same key at once share one read (singleflight),
// which runs under a context of its own: the first caller's context minus
// its cancellation (context.WithoutCancel), bounded by credentialsReadTimeout.
// A caller that gives up (its ctx ends) returns at once with its ctx's
// error, while the read goes on for the others; one caller's cancellation
// never fails the others.
func (c *Resolver) cached(ctx context.Context, key string, load func(context.Context) (keycloak.Credentials, error)) (keycloak.Credentials, error) {
	c.mu.Lock()
	e, ok := c.creds[key]
	c.mu.Unlock()
	if ok && time.Since(e.read) < credentialsTTL {
		return e.creds, nil
	}
	ch := c.flights.DoChan(key, func() (any, error) {
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), credentialsReadTimeout)
		defer cancel()
		creds, err := load(readCtx)
		if err != nil {
			return creds, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.creds == nil {
			c.creds = map[string]cachedCreds{}
		}
		c.creds[key] = cachedCreds{creds: creds, read: time.Now()}
		return creds, nil
	})
	select {
	case r := <-ch:
		return r.Val.(keycloak.Credentials), r.Err
	case <-ctx.Done():
		return keycloak.Credentials{}, ctx.Err()
	}
}

func (c *Resolver) fromSecret(ctx context.Context, key types.NamespacedName) (keycloak.Credentials, error) {
	return c.cached(ctx, "secret:"+key.String(), func(ctx context.Context) (keycloak.Credentials, error) {
		var s corev1.Secret
		if err := c.Reader.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return keycloak.Credentials{}, &CredentialsError{fmt.Sprintf("Keycloak admin credentials Secret %s not found", key)}
			}
			return keycloak.Credentials{}, err
		}
		return credentialsFrom(func(k string) string { return string(s.Data[k]) }, "Secret "+key.String())
	})
}

func (c *Resolver) fromDir(ctx context.Context, dir string) (keycloak.Credentials, error) {
	if dir == "" {
		return keycloak.Credentials{}, &CredentialsError{"the operator has no Keycloak admin credentials (--keycloak-admin-secret or --keycloak-admin-credentials-dir)"}
	}
	return c.cached(ctx, "dir:"+dir, func(context.Context) (keycloak.Credentials, error) {
		return credentialsFrom(func(k string) string {
			b, err := os.ReadFile(filepath.Join(dir, k))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}, "folder "+dir)
	})
}

// credentialsFrom reads username/password or client_id/client_secret.
func credentialsFrom(get func(string) string, where string) (keycloak.Credentials, error) {
	creds := keycloak.Credentials{
		Username: get("username"), Password: get("password"),
		ClientID: get("client_id"), ClientSecret: get("client_secret"),
	}
	if (creds.Username == "" || creds.Password == "") && (creds.ClientID == "" || creds.ClientSecret == "") {
		return creds, &CredentialsError{fmt.Sprintf("%s must hold username and password, or client_id and client_secret", where)}
	}
	return creds, nil
}

// IsCredentialsError reports whether err says admin credentials are missing or incomplete.
func IsCredentialsError(err error) bool {
	var e *CredentialsError
	return errors.As(err, &e)
}
