package keycloak

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v14"
)

// A realm create or delete may take longer than the per-request timeout
// and still succeed; every other request keeps the short one. A local HTTP
// server stands in for a Keycloak that is slow to store a realm (Keycloak's
// behaviour is tested elsewhere against the real server): it answers the
// token request at once and everything else after delay.
func TestRealmCreateAndDeleteOutlastTheRequestTimeout(t *testing.T) {
	const timeout, delay = 50 * time.Millisecond, 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t","expires_in":60,"token_type":"Bearer"}`))
			return
		}
		select {
		case <-time.After(delay): // the slow store this test is about
		case <-r.Context().Done():
			return
		}
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"/r")
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Timeout: timeout, Credentials: Credentials{Username: "admin", Password: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRealm(t.Context(), gocloak.RealmRepresentation{Realm: gocloak.StringP("r")}); err != nil {
		t.Errorf("a realm create slower than the %s request timeout failed: %v", timeout, err)
	}
	if err := c.DeleteRealm(t.Context(), "r"); err != nil {
		t.Errorf("a realm delete slower than the %s request timeout failed: %v", timeout, err)
	}
	if err := c.UpdateRealm(t.Context(), gocloak.RealmRepresentation{Realm: gocloak.StringP("r")}); err == nil {
		t.Errorf("a realm update slower than the %s request timeout succeeded; only creates and deletes get the longer timeout", timeout)
	}
}
