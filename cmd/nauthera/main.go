// Command nauthera runs the Nauthera operator: it provisions Keycloak realms
// and OIDC clients from AuthServer and AuthClient objects. This file parses
// flags and wires the manager; behaviour lives in controllers/ and pkg/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/cmd/nauthera/bootstrap"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/statusmetrics"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

type options struct {
	metricsAddr, probeAddr string
	pprofAddr              string
	leaderElect            bool
	restartWorkloads       bool
	leaderElectionNS       string
	keycloakURL            string
	keycloakAdminRealm     string
	keycloakAdminSecret    string
	keycloakAdminDir       string
	keycloakAuth           string
	keycloakClientID       string
	keycloakTokenFile      string
	keycloakTokenAudience  string
	keycloakTimeout        time.Duration
	keycloakMaxInFlight    int
	resync                 time.Duration
	driftInterval          time.Duration
	maxBackoff             time.Duration
	watchNamespaces        string
	concurrency            int
	logFormat, logLevel    string
	webhook                webhookOptions
	// warnings are printed on stderr at start (unknown NAUTHERA_ variables).
	warnings []string
}

// envName is the environment variable that sets a flag: NAUTHERA_ and the
// flag's name in upper case with underscores (--resync-interval:
// NAUTHERA_RESYNC_INTERVAL). The Helm chart sets flags that way.
func envName(flagName string) string {
	return "NAUTHERA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// notFlags are the NAUTHERA_ variables that are not flags: read by the test
// bed, the benchmarks and the test binary, never by the operator.
var notFlags = []string{"NAUTHERA_RUN_ID", "NAUTHERA_TEST_", "NAUTHERA_BENCH_"}

// unknownEnv lists the NAUTHERA_ variables in environ (KEY=value entries)
// that set no flag of fs: a misspelled NAUTHERA_RESYNC_INTERVL would
// otherwise leave the default in force in silence. It is a warning, not an
// error, so that a variable of a newer chart does not stop an older
// operator.
func unknownEnv(fs *flag.FlagSet, environ []string) []string {
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "NAUTHERA_") || known[name] || slices.ContainsFunc(notFlags, func(p string) bool {
			return name == p || (strings.HasSuffix(p, "_") && strings.HasPrefix(name, p))
		}) {
			continue
		}
		out = append(out, fmt.Sprintf("warning: %s sets no flag and is ignored (the variables are NAUTHERA_ and a flag's name, e.g. NAUTHERA_RESYNC_INTERVAL)", name))
	}
	slices.Sort(out)
	return out
}

// setFromEnv sets the flags of fs whose environment variable is set,
// through the flag's own parser: a value it refuses (a duration without a
// unit, a bool spelled "yes") stops the operator at start with an error
// naming the variable, instead of being ignored for the default.
func setFromEnv(fs *flag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a valid value for --%s: want %s", name, v, f.Name, want(f)))
			}
		}
	})
	return errors.Join(errs...)
}

// want says what a flag accepts (the flag package's own errors only say
// "parse error").
func want(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "a string"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration with a unit, such as 90s or 10m"
	case bool:
		return "true or false"
	case int:
		return "a whole number"
	default:
		return "a string"
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("nauthera", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address of the Go profiler (net/http/pprof under /debug/pprof/); 0 turns it off. Bind it to 127.0.0.1 (kubectl port-forward): it is unauthenticated.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	fs.StringVar(&o.keycloakURL, "keycloak-url", "", "Base URL of the default Keycloak, used by AuthServers that name no other.")
	fs.StringVar(&o.keycloakAdminRealm, "keycloak-admin-realm", "master", "Realm of the Keycloak admin credentials.")
	fs.StringVar(&o.keycloakAdminSecret, "keycloak-admin-secret", "", "Secret (namespace/name) with the admin credentials of the default Keycloak: username and password, or client_id and client_secret.")
	fs.StringVar(&o.keycloakAdminDir, "keycloak-admin-credentials-dir", "", "Folder with the admin credentials as files (a mounted Secret); used when --keycloak-admin-secret is empty.")
	fs.StringVar(&o.keycloakAuth, "keycloak-auth", "secret", "How the operator logs in to the default Keycloak: secret (the admin credentials of --keycloak-admin-secret or --keycloak-admin-credentials-dir) or federated-jwt (no password: its own service-account token, --keycloak-token-file, authenticates the admin client --keycloak-client-id; see docs/guides/passwordless.md).")
	fs.StringVar(&o.keycloakClientID, "keycloak-client-id", "", "Admin client of the admin realm that the operator logs in as with --keycloak-auth=federated-jwt.")
	fs.StringVar(&o.keycloakTokenFile, "keycloak-token-file", "/var/run/secrets/nauthera.io/keycloak/token", "Projected service-account token (audience: --keycloak-token-audience) presented with --keycloak-auth=federated-jwt; read again at every login.")
	fs.StringVar(&o.keycloakTokenAudience, "keycloak-token-audience", "", "Audience of the operator's service-account tokens for Keycloak (also of those it requests for an AuthServer's spec.adminIdentity); empty: <keycloak-url>/realms/<keycloak-admin-realm>.")
	fs.IntVar(&o.keycloakMaxInFlight, "keycloak-max-inflight", keycloak.DefaultMaxInFlight, "Requests in flight to one Keycloak at most, whatever the reconcile concurrency; requests also wait while Keycloak asks for a pause (429/503 with Retry-After).")
	fs.DurationVar(&o.keycloakTimeout, "keycloak-timeout", 10*time.Second, "Timeout of each request to Keycloak (creating or deleting a realm: at least a minute).")
	fs.DurationVar(&o.resync, "resync-interval", 24*time.Hour, "How often every Ready object is compared with Keycloak in full: the safety net behind drift detection from admin events (--drift-interval).")
	fs.DurationVar(&o.driftInterval, "drift-interval", 10*time.Second, "How often each realm's Keycloak admin events are read to find and revert changes made by others (one request per realm when nothing happened); 0 turns drift detection off, leaving the full resync alone.")
	fs.DurationVar(&o.maxBackoff, "max-backoff", 5*time.Minute, "Longest delay between retries after transient failures.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	fs.IntVar(&o.concurrency, "max-concurrent-reconciles", 16, "Reconciles running in parallel per kind; Keycloak requests are bounded separately (--keycloak-max-inflight).")
	fs.BoolVar(&o.restartWorkloads, "restart-workloads", false, "Roll Deployments and StatefulSets annotated auth.nauthera.io/restart-on-rotation=<authclient> when that AuthClient's credentials change (needs list and patch on them).")
	fs.StringVar(&o.logFormat, "log-format", "json", "Log format: json or console.")
	fs.StringVar(&o.logLevel, "log-level", "info", "Log level: debug, info or error.")
	fs.IntVar(&o.webhook.port, "webhook-port", 0, "Port of the admission webhooks for AuthClients and AuthPolicies (validating; and the finalizer of a new AuthClient, mutating); 0 disables them (the Helm chart enables them).")
	fs.StringVar(&o.webhook.certDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Folder with the webhook's tls.crt and tls.key.")
	fs.StringVar(&o.webhook.certManagement, "webhook-cert-management", "operator", "Who provides the webhook certificate: operator (generated and rotated by the operator in --webhook-secret, CA injected into --webhook-configuration) or external (files in --webhook-cert-dir, e.g. from cert-manager).")
	fs.StringVar(&o.webhook.secret, "webhook-secret", "", "Secret (namespace/name) where the operator keeps the webhook's CA and certificate (--webhook-cert-management=operator); it is mounted at --webhook-cert-dir.")
	fs.StringVar(&o.webhook.service, "webhook-service", "", "DNS name the webhook certificate must cover, e.g. nauthera-webhook.nauthera-system.svc.")
	fs.StringVar(&o.webhook.extraDNSNames, "webhook-extra-dns-names", "", "Comma-separated extra DNS names for the webhook certificate.")
	fs.BoolVar(&o.webhook.failClosed, "webhook-fail-closed", false, "Refuse an AuthClient whose AuthServer or AuthPolicies the webhook cannot read, instead of admitting it with a warning (the chart sets it with webhook.failurePolicy: Fail).")
	fs.StringVar(&o.webhook.configuration, "webhook-configuration", "nauthera", "Name of the ValidatingWebhookConfiguration and the MutatingWebhookConfiguration (the finalizer at create) whose CA bundles the operator keeps up to date.")
	// The environment first, so that a flag on the command line wins.
	if err := setFromEnv(fs); err != nil {
		return nil, err
	}
	o.warnings = unknownEnv(fs, os.Environ())
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := o.webhook.validate(); err != nil {
		return nil, err
	}
	if err := o.validateAuth(); err != nil {
		return nil, err
	}
	if o.keycloakAdminSecret != "" {
		if ns, name, ok := strings.Cut(o.keycloakAdminSecret, "/"); !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("%s must be namespace/name, got %q", flagRef("keycloak-admin-secret"), o.keycloakAdminSecret)
		}
	}
	return o, nil
}

// flagRef names a flag the way an operator may have set it: on the command
// line or in the environment.
func flagRef(name string) string { return "--" + name + " (" + envName(name) + ")" }

// validate refuses values the flag parsers accept but the operator cannot
// run with: a zero resync would hot-loop, a negative concurrency would
// start no worker, a typo in a namespace would watch nothing.
func (o *options) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"resync-interval", o.resync}, {"max-backoff", o.maxBackoff}, {"keycloak-timeout", o.keycloakTimeout}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 10m, got %s", flagRef(d.name), d.d))
		}
	}
	if o.driftInterval < 0 || o.driftInterval > 0 && o.driftInterval < time.Second {
		// Below a second (a typo such as 10ms) every realm would be read
		// hundreds of times a second.
		errs = append(errs, fmt.Errorf("%s must be at least 1s, such as 10s, or 0 to turn drift detection off, got %s", flagRef("drift-interval"), o.driftInterval))
	}
	if o.concurrency < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", flagRef("max-concurrent-reconciles"), o.concurrency))
	}
	if o.keycloakMaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("%s must be 0 (the default of %d) or more, got %d", flagRef("keycloak-max-inflight"), keycloak.DefaultMaxInFlight, o.keycloakMaxInFlight))
	}
	if o.webhook.port < 0 || o.webhook.port > 65535 {
		errs = append(errs, fmt.Errorf("%s must be a port (1-65535) or 0 to disable the webhook, got %d", flagRef("webhook-port"), o.webhook.port))
	}
	if o.keycloakURL != "" {
		u, err := url.Parse(o.keycloakURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("%s must be an http or https URL, got %s", flagRef("keycloak-url"), quotedURL(o.keycloakURL)))
		case u.User != nil:
			// Not quoted: the user info may hold a password.
			errs = append(errs, fmt.Errorf("%s must not carry a user or password (user@ in %s://...@%s); give the admin credentials in --keycloak-admin-secret or --keycloak-admin-credentials-dir", flagRef("keycloak-url"), u.Scheme, u.Host))
		}
	}
	for _, ns := range strings.Split(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a namespace name: %s", flagRef("watch-namespaces"), ns, strings.Join(msgs, "; ")))
			}
		}
	}
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("%s must be debug, info or error, got %q", flagRef("log-level"), o.logLevel))
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		errs = append(errs, fmt.Errorf("%s must be json or console, got %q", flagRef("log-format"), o.logFormat))
	}
	return errors.Join(errs...)
}

// quotedURL quotes raw for an error message, with any password masked
// (url.Redacted); a URL that does not even parse is not quoted if it has an
// @, which may follow a password.
func quotedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return strconv.Quote(u.Redacted())
	}
	if strings.Contains(raw, "@") {
		return "a value with an @ (not quoted: it may hold a password)"
	}
	return strconv.Quote(raw)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == bootstrap.Command {
		os.Exit(bootstrap.Main(os.Args[2:]))
	}
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, w := range o.warnings {
		fmt.Fprintln(os.Stderr, w)
	}
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "Operator stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	level := zapcore.InfoLevel
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	encoder := crzap.JSONEncoder()
	if o.logFormat == "console" {
		encoder = crzap.ConsoleEncoder()
	}
	ctrl.SetLogger(crzap.New(encoder, crzap.Level(level)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := authv1.AddToScheme(scheme); err != nil {
		return err
	}

	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := waitForAPIServer(ctx, restCfg, log, o.probeAddr); err != nil {
		return fmt.Errorf("waiting for the Kubernetes API server: %w", err)
	}
	mgr, err := ctrl.NewManager(restCfg, managerOptions(o, scheme))
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	kcMetrics := keycloak.NewMetrics()
	if err := kcMetrics.Register(metrics.Registry); err != nil {
		return err
	}
	// Gauges of the objects' status, read from the manager's cache at scrape time.
	if err := metrics.Registry.Register(statusmetrics.NewStatusCollector(mgr.GetClient(), mgr.Elected())); err != nil {
		return err
	}
	conns := &connection.Resolver{
		Reader: mgr.GetAPIReader(),
		Pool:   &keycloak.Pool{Metrics: kcMetrics, Timeout: o.keycloakTimeout, MaxInFlight: o.keycloakMaxInFlight},
		Defaults: connection.Defaults{
			URL: o.keycloakURL, AdminRealm: o.keycloakAdminRealm, CredentialsDir: o.keycloakAdminDir,
			Audience: o.keycloakTokenAudience,
		},
		Tokens: connection.ServiceAccountTokens{Client: kubernetes.NewForConfigOrDie(restCfg)},
	}
	if o.keycloakAuth == authFederatedJWT {
		conns.Defaults.ClientID, conns.Defaults.TokenFile = o.keycloakClientID, o.keycloakTokenFile
	}
	if ns, name, ok := strings.Cut(o.keycloakAdminSecret, "/"); ok {
		conns.Defaults.CredentialsSecret = types.NamespacedName{Namespace: ns, Name: name}
	}

	// The field indexes first: the reconcilers share them.
	if err := controllers.SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	var drift *controllers.DriftWatch
	if o.driftInterval > 0 {
		drift = controllers.NewDriftWatch(mgr.GetClient(), conns, o.driftInterval)
		if err := drift.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if err := (&controllers.AuthServerReconciler{
		Client: mgr.GetClient(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"), Drift: drift,
		Resync: o.resync, MaxConcurrentReconciles: o.concurrency, MaxBackoff: o.maxBackoff,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controllers.AuthClientReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"), Drift: drift,
		Resync: o.resync, MaxConcurrentReconciles: o.concurrency, MaxBackoff: o.maxBackoff,
		RestartWorkloads: o.restartWorkloads, SecretNamespaces: strings.Split(o.watchNamespaces, ","),
	}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&controllers.UserStoreReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("nauthera"), MaxConcurrentReconciles: o.concurrency,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controllers.AuthPolicyReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("nauthera"), MaxConcurrentReconciles: o.concurrency,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := setupWebhook(ctx, mgr, o, log); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("Starting operator", "keycloakUrl", o.keycloakURL, "watchNamespaces", o.watchNamespaces, "resyncInterval", o.resync.String(), "driftInterval", o.driftInterval.String())
	return mgr.Start(ctx)
}

// managerOptions builds the manager's options. The Secret cache holds only
// the Secrets the operator writes, so it never lists every Secret of the
// cluster into memory.
func managerOptions(o *options, scheme *runtime.Scheme) ctrl.Options {
	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "nauthera.auth.nauthera.io",
		LeaderElectionNamespace:       o.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       ptr(30 * time.Second),
		Cache:                         controllers.CacheOptions(),
	}
	if o.webhook.port > 0 {
		opts.WebhookServer = webhook.NewServer(webhook.Options{Port: o.webhook.port, CertDir: o.webhook.certDir})
	}
	if o.watchNamespaces != "" {
		opts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(o.watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				opts.Cache.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	return opts
}

func ptr[T any](v T) *T { return &v }
