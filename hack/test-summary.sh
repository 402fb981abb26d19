#!/usr/bin/env bash
# Summarises a `go test -v` log: tests passed, failed and skipped, with the
# package lines. Counts include subtests; "top-level" counts Test functions.
#
#   hack/test-summary.sh GO_TEST_LOG          `make test`, `make e2e`: the real test bed
#                                             runs, so a skipped test means a part was
#                                             missing: that fails the run rather than
#                                             passing quietly.
#   hack/test-summary.sh --short GO_TEST_LOG  `make test-unit` (go test -short): tests that
#                                             need the test bed skip by design; skips are
#                                             counted, not failed. A package with no test that
#                                             ran under -short is listed.
set -euo pipefail
short=0
if [ "${1:-}" = "--short" ]; then short=1; shift; fi
log="${1:?usage: test-summary.sh [--short] GO_TEST_LOG}"
awk -v short="$short" '
  /^[[:space:]]*--- PASS:/ { pass++; if ($0 ~ /^---/) { tpass++; ppass++ } }
  /^[[:space:]]*--- FAIL:/ { fail++; if ($0 ~ /^---/) tfail++; failed = failed "\n  " $3 }
  /^[[:space:]]*--- SKIP:/ { skip++; if ($0 ~ /^---/) { tskip++; pskip++ } skipped = skipped "\n  " $3 }
  /^(ok|FAIL|---)[[:space:]]+github.com/ || /^ok  / {
    line = $0
    # go test -v prints a package'"'"'s tests before its ok/FAIL line.
    if (short) line = sprintf("%-4s %-55s %3d passed, %3d skipped (top-level)", $1, $2, ppass, pskip)
    pkgs = pkgs "\n  " line
    # A package that failed without a failed test: it did not build, or its TestMain failed.
    if ($1 == "FAIL") { pkgfail++; failedpkgs = failedpkgs "\n  " $2 }
    if ($1 == "ok" && ppass == 0) none = none "\n  " $2
    ppass = 0; pskip = 0
  }
  /^testbed: / { bed = bed "\n  " $0 }
  END {
    printf "\n== test summary ==\npackages:%s\n", pkgs
    if (!short) printf "test bed:%s\n", bed
    printf "tests passed: %d, failed: %d, skipped: %d (top-level tests: %d passed, %d failed, %d skipped)\n", pass, fail, skip, tpass, tfail, tskip
    if (fail) printf "failed:%s\n", failed
    if (pkgfail) printf "packages that failed:%s\n", failedpkgs
    if (short && none != "") printf "packages where no test ran under -short:%s\n", none
    if (skip && !short) { printf "skipped (make test must run everything):%s\n", skipped; exit 1 }
    if (fail || pkgfail) exit 1
  }' "$log"
