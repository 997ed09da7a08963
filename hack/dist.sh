#!/usr/bin/env bash
# Builds kubectl-albistio for each os/arch given and packs each build with
# LICENSE and the completion shim into
#   <dist>/kubectl-albistio_<version>_<os>_<arch>.tar.gz (+ .sha256),
# the names krew-manifest.yaml's URIs expect.
#
# Usage: hack/dist.sh <dist-dir> <version> <ldflags> <os/arch>...
#
# The archives are reproducible: same commit, Go version and flags give the
# same bytes (-trimpath, fixed mtime/owner/order in tar, gzip -n), so the
# sha256 in a krew manifest can be checked by rebuilding. The Go flags never
# change between runs, so the build cache stays warm; only the link step
# sees the version.
set -euo pipefail

if [[ $# -lt 4 ]]; then
	echo "usage: $0 <dist-dir> <version> <ldflags> <os/arch>..." >&2
	exit 2
fi
dist=$1 version=$2 ldflags=$3
shift 3

root=$(cd "$(dirname "$0")/.." && pwd)
# The commit's time, so two builds of one commit carry the same mtimes.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}

mkdir -p "$dist"
# dist/ is what a release uploads: leave nothing from an earlier version.
rm -rf "$dist"/kubectl-albistio_* "$dist/.stage"

for platform in "$@"; do
	os=${platform%/*} arch=${platform#*/}
	name=kubectl-albistio_${version}_${os}_${arch}
	stage=$dist/.stage/$name
	exe=kubectl-albistio
	files=(LICENSE kubectl_complete-albistio)
	if [[ $os == windows ]]; then
		exe=kubectl-albistio.exe
		# The shim is a POSIX shell script; Windows' kubectl cannot run it.
		files=(LICENSE)
	fi
	mkdir -p "$stage"
	start=$SECONDS
	(cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch \
		go build -trimpath -ldflags "$ldflags" -o "$stage/$exe" ./cmd/kubectl-albistio)
	install -m 0644 "$root/LICENSE" "$stage/LICENSE"
	[[ $os == windows ]] || install -m 0755 "$root/plugins/kubectl_complete-albistio" "$stage/kubectl_complete-albistio"
	chmod 0755 "$stage/$exe"
	tar -C "$stage" --sort=name --format=ustar --mtime="@$epoch" \
		--owner=0 --group=0 --numeric-owner -cf - "$exe" "${files[@]}" |
		gzip -n >"$dist/$name.tar.gz"
	(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
	printf 'dist: %-40s %s  (%ds)\n' "$name.tar.gz" "$(cut -c1-12 "$dist/$name.tar.gz.sha256")…" $((SECONDS - start))
done
rm -rf "$dist/.stage"
