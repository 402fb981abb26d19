package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("NAUTHERA_RESYNC_INTERVAL", "90s")
	t.Setenv("NAUTHERA_KEYCLOAK_URL", "http://kc:8080")
	o, err := parseFlags([]string{"--watch-namespaces=a, b", "--keycloak-admin-secret=ops/kc-admin"})
	if err != nil {
		t.Fatal(err)
	}
	if o.resync != 90*time.Second || o.keycloakURL != "http://kc:8080" || o.logFormat != "json" {
		t.Errorf("env defaults not applied: %+v", o)
	}
	opts := managerOptions(o, nil)
	if len(opts.Cache.DefaultNamespaces) != 2 || opts.Cache.ByObject == nil {
		t.Errorf("watched namespaces %v, secret cache restricted: %v", opts.Cache.DefaultNamespaces, opts.Cache.ByObject != nil)
	}

	for args, want := range map[string]string{
		"--keycloak-admin-secret=kc-admin": "must be namespace/name",
		"--log-format=xml":                 "must be json or console",
	} {
		if _, err := parseFlags([]string{args}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want error %q, got %v", args, want, err)
		}
	}
}
