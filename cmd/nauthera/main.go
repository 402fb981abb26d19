// Command nauthera runs the Nauthera operator: it provisions Keycloak realms
// and OIDC clients from AuthServer and AuthClient objects. This file parses
// flags and wires the manager; behaviour lives in controllers/ and pkg/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
	"github.com/nauthera/nauthera/controllers"
	"github.com/nauthera/nauthera/internal/connection"
	"github.com/nauthera/nauthera/internal/statusmetrics"
	"github.com/nauthera/nauthera/pkg/keycloak"
)

type options struct {
	metricsAddr, probeAddr string
	leaderElect            bool
	restartWorkloads       bool
	leaderElectionNS       string
	keycloakURL            string
	keycloakAdminRealm     string
	keycloakAdminSecret    string
	keycloakAdminDir       string
	keycloakTimeout        time.Duration
	keycloakMaxInFlight    int
	resync                 time.Duration
	maxBackoff             time.Duration
	watchNamespaces        string
	concurrency            int
	logFormat, logLevel    string
	webhook                webhookOptions
}

// env returns the environment variable NAUTHERA_<NAME> or def, so every
// flag can also be set from the environment (the Helm chart does that).
func env(name, def string) string {
	if v, ok := os.LookupEnv("NAUTHERA_" + name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(env(name, "")); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(name, "")); err == nil {
		return d
	}
	return def
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("nauthera", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", env("METRICS_BIND_ADDRESS", ":8080"), "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", env("HEALTH_PROBE_BIND_ADDRESS", ":8081"), "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&o.leaderElect, "leader-elect", env("LEADER_ELECT", "false") == "true", "Elect a leader so that only one replica reconciles.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", env("LEADER_ELECTION_NAMESPACE", ""), "Namespace of the leader election lease (default: the pod's namespace).")
	fs.StringVar(&o.keycloakURL, "keycloak-url", env("KEYCLOAK_URL", ""), "Base URL of the default Keycloak, used by AuthServers that name no other.")
	fs.StringVar(&o.keycloakAdminRealm, "keycloak-admin-realm", env("KEYCLOAK_ADMIN_REALM", "master"), "Realm of the Keycloak admin credentials.")
	fs.StringVar(&o.keycloakAdminSecret, "keycloak-admin-secret", env("KEYCLOAK_ADMIN_SECRET", ""), "Secret (namespace/name) with the admin credentials of the default Keycloak: username and password, or client_id and client_secret.")
	fs.StringVar(&o.keycloakAdminDir, "keycloak-admin-credentials-dir", env("KEYCLOAK_ADMIN_CREDENTIALS_DIR", ""), "Folder with the admin credentials as files (a mounted Secret); used when --keycloak-admin-secret is empty.")
	fs.IntVar(&o.keycloakMaxInFlight, "keycloak-max-inflight", envInt("KEYCLOAK_MAX_INFLIGHT", keycloak.DefaultMaxInFlight), "Requests in flight to one Keycloak at most, whatever the reconcile concurrency; requests also wait while Keycloak asks for a pause (429/503 with Retry-After).")
	fs.DurationVar(&o.keycloakTimeout, "keycloak-timeout", envDuration("KEYCLOAK_TIMEOUT", 10*time.Second), "Timeout of each request to Keycloak.")
	fs.DurationVar(&o.resync, "resync-interval", envDuration("RESYNC_INTERVAL", 10*time.Minute), "How often Ready objects are compared with Keycloak to revert drift.")
	fs.DurationVar(&o.maxBackoff, "max-backoff", envDuration("MAX_BACKOFF", 5*time.Minute), "Longest delay between retries after transient failures.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", env("WATCH_NAMESPACES", ""), "Comma-separated namespaces to watch; empty watches all.")
	fs.IntVar(&o.concurrency, "max-concurrent-reconciles", envInt("MAX_CONCURRENT_RECONCILES", 16), "Reconciles running in parallel per kind; Keycloak requests are bounded separately (--keycloak-max-inflight).")
	fs.BoolVar(&o.restartWorkloads, "restart-workloads", env("RESTART_WORKLOADS", "false") == "true", "Roll Deployments and StatefulSets annotated auth.nauthera.io/restart-on-rotation=<authclient> when that AuthClient's credentials change (needs list and patch on them).")
	fs.StringVar(&o.logFormat, "log-format", env("LOG_FORMAT", "json"), "Log format: json or console.")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "Log level: debug, info or error.")
	fs.IntVar(&o.webhook.port, "webhook-port", envInt("WEBHOOK_PORT", 0), "Port of the validating admission webhook for AuthClients; 0 disables it (the Helm chart enables it).")
	fs.StringVar(&o.webhook.certDir, "webhook-cert-dir", env("WEBHOOK_CERT_DIR", "/tmp/k8s-webhook-server/serving-certs"), "Folder with the webhook's tls.crt and tls.key.")
	fs.StringVar(&o.webhook.certManagement, "webhook-cert-management", env("WEBHOOK_CERT_MANAGEMENT", "operator"), "Who provides the webhook certificate: operator (generated and rotated by the operator in --webhook-secret, CA injected into --webhook-configuration) or external (files in --webhook-cert-dir, e.g. from cert-manager).")
	fs.StringVar(&o.webhook.secret, "webhook-secret", env("WEBHOOK_SECRET", ""), "Secret (namespace/name) where the operator keeps the webhook's CA and certificate (--webhook-cert-management=operator); it is mounted at --webhook-cert-dir.")
	fs.StringVar(&o.webhook.service, "webhook-service", env("WEBHOOK_SERVICE", ""), "DNS name the webhook certificate must cover, e.g. nauthera-webhook.nauthera-system.svc.")
	fs.StringVar(&o.webhook.extraDNSNames, "webhook-extra-dns-names", env("WEBHOOK_EXTRA_DNS_NAMES", ""), "Comma-separated extra DNS names for the webhook certificate.")
	fs.StringVar(&o.webhook.configuration, "webhook-configuration", env("WEBHOOK_CONFIGURATION", "nauthera"), "Name of the ValidatingWebhookConfiguration whose CA bundle the operator keeps up to date.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.webhook.validate(); err != nil {
		return nil, err
	}
	if o.keycloakAdminSecret != "" {
		if ns, name, ok := strings.Cut(o.keycloakAdminSecret, "/"); !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--keycloak-admin-secret must be namespace/name, got %q", o.keycloakAdminSecret)
		}
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		return nil, fmt.Errorf("--log-format must be json or console, got %q", o.logFormat)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
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
		},
	}
	if ns, name, ok := strings.Cut(o.keycloakAdminSecret, "/"); ok {
		conns.Defaults.CredentialsSecret = types.NamespacedName{Namespace: ns, Name: name}
	}

	if err := (&controllers.AuthServerReconciler{
		Client: mgr.GetClient(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"),
		Resync: o.resync, MaxConcurrentReconciles: o.concurrency, MaxBackoff: o.maxBackoff,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controllers.AuthClientReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Connections: conns, Recorder: mgr.GetEventRecorder("nauthera"),
		Resync: o.resync, MaxConcurrentReconciles: o.concurrency, MaxBackoff: o.maxBackoff,
		RestartWorkloads: o.restartWorkloads,
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
	log.Info("Starting operator", "keycloakUrl", o.keycloakURL, "watchNamespaces", o.watchNamespaces, "resyncInterval", o.resync.String())
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
