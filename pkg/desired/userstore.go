package desired

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v14"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// User federation: a UserStore becomes, in each realm that uses it, one
// Keycloak LDAP user-storage component and, with groupSearch, one group
// mapper under it. Keycloak adds its default attribute mappers (username,
// email, first and last name, creation and modification dates) to a new LDAP
// component itself; those are Keycloak's and left alone.
const (
	// ProviderTypeUserStorage is the component type of user federation.
	ProviderTypeUserStorage = "org.keycloak.storage.UserStorageProvider"
	// ProviderTypeLDAPMapper is the component type of LDAP mappers.
	ProviderTypeLDAPMapper = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
	// GroupMapperName names the group mapper Nauthera manages.
	GroupMapperName = "nauthera-groups"
	// ConfigBindCredential is the bind password key; Keycloak masks it on read.
	ConfigBindCredential = "bindCredential"
	// Defaults of the sync periods.
	DefaultFullSyncPeriod    = 24 * time.Hour
	DefaultChangedSyncPeriod = 15 * time.Minute
)

// LDAPComponentName names the component of a UserStore: Nauthera's own
// components are known by this prefix.
func LDAPComponentName(us *authv1.UserStore) string {
	return "nauthera:" + us.Namespace + "/" + us.Name
}

// IsOwnComponentName reports whether a component name is one Nauthera gives.
func IsOwnComponentName(name string) bool { return strings.HasPrefix(name, "nauthera:") }

func seconds(d *time.Duration, def time.Duration) string {
	v := def
	if d != nil {
		v = *d
	}
	return strconv.Itoa(int(v / time.Second))
}

// LDAPComponent is the LDAP user-storage component of us in the realm
// whose internal id is realmID, binding with password (empty for an
// anonymous bind). Read-only: Keycloak never writes to the directory.
func LDAPComponent(us *authv1.UserStore, realmID, password string) gocloak.Component {
	l := us.Spec.LDAP
	uid := l.UserSearch.UsernameAttribute
	if uid == "" {
		uid = "uid"
	}
	classes := l.UserSearch.ObjectClasses
	if len(classes) == 0 {
		classes = []string{"inetOrgPerson", "organizationalPerson"}
	}
	uuid := l.UserSearch.UUIDAttribute
	if uuid == "" {
		uuid = "entryUUID"
	}
	var full, changed *time.Duration
	if l.FullSyncPeriod != nil {
		full = &l.FullSyncPeriod.Duration
	}
	if l.ChangedUsersSyncPeriod != nil {
		changed = &l.ChangedUsersSyncPeriod.Duration
	}
	auth := "none"
	if l.BindDN != "" {
		auth = "simple"
	}
	cfg := map[string][]string{
		"enabled":                     {"true"},
		"priority":                    {"0"},
		"vendor":                      {"other"},
		"connectionUrl":               {l.Server},
		"authType":                    {auth},
		"bindDn":                      {l.BindDN},
		ConfigBindCredential:          {password},
		"usersDn":                     {l.UserSearch.BaseDN},
		"customUserSearchFilter":      {string(l.UserSearch.Filter)},
		"searchScope":                 {"2"}, // the whole subtree
		"usernameLDAPAttribute":       {uid},
		"rdnLDAPAttribute":            {uid},
		"uuidLDAPAttribute":           {uuid},
		"userObjectClasses":           {strings.Join(classes, ", ")},
		"editMode":                    {"READ_ONLY"},
		"importEnabled":               {"true"},
		"syncRegistrations":           {"false"},
		"pagination":                  {"true"},
		"batchSizeForSync":            {"1000"},
		"fullSyncPeriod":              {seconds(full, DefaultFullSyncPeriod)},
		"changedSyncPeriod":           {seconds(changed, DefaultChangedSyncPeriod)},
		"trustEmail":                  {"false"},
		"useTruststoreSpi":            {"always"},
		"connectionPooling":           {"true"},
		"startTls":                    {"false"},
		"cachePolicy":                 {"DEFAULT"},
		"allowKerberosAuthentication": {"false"},
		// Milliseconds: an unanswering server fails fast instead of
		// holding Keycloak's request threads.
		"connectionTimeout": {"5000"},
	}
	return gocloak.Component{
		Name:            gocloak.StringP(LDAPComponentName(us)),
		ProviderID:      gocloak.StringP("ldap"),
		ProviderType:    gocloak.StringP(ProviderTypeUserStorage),
		ParentID:        gocloak.StringP(realmID),
		ComponentConfig: cfg,
	}
}

// GroupMapper is the group mapper of us under the LDAP component parentID.
func GroupMapper(us *authv1.UserStore, parentID string) gocloak.Component {
	g := us.Spec.LDAP.GroupSearch
	name := g.NameAttribute
	if name == "" {
		name = "cn"
	}
	uid := us.Spec.LDAP.UserSearch.UsernameAttribute
	if uid == "" {
		uid = "uid"
	}
	groupClasses := g.ObjectClasses
	if len(groupClasses) == 0 {
		groupClasses = []string{"groupOfNames"}
	}
	cfg := map[string][]string{
		"groups.dn":                            {g.BaseDN},
		"groups.ldap.filter":                   {string(g.Filter)},
		"group.name.ldap.attribute":            {name},
		"group.object.classes":                 {strings.Join(groupClasses, ", ")},
		"membership.ldap.attribute":            {"member"},
		"membership.attribute.type":            {"DN"},
		"membership.user.ldap.attribute":       {uid},
		"mode":                                 {"READ_ONLY"},
		"user.roles.retrieve.strategy":         {"LOAD_GROUPS_BY_MEMBER_ATTRIBUTE"},
		"memberof.ldap.attribute":              {"memberOf"},
		"preserve.group.inheritance":           {"true"},
		"ignore.missing.groups":                {"false"},
		"drop.non.existing.groups.during.sync": {"false"},
		"groups.path":                          {"/"},
	}
	return gocloak.Component{
		Name:            gocloak.StringP(GroupMapperName),
		ProviderID:      gocloak.StringP("group-ldap-mapper"),
		ProviderType:    gocloak.StringP(ProviderTypeLDAPMapper),
		ParentID:        gocloak.StringP(parentID),
		ComponentConfig: cfg,
	}
}

// ComponentDiff names the config keys of want that actual does not match,
// sorted. The bind password is left out: Keycloak shows it masked.
func ComponentDiff(want, actual gocloak.Component) []string {
	var d []string
	w, a := want.ComponentConfig, actual.ComponentConfig
	for k, v := range w {
		if k == ConfigBindCredential {
			continue
		}
		got := a[k]
		// Keycloak drops empty values: an absent key equals [""].
		if len(got) == 0 && len(v) == 1 && v[0] == "" {
			continue
		}
		if !slices.Equal(v, got) {
			d = append(d, k)
		}
	}
	slices.Sort(d)
	return d
}

// MergeComponent returns actual with want's config applied, keeping the
// keys Nauthera does not manage. The bind password is sent only when
// withPassword (else Keycloak keeps the stored one: its mask is sent back).
func MergeComponent(want, actual gocloak.Component, withPassword bool) gocloak.Component {
	out := actual
	cfg := map[string][]string{}
	for k, v := range actual.ComponentConfig {
		cfg[k] = v
	}
	for k, v := range want.ComponentConfig {
		if k == ConfigBindCredential && !withPassword {
			continue
		}
		cfg[k] = v
	}
	out.Name = want.Name
	out.ComponentConfig = cfg
	return out
}
