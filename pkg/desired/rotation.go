package desired

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nauthera/nauthera/pkg/policy"
)

// Secret rotation in a realm is one Keycloak client profile (the
// secret-rotation executor with the policy's periods) and one client policy
// that applies it to the clients carrying the marker attribute. The marker
// is the only reliable selector (docs/design/keycloak-secret-rotation.md): the
// client-access-type condition would also expire the secrets of every
// confidential client Nauthera does not manage.
const (
	// RotationName names the profile and the policy in the realm.
	RotationName = "nauthera-secret-rotation"
	// AttrSecretRotation marks a client whose secret rotates.
	AttrSecretRotation = "nauthera.io/secret-rotation"
	// RotationMarker is the marker's value.
	RotationMarker = "enabled"
	// managedDescription starts the description of what Nauthera owns.
	managedDescription = "Managed by Nauthera"
)

// Client policy JSON. Keycloak's own names; only what Nauthera sends.
type rotationProfile struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Executors   []rotationExecutor `json:"executors"`
}

type rotationExecutor struct {
	Executor      string           `json:"executor"`
	Configuration map[string]int64 `json:"configuration"`
}

type rotationPolicy struct {
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Enabled     bool                `json:"enabled"`
	Conditions  []rotationCondition `json:"conditions"`
	Profiles    []string            `json:"profiles"`
}

type rotationCondition struct {
	Condition     string            `json:"condition"`
	Configuration map[string]string `json:"configuration"`
}

// RotationProfile is the client profile for plan, described for owner
// (the AuthServer) and source (the AuthPolicy).
//
// Keycloak 26.7 answers HTTP 500 when one of the three periods is missing
// and accepts a rotated period above the expiration only to refuse it
// later: all three are always sent, checked here.
func RotationProfile(plan policy.RotationPlan, owner, source string) (json.RawMessage, error) {
	exp, grace := int64(plan.Expiration/time.Second), int64(plan.Grace/time.Second)
	if exp <= 0 || grace <= 0 || grace > exp {
		return nil, fmt.Errorf("secret rotation periods out of range: expiration %ds, grace %ds", exp, grace)
	}
	return json.Marshal(rotationProfile{
		Name:        RotationName,
		Description: fmt.Sprintf("%s (AuthServer %s): secret rotation of AuthPolicy %s, schedule %q; changes made here are reverted", managedDescription, owner, source, plan.Schedule),
		Executors: []rotationExecutor{{Executor: "secret-rotation", Configuration: map[string]int64{
			"expiration-period":         exp,
			"rotated-expiration-period": grace,
			// Only used by dynamic client registration; must not exceed
			// the expiration.
			"remaining-rotation-period": 0,
		}}},
	})
}

// RotationPolicy is the client policy that applies the profile to the
// marked clients.
func RotationPolicy(owner string) (json.RawMessage, error) {
	// The condition's "attributes" must be a JSON-encoded string: Keycloak
	// 26.7 stores a real array (or any string) and then fails every client
	// creation in the realm with HTTP 500.
	attrs, err := json.Marshal([]map[string]string{{"key": AttrSecretRotation, "value": RotationMarker}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(rotationPolicy{
		Name:        RotationName,
		Description: fmt.Sprintf("%s (AuthServer %s): rotates the secrets of clients with attribute %s=%s; changes made here are reverted", managedDescription, owner, AttrSecretRotation, RotationMarker),
		Enabled:     true,
		Conditions:  []rotationCondition{{Condition: "client-attributes", Configuration: map[string]string{"attributes": string(attrs)}}},
		Profiles:    []string{RotationName},
	})
}

// MergeOwned returns list with the entry named name set to want, or
// removed when want is nil, leaving every other entry as it was, and
// whether anything changed. An entry of that name that Nauthera did not
// create is an error: it is never overwritten.
func MergeOwned(list []json.RawMessage, name string, want json.RawMessage) ([]json.RawMessage, bool, error) {
	out := make([]json.RawMessage, 0, len(list)+1)
	found, changed := false, false
	for _, raw := range list {
		var head struct{ Name, Description string }
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, false, fmt.Errorf("cannot read an entry Keycloak returned: %w", err)
		}
		if head.Name != name {
			out = append(out, raw)
			continue
		}
		if !strings.HasPrefix(head.Description, managedDescription) {
			return nil, false, fmt.Errorf("realm already has a client policy or profile named %q that Nauthera did not create; rename or delete it", name)
		}
		found = true
		if want == nil {
			changed = true
			continue
		}
		if !sameJSON(raw, want) {
			changed = true
		}
		out = append(out, want)
	}
	if !found && want != nil {
		out, changed = append(out, want), true
	}
	return out, changed, nil
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
