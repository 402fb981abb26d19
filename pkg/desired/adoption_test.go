package desired

import (
	"fmt"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v14"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

func TestAdoptionAllowed(t *testing.T) {
	p := &authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{
		{Namespaces: []string{"team-a"}, ClientIDs: []string{"legacy-portal", "billing-*"}},
		{Namespaces: []string{"team-b", "team-c"}, ClientIDs: []string{"shop"}},
	}}
	for _, tc := range []struct {
		policy       *authv1.AdoptionPolicy
		ns, clientID string
		want         bool
		what         string
	}{
		{p, "team-a", "legacy-portal", true, "exact clientId"},
		{p, "team-a", "legacy-portal2", false, "exact means exact"},
		{p, "team-a", "billing-api", true, "prefix"},
		{p, "team-a", "billing-", true, "prefix alone"},
		{p, "team-a", "billing", false, "shorter than the prefix"},
		{p, "team-b", "billing-api", false, "another namespace's rule"},
		{p, "team-c", "shop", true, "second namespace of a rule"},
		{p, "team-d", "shop", false, "namespace not listed"},
		{nil, "team-a", "legacy-portal", false, "no policy"},
		{&authv1.AdoptionPolicy{Realm: true}, "team-a", "legacy-portal", false, "realm only"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"*"}}}}, "team-a", "anything", false, "a lone * (refused at admission) matches nothing"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"r*", "a*", "b*", "s*", "realm-management"}}}}, "team-a", "realm-management", false, "Keycloak's realm-management, even listed by name"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"a*"}}}}, "team-a", "admin-cli", false, "Keycloak's admin-cli through a prefix"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"a*"}}}}, "team-a", "account-console", false, "Keycloak's account-console through a prefix"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"s*"}}}}, "team-a", "security-admin-console", false, "Keycloak's admin console through a prefix"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"b*"}}}}, "team-a", "broker", false, "Keycloak's broker through a prefix"},
		{&authv1.AdoptionPolicy{Clients: []authv1.ClientAdoptionRule{{Namespaces: []string{"team-a"}, ClientIDs: []string{"a*"}}}}, "team-a", "account-app", true, "a prefix still matches the team's own clients"},
	} {
		if got := AdoptionAllowed(tc.policy, tc.ns, tc.clientID); got != tc.want {
			t.Errorf("%s: AdoptionAllowed(%s, %s) = %v", tc.what, tc.ns, tc.clientID, got)
		}
	}
}

func TestClientIDMatchesIsLiteral(t *testing.T) {
	// Glob metacharacters other than the trailing * mean themselves.
	if ClientIDMatches("a?c", "abc") || !ClientIDMatches("a?c", "a?c") || ClientIDMatches("[a]*", "a-x") || !ClientIDMatches("[a]*", "[a]-x") {
		t.Error("only a trailing * is special")
	}
}

func handMadeClient() gocloak.Client {
	return gocloak.Client{
		ID: gocloak.StringP("uuid-1"), ClientID: gocloak.StringP("legacy"), Name: gocloak.StringP("Legacy"),
		Enabled: gocloak.BoolP(true), Protocol: gocloak.StringP("openid-connect"), PublicClient: gocloak.BoolP(false),
		StandardFlowEnabled: gocloak.BoolP(true), ServiceAccountsEnabled: gocloak.BoolP(true),
		ClientAuthenticatorType: gocloak.StringP("client-secret"), Secret: gocloak.StringP("s3cr3t-value"),
		RedirectURIs: []string{"https://b/cb", "https://a/cb"}, WebOrigins: []string{"+"},
		Attributes: map[string]string{"pkce.code.challenge.method": ""},
	}
}

func TestClientAdoptionDiff(t *testing.T) {
	actual := handMadeClient()
	want := actual
	want.ID, want.Secret = nil, nil
	want.Name = gocloak.StringP("legacy-app")
	want.RedirectURIs = []string{"https://a/cb"}
	want.ServiceAccountsEnabled = gocloak.BoolP(false)
	want.Attributes = map[string]string{AttrOwner: "team-a/legacy", "pkce.code.challenge.method": ""}
	d := ClientAdoptionDiff(want, actual, []ScopeChange{{Name: "api:read", Add: true}}, "")
	got := map[string]authv1.AdoptionDiffEntry{}
	for _, e := range d.Entries {
		got[e.Field] = e
	}
	for field, w := range map[string][2]string{
		"name":                         {"Legacy", "legacy-app"},
		"redirectUris":                 {"https://a/cb, https://b/cb", "https://a/cb"},
		"serviceAccountsEnabled":       {"true", "false"},
		"attributes." + AttrOwner:      {"", "team-a/legacy"},
		"defaultClientScopes.api:read": {"unassigned", "assigned"},
		"secret":                       {"not shown", "kept"},
	} {
		if e, ok := got[field]; !ok || e.Keycloak != w[0] || e.Desired != w[1] {
			t.Errorf("%s: got %+v, want keycloak %q desired %q", field, e, w[0], w[1])
		}
	}
	if len(got) != 6 {
		t.Errorf("unchanged fields listed: %+v", d.Entries)
	}
	for _, e := range d.Entries {
		if strings.Contains(e.Keycloak+e.Desired, "s3cr3t") {
			t.Fatalf("the secret is in the diff: %+v", e)
		}
	}
	// The secret's value makes no difference to the hash.
	other := actual
	other.Secret = gocloak.StringP("another")
	if ClientAdoptionDiff(want, other, []ScopeChange{{Name: "api:read", Add: true}}, "").Hash != d.Hash {
		t.Error("the hash depends on the secret")
	}
}

// The diff says what the first write does to the secret and what deleting
// the AuthClient does to the client, and both are in what the hash covers.
func TestClientAdoptionDiffSecretlessAndDeletion(t *testing.T) {
	actual := handMadeClient()
	want := actual
	want.ID, want.Secret = nil, nil
	want.ClientAuthenticatorType = gocloak.StringP(AuthenticatorFederatedJWT)
	d := ClientAdoptionDiff(want, actual, nil, "")
	found := false
	for _, e := range d.Entries {
		if e.Field == "secret" {
			found = true
			if e.Desired == "kept" || !strings.Contains(e.Desired, "replaced") {
				t.Errorf("a client going secretless shows its secret as %q", e.Desired)
			}
		}
		if e.Field == "deletionPolicy" {
			t.Errorf("an unset deletionPolicy (Orphan for an adopted client) is listed: %+v", e)
		}
	}
	if !found {
		t.Errorf("no secret entry: %+v", d.Entries)
	}
	withDelete := ClientAdoptionDiff(want, actual, nil, authv1.DeletionPolicyDelete)
	if withDelete.Hash == d.Hash {
		t.Error("deletionPolicy Delete does not change the hash: an ack given for Orphan would delete the client")
	}
	last := withDelete.Entries[len(withDelete.Entries)-1]
	if last.Field != "deletionPolicy" || !strings.Contains(last.Desired, "Delete") {
		t.Errorf("deletionPolicy Delete not shown: %+v", withDelete.Entries)
	}
	if orphan := ClientAdoptionDiff(want, actual, nil, authv1.DeletionPolicyOrphan); orphan.Hash != d.Hash {
		t.Error("an explicit Orphan (the adopted default) changes the diff")
	}
}

func TestAdoptionHashChangesWithKeycloak(t *testing.T) {
	actual := handMadeClient()
	want := actual
	want.Name = gocloak.StringP("new")
	base := ClientAdoptionDiff(want, actual, nil, "").Hash
	edited := actual
	edited.Name = gocloak.StringP("Legacy (edited)")
	if ClientAdoptionDiff(want, edited, nil, "").Hash == base {
		t.Error("a value edited in Keycloak keeps the hash")
	}
	recreated := actual
	recreated.ID = gocloak.StringP("uuid-2")
	if ClientAdoptionDiff(want, recreated, nil, "").Hash == base {
		t.Error("a client made again by hand keeps the hash")
	}
	if ClientAdoptionDiff(want, actual, nil, "").Hash != base {
		t.Error("the hash is not stable")
	}
	if len(base) != 32 {
		t.Errorf("hash %q", base)
	}
}

func TestAdoptionDiffIsBounded(t *testing.T) {
	actual := handMadeClient()
	want := actual
	long := make([]string, 0, 100)
	for i := range 100 {
		long = append(long, fmt.Sprintf("https://app-%03d.example.com/callback", i))
	}
	want.RedirectURIs = long
	want.Attributes = map[string]string{}
	for i := range 40 {
		want.Attributes[fmt.Sprintf("a%02d", i)] = "x"
	}
	shown, omitted := ClientAdoptionDiff(want, actual, nil, "").Shown()
	// redirectUris, 40 attributes and the kept secret.
	if len(shown) != AdoptionDiffMax || omitted != 1+40+1-AdoptionDiffMax {
		t.Fatalf("shown %d, omitted %d", len(shown), omitted)
	}
	for _, e := range shown {
		if e.Field == "redirectUris" {
			if !strings.HasSuffix(e.Desired, " characters)") || len([]rune(e.Desired)) > AdoptionValueMax+30 {
				t.Errorf("long value not shortened: %d characters", len(e.Desired))
			}
			return
		}
	}
	t.Error("redirectUris not among the first entries")
}

func TestRealmAdoptionDiff(t *testing.T) {
	actual := gocloak.RealmRepresentation{ID: gocloak.StringP("r1"), Realm: gocloak.StringP("legacy"), Enabled: gocloak.BoolP(true), DisplayName: gocloak.StringP("Old"), EventsEnabled: gocloak.BoolP(false)}
	as := &authv1.AuthServer{}
	as.Name, as.Namespace, as.Spec.IssuerURL, as.Spec.DisplayName = "legacy", "security", "https://auth.example.com", "Legacy"
	d := RealmAdoptionDiff(Realm(as), actual, authv1.DeletionPolicyOrphan)
	fields := map[string]authv1.AdoptionDiffEntry{}
	for _, e := range d.Entries {
		fields[e.Field] = e
	}
	if e := fields["displayName"]; e.Keycloak != "Old" || e.Desired != "Legacy" {
		t.Errorf("displayName: %+v", e)
	}
	if e := fields["eventsEnabled"]; e.Keycloak != "false" || e.Desired != "true" {
		t.Errorf("eventsEnabled: %+v", e)
	}
	if e := fields["attributes."+AttrOwner]; e.Desired != "security/legacy" {
		t.Errorf("owner: %+v", e)
	}
	if _, ok := fields["enabled"]; ok {
		t.Error("unchanged field listed")
	}
	if _, ok := fields["deletionPolicy"]; ok {
		t.Error("deletionPolicy Orphan (the AuthServer's default) listed")
	}
	del := RealmAdoptionDiff(Realm(as), actual, authv1.DeletionPolicyDelete)
	if last := del.Entries[len(del.Entries)-1]; last.Field != "deletionPolicy" || !strings.Contains(last.Desired, "deletes this realm") || del.Hash == d.Hash {
		t.Errorf("deletionPolicy Delete of an adopted realm not shown or not hashed: %+v", del.Entries)
	}
}

func TestAdoptionStatus(t *testing.T) {
	actual := handMadeClient()
	want := actual
	want.Name = gocloak.StringP("new")
	d := ClientAdoptionDiff(want, actual, nil, "")
	t0, t1 := metav1.Unix(1000, 0), metav1.Unix(2000, 0)
	first := d.PendingStatus(nil, t0)
	if first.Hash != d.Hash || !first.ObservedAt.Equal(&t0) || first.AdoptedAt != nil || len(first.Diff) != len(d.Entries) {
		t.Fatalf("pending: %+v", first)
	}
	// The same diff read again keeps when it was first observed.
	if again := d.PendingStatus(first, t1); !again.ObservedAt.Equal(&t0) {
		t.Errorf("observedAt moved for the same diff: %v", again.ObservedAt)
	}
	// Another diff is observed anew.
	edited := actual
	edited.Name = gocloak.StringP("edited")
	if other := ClientAdoptionDiff(want, edited, nil, "").PendingStatus(first, t1); !other.ObservedAt.Equal(&t1) || other.Hash == first.Hash {
		t.Errorf("a new diff kept the old observation: %+v", other)
	}
	done := d.AdoptedStatus(first, t1)
	if done.AdoptedAt == nil || !done.ObservedAt.Equal(&t0) || len(done.Diff) != 0 {
		t.Errorf("adopted: %+v", done)
	}
	if d.Acknowledged("") || d.Acknowledged(d.Hash[:31]) || !d.Acknowledged(d.Hash) {
		t.Error("only the exact hash acknowledges")
	}
}

// A bring-your-own secret replaces the client's secret after adoption: the
// diff says so, names the Secret, and its hash differs from the diff that
// said "kept" (an acknowledgement of one is not one of the other).
func TestClientAdoptionDiffWithOwnSecret(t *testing.T) {
	actual := handMadeClient()
	want := actual
	want.ID, want.Secret = nil, nil
	d := ClientAdoptionDiff(want, actual, nil, "")
	own := d.WithOwnSecret(gocloak.PString(actual.ID), authv1.ClientSecretReference{Name: "app-creds", Key: "secret"})
	n := 0
	for _, e := range own.Entries {
		if e.Field != "secret" {
			continue
		}
		n++
		if e.Desired == "kept" || !strings.Contains(e.Desired, `"app-creds"`) || strings.Contains(e.Desired, "s3cr3t") {
			t.Errorf("secret entry %+v", e)
		}
	}
	if n != 1 || len(own.Entries) != len(d.Entries) {
		t.Errorf("entries %+v", own.Entries)
	}
	if own.Hash == d.Hash || len(own.Hash) != len(d.Hash) {
		t.Errorf("hash %q against %q", own.Hash, d.Hash)
	}
	// A client without a secret entry (public) gets one.
	pub := actual
	pub.PublicClient = gocloak.BoolP(true)
	if e := ClientAdoptionDiff(want, pub, nil, "").WithOwnSecret("id", authv1.ClientSecretReference{Name: "a", Key: "k"}).Entries; len(e) == 0 || e[len(e)-1].Field != "secret" {
		t.Errorf("no secret entry for a public client: %+v", e)
	}
}
