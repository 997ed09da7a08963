#!/usr/bin/env bash
# Builds a real Traefik (the version this module requires) into
# ${ALBISTIO_TEST_BIN:-test/bin}/traefik for test/e2e/traefik_test.go.
# Idempotent: returns at once when that binary is already there and reports
# the required version. A cold build takes ~10 min and ~3.3 GB RAM on 2 cores;
# the flags below never change, so Go's build cache makes rebuilds quick.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${ALBISTIO_TEST_BIN:-$here/../bin}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)" # absolute: ALBISTIO_TEST_BIN may be relative to the caller
out="$out_dir/traefik"
cd "$here"

pkg=github.com/traefik/traefik/v3
version="$(go list -m -f '{{.Version}}' "$pkg")"

if [[ -x "$out" ]]; then
	have="$("$out" version 2>/dev/null || true)"
	if grep -qE "^Version:[[:space:]]+${version//./\\.}\$" <<<"$have"; then
		exit 0
	fi
	echo "$out is not Traefik $version; rebuilding" >&2
fi

echo "building Traefik $version into $out (cold: ~10 min, ~3.3 GB RAM)" >&2
# -mod=readonly: never rewrite go.mod/go.sum here (a `go mod tidy` would pull
# test-only dependencies that bump versions Traefik itself pins).
go build -mod=readonly \
	-ldflags "-s -w -X $pkg/pkg/version.Version=$version" \
	-o "$out.tmp" "$pkg/cmd/traefik"
mv -f "$out.tmp" "$out"
