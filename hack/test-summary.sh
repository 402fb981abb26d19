#!/usr/bin/env bash
# Summarises a `go test -v` log: tests passed, failed and skipped per package.
# `make test` runs the real test bed, so a skipped test means a part was
# missing: that fails the run rather than passing quietly.
set -euo pipefail
log="${1:?usage: test-summary.sh GO_TEST_LOG}"
awk '
  /^(=== RUN|--- )/ { }
  /^[[:space:]]*--- PASS:/ { pass++ }
  /^[[:space:]]*--- FAIL:/ { fail++; failed = failed "\n  " $3 }
  /^[[:space:]]*--- SKIP:/ { skip++; skipped = skipped "\n  " $3 }
  /^(ok|FAIL|---)[[:space:]]+github.com/ || /^ok  / { pkgs = pkgs "\n  " $0 }
  /^testbed: / { bed = bed "\n  " $0 }
  END {
    printf "\n== test summary ==\npackages:%s\ntest bed:%s\ntests passed: %d, failed: %d, skipped: %d\n", pkgs, bed, pass, fail, skip
    if (fail) printf "failed:%s\n", failed
    if (skip) { printf "skipped (make test must run everything):%s\n", skipped; exit 1 }
    if (fail) exit 1
  }' "$log"
