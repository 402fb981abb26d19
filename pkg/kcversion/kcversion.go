// Package kcversion decides what a Keycloak server can do for Nauthera from
// what the server says about itself: its version (GET /admin/serverinfo
// systemInfo.version, which Keycloak 26.4 shows to admins of the master
// realm only) and its enabled features (the same answer's features list,
// which every realm admin sees). It is pure: the controllers read the server through
// pkg/keycloak and report what Check and Supported decide.
//
// The range and the per-version differences were measured on the servers
// (docs/operations/keycloak-versions.md); a change to a constant here needs
// the same evidence.
package kcversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is the numeric part of a Keycloak version.
type Version struct {
	Major, Minor, Patch int
}

// String prints the version as Keycloak does, e.g. 26.4.0.
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// Parse reads the leading major.minor.patch of a Keycloak version string.
// Hand-written rather than golang.org/x/mod/semver: Keycloak's versions
// are not semver (product builds append ".redhat-00001", snapshots are
// "999.0.0-SNAPSHOT"), and only the numeric triple decides anything here.
// A missing patch counts as 0; ok is false when the string does not start
// with major.minor ("nightly", "26-SNAPSHOT"): a guess at the minor could
// refuse a supported server.
func Parse(s string) (v Version, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.SplitN(s, ".", 4)
	nums := make([]int, 0, 3)
	for i, p := range parts {
		if i == 3 {
			break
		}
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			break
		}
		nums = append(nums, n)
		if end < len(p) {
			break // a suffix such as -SNAPSHOT ends the numbers
		}
	}
	if len(nums) < 2 {
		return Version{}, false
	}
	for len(nums) < 3 {
		nums = append(nums, 0)
	}
	return Version{nums[0], nums[1], nums[2]}, true
}

// Oldest is the oldest Keycloak the operator is tested on and supports.
// Older servers are refused: the AuthServer reports KeycloakVersionUnsupported.
var Oldest = Version{26, 4, 0}

// Newest is the newest Keycloak the operator is tested on (the test bed's
// default). Newer servers are used; they are not refused.
var Newest = Version{26, 7, 3}

// Server is what the operator knows about a Keycloak server.
type Server struct {
	// Version is systemInfo.version; "" when the admin identity may not
	// see it (on 26.4, an admin of a realm other than master).
	Version string
	// Features are the enabled features by Keycloak's name (such as
	// CLIENT_SECRET_ROTATION); nil when unknown.
	Features map[string]bool
}

// MaxVersionLength bounds the version as recorded (the AuthServer's
// status.keycloakVersion has +kubebuilder:validation:MaxLength=64).
const MaxVersionLength = 64

// Clean makes what a server says its version is fit for the status and
// messages: printable ASCII only (control characters and the like are
// dropped), at most MaxVersionLength bytes. A longer or odd string must not
// make the API server refuse the whole status patch at every reconcile.
func Clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > MaxVersionLength {
		s = s[:MaxVersionLength]
	}
	return s
}

// Known reports whether the server's version was read and parses.
func (s Server) Known() (Version, bool) {
	if s.Version == "" {
		return Version{}, false
	}
	return Parse(s.Version)
}

// Supported says whether the operator supports the server: a server older
// than Oldest is not, with a message naming both versions. A server whose
// version is unknown (the admin identity may not see it) is given the
// benefit of the doubt: each feature is still checked by Check.
func Supported(s Server) (bool, string) {
	v, ok := s.Known()
	if !ok || !v.Less(Oldest) {
		return true, ""
	}
	return false, fmt.Sprintf("Nauthera supports Keycloak %s or newer (tested up to %s); this server runs %s: upgrade Keycloak", Oldest, Newest, s.Version)
}

// Requirement is what a Nauthera feature needs of Keycloak.
type Requirement struct {
	// What names the Nauthera feature in messages ("secretless clients").
	What string
	// OnSince is the oldest version that has Features on by default.
	OnSince Version
	// PreviewSince is the oldest version that has Features at all (off by
	// default, turned on with Flag); equal to OnSince when there was no
	// usable preview.
	PreviewSince Version
	// Features are Keycloak's feature names that must be enabled.
	Features []string
	// Flag turns them on in the versions where they are off by default.
	Flag string
}

// The requirements of Nauthera features that not every supported Keycloak
// has on. Measured with GET /admin/serverinfo on 26.4.0, 26.5.6 and 26.7.3
// (docs/operations/keycloak-versions.md).
var (
	// SecretlessClients: spec.serviceAccountAuthentication on an
	// AuthServer (an identity provider of type kubernetes) and AuthClients
	// that authenticate with service-account tokens (client authenticator
	// federated-jwt). 26.4 lists both features as experimental/preview, 26.5
	// as preview (off), 26.7.3 has them on; 26.6 is not on Maven Central
	// here and is taken from Keycloak's release notes.
	SecretlessClients = Requirement{
		What:         "service-account authentication (secretless clients)",
		OnSince:      Version{26, 6, 0},
		PreviewSince: Version{26, 5, 0},
		Features:     []string{"KUBERNETES_SERVICE_ACCOUNTS", "CLIENT_AUTH_FEDERATED"},
		Flag:         "kc.sh build --features=kubernetes-service-accounts,client-auth-federated",
	}
	// SecretRotation: a secret-rotation client policy (an AuthPolicy's
	// spec.secretRotation). A preview feature, off by default, in every
	// supported version (26.4.0 to 26.7.3); on by default from 26.8
	// according to Keycloak's release notes (not tested here).
	SecretRotation = Requirement{
		What:         "secret rotation (an AuthPolicy's spec.secretRotation)",
		OnSince:      Version{26, 8, 0},
		PreviewSince: Oldest,
		Features:     []string{"CLIENT_SECRET_ROTATION"},
		Flag:         "kc.sh build --features=client-secret-rotation",
	}
)

// Check says whether the server has what req needs. The enabled features
// decide when they are known (an administrator may turn a preview on, or
// a default feature off); otherwise the version does, and only where it
// settles the question: older than PreviewSince, no. When neither is
// known, or the version has the feature as a preview, Check says yes: Keycloak itself then
// answers the request, as it did before versions were read. The message
// names the version the feature needs and what this server runs.
func Check(s Server, req Requirement) (bool, string) {
	v, vok := s.Known()
	if s.Features != nil {
		var off []string
		for _, f := range req.Features {
			on, listed := s.Features[f]
			if !listed && vok && !v.Less(req.OnSince) {
				// Keycloak drops a feature's name from the list once it is
				// no longer optional (DECLARATIVE_USER_PROFILE in 24): not
				// listed on a version that has it on by default is on.
				on = true
			}
			if !on {
				off = append(off, f)
			}
		}
		if len(off) == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%s needs %s; this server runs %s with the Keycloak features %s off",
			req.What, needs(req), runs(s.Version), strings.Join(off, ", "))
	}
	if !vok || !v.Less(req.PreviewSince) {
		return true, ""
	}
	return false, fmt.Sprintf("%s needs %s; this server runs %s", req.What, needs(req), s.Version)
}

// needs words what a requirement needs: "Keycloak 26.6.0 or newer, or
// 26.5.0 or newer with kc.sh build --features=…".
func needs(req Requirement) string {
	if req.PreviewSince == req.OnSince {
		return fmt.Sprintf("Keycloak %s or newer", req.OnSince)
	}
	return fmt.Sprintf("Keycloak %s or newer, or %s or newer with %s", req.OnSince, req.PreviewSince, req.Flag)
}

func runs(version string) string {
	if version == "" {
		return "an unknown version (the admin identity may not read it)"
	}
	return version
}
