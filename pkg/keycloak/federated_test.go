package keycloak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Federated-JWT credentials: one pooled client per token source, never two
// sources behind one key, and neither the token nor its file's content in
// any message.
func TestFederatedCredentials(t *testing.T) {
	p := &Pool{Metrics: NewMetrics()}
	get := func(c Credentials) (*AdminClient, error) {
		return p.Get(Config{URL: "http://kc:8080", Credentials: c})
	}
	file, err := get(Credentials{ClientID: "nauthera-operator", TokenFile: "/var/run/token"})
	if err != nil {
		t.Fatal(err)
	}
	src := func(context.Context) (string, error) { return "", nil }
	a, errA := get(Credentials{ClientID: "realm-a", Assertion: src, AssertionFrom: "ServiceAccount security/a"})
	b, errB := get(Credentials{ClientID: "realm-a", Assertion: src, AssertionFrom: "ServiceAccount security/b"})
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b || a == file {
		t.Error("two token sources share one client (and its admin token)")
	}
	if again, _ := get(Credentials{ClientID: "realm-a", Assertion: src, AssertionFrom: "ServiceAccount security/a"}); again != a {
		t.Error("the same token source got a new client")
	}
	if _, err := get(Credentials{ClientID: "realm-a", Assertion: src}); err == nil {
		t.Error("a token source without a name was pooled: the pool could not tell two apart")
	}
	if s := fmt.Sprintf("%v %#v", Credentials{ClientID: "c", TokenFile: "/var/run/token"}, Credentials{ClientID: "c", Assertion: src, AssertionFrom: "ServiceAccount s/a"}); !strings.Contains(s, "federated JWT from /var/run/token") || !strings.Contains(s, "ServiceAccount s/a") {
		t.Errorf("String: %s", s)
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("eyJ.token.sig\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadTokenFile(path); err != nil || tok != "eyJ.token.sig" {
		t.Errorf("got %q, %v", tok, err)
	}
	if err := os.WriteFile(path, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(path); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
	_, err := ReadTokenFile(filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "projected volume") || strings.Count(err.Error(), dir) != 1 {
		t.Errorf("missing file: %v (want the path once and a hint)", err)
	}
}
