package testbed

import (
	"flag"
	"fmt"
)

// refuseUnderShort fails the start of a real part (what) in a test binary
// run with `go test -short`: -short runs the pure logic only (make
// test-unit), so a test that needs Keycloak, an API server or slapd must
// skip under testing.Short(). Outside test binaries (the demo) there is no
// test.short flag and nothing is refused.
func refuseUnderShort(what string) error {
	if f := flag.Lookup("test.short"); f != nil && f.Value.String() == "true" {
		return fmt.Errorf("%s started under go test -short: a test that needs it must skip when testing.Short()", what)
	}
	return nil
}
