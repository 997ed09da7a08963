#!/usr/bin/env bash
# Builds istio-xds (this module's main: Istio's own pilot code, the version
# go.mod requires, run in-process for a gateway proxy) into
# ${ALBISTIO_TEST_BIN:-test/bin}/istio-xds for test/datapath and test/e2e.
# Idempotent: returns at once when that binary reports the required Istio
# version and is newer than this module's sources. A cold build takes ~8-20 min
# and ~3 GB RAM on 2 cores; the flags below never change, so Go's build cache
# makes a rebuild after an edit of main.go take seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${ALBISTIO_TEST_BIN:-$here/../bin}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)" # absolute: ALBISTIO_TEST_BIN may be relative to the caller
out="$out_dir/istio-xds"
cd "$here"

pkg=istio.io/istio
version="$(go list -m -f '{{.Version}}' "$pkg")"

if [[ -x "$out" ]]; then
	have="$("$out" -version 2>/dev/null || true)"
	newer="$(find main.go go.mod go.sum -newer "$out" 2>/dev/null || true)"
	if [[ "$have" == "$pkg $version" && -z "$newer" ]]; then
		exit 0
	fi
	if [[ "$have" != "$pkg $version" ]]; then
		echo "$out is not built from $pkg $version; rebuilding" >&2
	else
		echo "$out is older than $(echo $newer); rebuilding" >&2
	fi
fi

echo "building istio-xds ($pkg $version, pilot/test/xds) into $out (cold: ~8-20 min on 2 cores, ~3 GB RAM; warm: seconds)" >&2
# -mod=readonly: never rewrite go.mod/go.sum here.
go build -mod=readonly -ldflags "-s -w" -o "$out.tmp" .
mv -f "$out.tmp" "$out"
