// Package bootstrap is the `nauthera bootstrap-keycloak` subcommand.
package bootstrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/internal/kubeissuer"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

// `nauthera bootstrap-keycloak` sets up the operator's passwordless login
// once, with Keycloak's temporary bootstrap admin (KC_BOOTSTRAP_ADMIN_*):
// a Kubernetes identity provider in the admin realm trusting the cluster's
// service-account issuer, and the admin client whose federated-JWT subject
// is the operator's ServiceAccount. Idempotent: the chart runs it as a
// post-install hook, and deletes its Secret afterwards.
// See docs/guides/passwordless.md.

// Command is the subcommand's name: `nauthera bootstrap-keycloak`.
const Command = "bootstrap-keycloak"

// Keycloak 26's names for its temporary bootstrap admin, read by this
// command too so that one Secret serves both.
const (
	envBootstrapUser     = "KC_BOOTSTRAP_ADMIN_USERNAME"
	envBootstrapPassword = "KC_BOOTSTRAP_ADMIN_PASSWORD"
)

type bootstrapOptions struct {
	url, adminRealm, credentialsDir string
	issuer, alias, clientID         string
	serviceAccount                  string // namespace/name
	realmRoles, managedRealms       []string
	deleteBootstrapAdmin            bool
	deleteSecret                    string // namespace/name
	timeout                         time.Duration
	// user and password are the bootstrap admin's; never printed.
	user, password string
}

func parseBootstrapFlags(args []string, getenv func(string) string) (*bootstrapOptions, error) {
	o := &bootstrapOptions{}
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	var roles, realms string
	fs.StringVar(&o.url, "keycloak-url", "", "Base URL of Keycloak (required).")
	fs.StringVar(&o.adminRealm, "keycloak-admin-realm", "master", "Realm of the bootstrap admin, the identity provider and the admin client.")
	fs.StringVar(&o.credentialsDir, "admin-credentials-dir", "", "Folder with the bootstrap admin's username and password files; empty: the "+envBootstrapUser+" and "+envBootstrapPassword+" variables.")
	fs.StringVar(&o.issuer, "issuer", "", "The cluster's service-account issuer; empty: read from the API server's /.well-known/openid-configuration.")
	fs.StringVar(&o.alias, "identity-provider-alias", "nauthera-operator-kubernetes", "Alias of the Kubernetes identity provider in the admin realm.")
	fs.StringVar(&o.clientID, "client-id", "nauthera-operator", "clientId of the admin client (the operator's --keycloak-client-id, or an AuthServer's spec.adminIdentity.clientId).")
	fs.StringVar(&o.serviceAccount, "service-account", "", "namespace/name of the ServiceAccount whose token authenticates the client (required).")
	fs.StringVar(&roles, "realm-roles", "", "Comma-separated roles of the admin realm for the client's service account; empty: admin, or none with --managed-realms.")
	fs.StringVar(&realms, "managed-realms", "", "Comma-separated realms whose management roles (all roles of the <realm>-realm client) the service account gets: a per-realm admin identity.")
	fs.BoolVar(&o.deleteBootstrapAdmin, "delete-bootstrap-admin", false, "Delete the bootstrap admin user once the client is set up, so that no admin password is left in Keycloak either; only a user Keycloak marks as its temporary admin (is_temporary_admin), any other is kept with a warning.")
	fs.StringVar(&o.deleteSecret, "delete-secret", "", "namespace/name of the Secret that held the bootstrap admin's credentials, deleted once the client is set up (the chart's hook), so that no admin password is left in the cluster.")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "How long to wait for Keycloak to answer and accept the bootstrap.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.realmRoles, o.managedRealms = splitList(roles), splitList(realms)
	if len(o.realmRoles) == 0 && len(o.managedRealms) == 0 {
		o.realmRoles = []string{"admin"}
	}
	var errs []error
	if o.url == "" {
		errs = append(errs, errors.New("--keycloak-url is required"))
	}
	ns, name, ok := strings.Cut(o.serviceAccount, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		errs = append(errs, fmt.Errorf("--service-account must be namespace/name of a ServiceAccount, got %q", o.serviceAccount))
	}
	if o.deleteSecret != "" {
		if ns, name, ok := strings.Cut(o.deleteSecret, "/"); !ok || ns == "" || name == "" {
			errs = append(errs, fmt.Errorf("--delete-secret must be namespace/name, got %q", o.deleteSecret))
		}
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be a positive duration, got %s", o.timeout))
	}
	read := getenv
	if o.credentialsDir != "" {
		read = func(key string) string {
			b, err := os.ReadFile(filepath.Join(o.credentialsDir, map[string]string{envBootstrapUser: "username", envBootstrapPassword: "password"}[key]))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
	}
	o.user, o.password = read(envBootstrapUser), read(envBootstrapPassword)
	if o.user == "" || o.password == "" {
		errs = append(errs, fmt.Errorf("the bootstrap admin's credentials are missing: set %s and %s, or --admin-credentials-dir with username and password files", envBootstrapUser, envBootstrapPassword))
	}
	return o, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Main runs the subcommand with its arguments and returns the exit code.
func Main(args []string) int {
	o, err := parseBootstrapFlags(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := runBootstrap(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap-keycloak:", err)
		return 1
	}
	return 0
}

func runBootstrap(ctx context.Context, o *bootstrapOptions, out io.Writer) error {
	if o.issuer == "" {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return fmt.Errorf("--issuer is empty and there is no Kubernetes config to read it from: %w", err)
		}
		r, err := kubeissuer.New(cfg)
		if err != nil {
			return err
		}
		iss, err := r.Issuer(ctx)
		if err != nil {
			return err
		}
		o.issuer = iss.URL
	}
	admin, err := keycloak.New(keycloak.Config{URL: o.url, AdminRealm: o.adminRealm, Credentials: keycloak.Credentials{Username: o.user, Password: o.password}})
	if err != nil {
		return err
	}
	ns, name, _ := strings.Cut(o.serviceAccount, "/")
	fa := keycloak.FederatedAdmin{
		IdentityProviderAlias: o.alias, Issuer: o.issuer, ClientID: o.clientID,
		Subject: authv1.ServiceAccountSubject(ns, name), RealmRoles: o.realmRoles, ManagedRealms: o.managedRealms,
	}
	// Keycloak may still be starting (the hook runs right after install):
	// failures that may pass are retried every 5 s until --timeout.
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var last error
	warned := false
	err = wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		var warning string
		warning, last = admin.BootstrapFederatedAdmin(ctx, fa)
		if warning != "" && !warned {
			warned = true
			_, _ = fmt.Fprintln(out, "warning:", warning)
		}
		switch {
		case last == nil:
			return true, nil
		case keycloak.IsTransient(last):
			_, _ = fmt.Fprintln(out, "waiting for Keycloak:", last)
			return false, nil
		}
		return false, last
	})
	if err != nil {
		if last != nil {
			return last
		}
		return err
	}
	_, _ = fmt.Fprintf(out, "admin client %s of realm %s authenticates %s (issuer %s, identity provider %s)\n", o.clientID, o.adminRealm, fa.Subject, o.issuer, o.alias)
	if o.deleteBootstrapAdmin {
		// Only Keycloak's temporary bootstrap admin: a permanent admin
		// named as the bootstrap admin (an external Keycloak's) is kept.
		switch err := admin.DeleteTemporaryAdmin(ctx, o.adminRealm, o.user); {
		case errors.Is(err, keycloak.ErrNotTemporaryAdmin):
			_, _ = fmt.Fprintln(out, "warning: the bootstrap admin was not deleted:", err)
		case err != nil && !keycloak.IsNotFound(err):
			return fmt.Errorf("delete the bootstrap admin: %w", err)
		default:
			_, _ = fmt.Fprintln(out, "deleted the bootstrap admin user")
		}
	}
	if o.deleteSecret != "" {
		if err := deleteSecret(ctx, o.deleteSecret); err != nil {
			return fmt.Errorf("delete the bootstrap Secret %s: %w", o.deleteSecret, err)
		}
		_, _ = fmt.Fprintln(out, "deleted the bootstrap Secret", o.deleteSecret)
	}
	return nil
}

func deleteSecret(ctx context.Context, key string) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns, name, _ := strings.Cut(key, "/")
	err = cs.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
