package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ServiceAccountIssuer is the service-account token issuer of a test API
// server, published so that a Keycloak can check the tokens it signs, as a
// real cluster's must be for secretless clients.
type ServiceAccountIssuer struct {
	// URL is the issuer: https://127.0.0.1:<port>, the iss of its tokens.
	URL string
	// CAFile is a PEM file of the CA that signed the API server's serving
	// certificate (written by Publish): Keycloak trusts it through
	// KC_TRUSTSTORE_PATHS.
	CAFile string
}

// PrepareServiceAccountIssuer configures env, before it starts, so that its
// API server serves on a port chosen here and publishes its issuer
// https://127.0.0.1:<port>: without envtest's trailing slash (Keycloak
// appends /.well-known/openid-configuration to the issuer, and would ask for
// //.well-known/...) and with a jwks_uri on that address (the default names
// the advertised address, which Keycloak may not reach).
func PrepareServiceAccountIssuer(env *envtest.Environment) (*ServiceAccountIssuer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return nil, err
	}
	api := env.ControlPlane.GetAPIServer()
	api.SecureServing.Address, api.SecureServing.Port = "127.0.0.1", strconv.Itoa(port)
	issuer := "https://127.0.0.1:" + strconv.Itoa(port)
	api.Configure().
		Set("service-account-issuer", issuer).
		Set("service-account-jwks-uri", issuer+"/openid/v1/jwks").
		Set("anonymous-auth", "true")
	return &ServiceAccountIssuer{URL: issuer}, nil
}

// Publish, once env has started, writes the API server's CA into dir (for
// Keycloak's truststore) and lets anonymous requests read the issuer's
// discovery document and keys, as a cluster must for a Keycloak that does
// not authenticate to it:
//
//	kubectl create clusterrolebinding service-account-issuer-discovery-anonymous \
//	  --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated
func (i *ServiceAccountIssuer) Publish(env *envtest.Environment, cfg *rest.Config, dir string) error {
	ca := env.ControlPlane.GetAPIServer().SecureServing.CA
	if len(ca) == 0 {
		return fmt.Errorf("the test API server has no CA (not started?)")
	}
	i.CAFile = filepath.Join(dir, "kube-apiserver-ca.pem")
	if err := os.WriteFile(i.CAFile, ca, 0o644); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "service-account-issuer-discovery-anonymous"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:unauthenticated"}},
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// StartWithServiceAccountIssuer starts a control plane (ControlPlane) whose
// API server publishes its service-account issuer
// (PrepareServiceAccountIssuer). That port is chosen before the API server
// binds it, and something else may take it meanwhile (an outbound
// connection's local port comes from the same range); envtest retries on
// the same port, so a fresh environment on a fresh port is tried, up to
// three times.
func StartWithServiceAccountIssuer(withCRDs bool) (*envtest.Environment, *ServiceAccountIssuer, *rest.Config, error) {
	var errs []error
	for range 3 {
		env, err := ControlPlane(withCRDs)
		if err != nil {
			return nil, nil, nil, err
		}
		issuer, err := PrepareServiceAccountIssuer(env)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg, err := StartControlPlane(env)
		if err == nil {
			return env, issuer, cfg, nil
		}
		fmt.Fprintf(os.Stderr, "testbed: the API server did not start on %s (%v); trying another port\n", issuer.URL, err)
		errs = append(errs, err)
	}
	return nil, nil, nil, errors.Join(errs...)
}
