package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// NotApplied is the permanent failure for changes Keycloak accepted (2xx)
// but did not make to the object named by what (`client "x"`); kind is the
// Nauthera kind whose spec asked for them. The message starts with a
// fingerprint of the change set (see StillNotApplied).
func NotApplied(what string, changes []string, kind string) error {
	return Permanent(authv1.ReasonChangeNotApplied, "%s: %s; they are not written again until the %s's spec changes",
		notAppliedHead(what, changes), strings.Join(changes, ", "), kind)
}

// StillNotApplied reports whether obj already reports, for its current
// generation, that Keycloak did not make these changes: writing them again
// would not help. It compares a stable key, the fingerprint of the change
// set in the message's head, not the whole message: the reporter truncates
// long messages, and a long change list compared in full would never match
// and be written again at every resync.
func StillNotApplied(obj Object, what string, changes []string) bool {
	return StillNotAppliedOn(obj, authv1.ReadyCondition, what, changes)
}

// StillNotAppliedOn is StillNotApplied for a failure reported on another
// condition, whose message may quote the failure after words of its own.
func StillNotAppliedOn(obj Object, condition, what string, changes []string) bool {
	c := meta.FindStatusCondition(obj.GetConditions(), condition)
	return c != nil && c.Reason == authv1.ReasonChangeNotApplied && c.ObservedGeneration == obj.GetGeneration() &&
		strings.Contains(c.Message, notAppliedHead(what, changes)+":")
}

func notAppliedHead(what string, changes []string) string {
	return fmt.Sprintf("Keycloak accepted but did not apply these changes to %s (change set %s)", what, changeSet(changes))
}

// changeSet fingerprints a list of changes, whatever their order.
func changeSet(changes []string) string {
	sorted := slices.Sorted(slices.Values(changes))
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	return hex.EncodeToString(sum[:6])
}
