#!/usr/bin/env bash
# Builds cert-manager's real controllers (the version this module requires),
# wrapped in our own main.go, into
# ${ALBISTIO_TEST_BIN:-test/bin}/cert-manager-controller for the end-to-end
# tests (test/cluster/certmanager.go starts it).
# Idempotent: returns at once when that binary is already there and reports
# the required version (its --version). A cold build takes ~3 min on 2 idle
# cores (~10 min on a busy machine) and ~1.1 GB RAM; the flags below never
# change, so Go's build cache makes rebuilds quick (~15 s, mostly the link).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${ALBISTIO_TEST_BIN:-$here/../bin}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)" # absolute: ALBISTIO_TEST_BIN may be relative to the caller
out="$out_dir/cert-manager-controller"
cd "$here"

pkg=github.com/cert-manager/cert-manager
version="$(go list -m -f '{{.Version}}' "$pkg")"

if [[ -x "$out" ]]; then
	have="$("$out" --version 2>/dev/null || true)"
	if [[ "$have" == "$version" ]]; then
		exit 0
	fi
	echo "$out is cert-manager ${have:-(unknown)}, not $version; rebuilding" >&2
fi

echo "building cert-manager $version controllers into $out (cold: 3-10 min, ~1.1 GB RAM; seconds with a warm build cache)" >&2
start=$SECONDS
# -mod=readonly: never rewrite go.mod/go.sum here. No -trimpath and no
# CGO_ENABLED override: the packages compile exactly as for `go vet` (make
# lint), so each warms Go's build cache for the other; -ldflags only affect
# the link. AppVersion is the version cert-manager puts in its User-Agent.
go build -mod=readonly \
	-ldflags "-s -w -X $pkg/pkg/util.AppVersion=$version" \
	-o "$out.tmp" .
mv -f "$out.tmp" "$out"
echo "built $out in $((SECONDS - start))s" >&2
