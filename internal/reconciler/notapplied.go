package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// NotApplied is the permanent failure for changes Keycloak accepted (2xx)
// but did not make to the object named by what (`client "x"`); want is the
// representation that was written (its values, not only the names of the
// fields in changes, go into the fingerprint; it must hold no secret); kind
// is the Nauthera kind whose spec asked for them. The message starts with a
// fingerprint of the change set (see StillNotApplied).
func NotApplied(what string, changes []string, want any, kind string) error {
	return Permanent(authv1.ReasonChangeNotApplied, "%s: %s; they are not written again until the %s's spec changes",
		notAppliedHead(what, changes, want), strings.Join(changes, ", "), kind)
}

// StillNotApplied reports whether obj already reports, for its current
// generation, that Keycloak did not make these changes to these values
// (want): writing them again would not help. A desired value that changed
// without a new generation (a newly discovered issuer, a policy's value)
// is another change set, written again. It compares a stable key, the fingerprint of the change
// set in the message's head, not the whole message: the reporter truncates
// long messages, and a long change list compared in full would never match
// and be written again at every resync.
func StillNotApplied(obj Object, what string, changes []string, want any) bool {
	return StillNotAppliedOn(obj, authv1.ReadyCondition, what, changes, want)
}

// StillNotAppliedOn is StillNotApplied for a failure reported on another
// condition, whose message may quote the failure after words of its own.
func StillNotAppliedOn(obj Object, condition, what string, changes []string, want any) bool {
	c := meta.FindStatusCondition(obj.GetConditions(), condition)
	return c != nil && c.Reason == authv1.ReasonChangeNotApplied && c.ObservedGeneration == obj.GetGeneration() &&
		strings.Contains(c.Message, notAppliedHead(what, changes, want)+":")
}

func notAppliedHead(what string, changes []string, want any) string {
	return fmt.Sprintf("Keycloak accepted but did not apply these changes to %s (change set %s)", what, changeSet(changes, want))
}

// changeSet fingerprints a list of changes, whatever their order, and the
// values written (want, as JSON: encoding/json writes struct fields in
// order and map keys sorted, so equal values give equal bytes).
func changeSet(changes []string, want any) string {
	sorted := slices.Sorted(slices.Values(changes))
	h := sha256.New()
	h.Write([]byte(strings.Join(sorted, "\x00")))
	h.Write([]byte{0})
	if b, err := json.Marshal(want); err == nil {
		h.Write(b)
	} else {
		// Not expected for Keycloak representations; a value that cannot
		// be encoded still yields a key, from its Go syntax.
		_, _ = fmt.Fprintf(h, "%#v", want) // a hash.Hash never returns an error
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}
