package keycloak

import "testing"

func TestPoolSharesOneClientPerServerAndCredentials(t *testing.T) {
	p := &Pool{Metrics: NewMetrics()}
	admin := Config{URL: "http://kc:8080", Credentials: Credentials{Username: "admin", Password: "a"}}
	sa := Config{URL: "http://kc:8080", Credentials: Credentials{ClientID: "ops", ClientSecret: "b"}}
	get := func(c Config) *AdminClient {
		t.Helper()
		ac, err := p.Get(c)
		if err != nil {
			t.Fatal(err)
		}
		return ac
	}
	a1, s1 := get(admin), get(sa)
	// Alternating between two credential sets must not replace either client
	// (each replacement would cost a new admin login).
	if a2, s2 := get(admin), get(sa); a1 != a2 || s1 != s2 || a1 == s1 {
		t.Error("want one shared client per server and credentials")
	}
	admin.AdminRealm = "master"
	if get(admin) != a1 {
		t.Error("an empty admin realm means master")
	}
	rotated := admin
	rotated.Credentials.Password = "new"
	if get(rotated) == a1 {
		t.Error("new credentials need a new client")
	}
	if _, err := p.Get(Config{URL: "http://kc:8080"}); err == nil {
		t.Error("missing credentials must be refused")
	}
}
