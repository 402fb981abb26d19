#!/usr/bin/env bash
# Builds golangci-lint with the plugins of .custom-gcl.yml (kube-api-linter)
# by running the real `golangci-lint custom`, with one change of source:
# `custom` clones https://github.com/golangci/golangci-lint.git at the tag of
# .custom-gcl.yml's version, and only the Go module proxy is reachable here.
# So this script makes a one-commit git repository, tagged with that version,
# from the module proxy's zip of the same version (the tagged tree, as Go
# modules publish it) and points the clone at it with a git `insteadOf`
# (`custom` passes GIT_CONFIG_* through to git for exactly this kind of use).
# Everything else -- adding the plugin import, `go get` of the plugin at its
# pinned version, `go mod tidy`, `go build` -- is `custom`'s own code.
#
# Usage: hack/golangci-lint-custom.sh BUILDER OUTPUT
#   BUILDER  a golangci-lint binary of the same version (it runs `custom`)
#   OUTPUT   path of the binary to write
set -euo pipefail

builder="$1" out="$2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

version="$(sed -n 's/^version: *//p' .custom-gcl.yml)"
[ -n "$version" ] || { echo "no top-level version in .custom-gcl.yml" >&2; exit 1; }

src="$(go mod download -json "github.com/golangci/golangci-lint/v2@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || { echo "go mod download of golangci-lint ${version} gave no directory" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/golangci-lint"
chmod -R u+w "$work/golangci-lint"
git_quiet=(-c init.defaultBranch=main -c user.name=nauthera-build -c user.email=build@nauthera.invalid -c commit.gpgsign=false -c tag.gpgsign=false)
git -C "$work/golangci-lint" "${git_quiet[@]}" init -q
git -C "$work/golangci-lint" "${git_quiet[@]}" add -A
git -C "$work/golangci-lint" "${git_quiet[@]}" commit -q -m "golangci-lint ${version} from the Go module proxy"
git -C "$work/golangci-lint" "${git_quiet[@]}" tag "$version"

GIT_CONFIG_COUNT=1 \
GIT_CONFIG_KEY_0="url.file://${work}/golangci-lint.insteadOf" \
GIT_CONFIG_VALUE_0="https://github.com/golangci/golangci-lint.git" \
TMPDIR="$work" \
  "$builder" custom --name "$(basename "$out")" --destination "$(dirname "$out")"
