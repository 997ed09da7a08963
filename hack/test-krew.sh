#!/usr/bin/env bash
# Install test of the rendered krew manifest, the way a user installs the
# plugin, but offline: krew (built from the Go proxy) installs the release
# archive from dist/ into a temporary KREW_ROOT, kubectl finds the plugin and
# its completion shim on PATH, krew uninstalls it, and a manifest whose sha256
# does not match the archive is refused. Every platform's archive is installed
# too (KREW_OS/KREW_ARCH), as validate-krew-manifest does, minus the download.
#
# Usage: hack/test-krew.sh <krew-binary> <manifest> <dist-dir> <version> <commit>
set -uo pipefail

if [[ $# -ne 5 ]]; then
	echo "usage: $0 <krew-binary> <manifest> <dist-dir> <version> <commit>" >&2
	exit 2
fi

# Prove there is no network: rerun inside an empty network namespace when
# the kernel lets us (unprivileged user namespaces); otherwise rely on krew
# being told not to reach out (--manifest/--archive, KREW_NO_UPGRADE_CHECK).
if [[ -z ${TEST_KREW_NETNS:-} ]] && unshare -rn true 2>/dev/null; then
	TEST_KREW_NETNS=1 exec unshare -rn "$0" "$@"
fi
network="not isolated (unshare -rn unavailable)"
[[ -n ${TEST_KREW_NETNS:-} ]] && network="none (network namespace)"

here=$(cd "$(dirname "$0")" && pwd)
abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
krew=$(abs "$1") manifest=$(abs "$2") dist=$(abs "$3") version=$4 commit=$5

case $(uname -s) in Linux) host_os=linux ;; Darwin) host_os=darwin ;; *) host_os=unknown ;; esac
case $(uname -m) in x86_64 | amd64) host_arch=amd64 ;; aarch64 | arm64) host_arch=arm64 ;; *) host_arch=unknown ;; esac
archive_of() { echo "$dist/kubectl-albistio_${version}_$1_$2.tar.gz"; }
host_archive=$(archive_of "$host_os" "$host_arch")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# PATH without any other kubectl-albistio, shim or krew, so kubectl can only
# find what krew installed.
clean_path=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[[ -n $d && ! -e $d/kubectl-albistio && ! -e $d/kubectl_complete-albistio && ! -e $d/kubectl-krew ]] || continue
	clean_path=${clean_path:+$clean_path:}$d
done
mkdir -p "$tmp/tools"
ln -s "$krew" "$tmp/tools/kubectl-krew"
export KREW_ROOT=$tmp/krew
export PATH=$KREW_ROOT/bin:$tmp/tools:$clean_path
export KREW_NO_UPGRADE_CHECK=1
# Nothing here talks to a cluster; make sure no kubeconfig is read either.
export KUBECONFIG=$tmp/no-kubeconfig
unset KREW_OS KREW_ARCH

# krew's uninstall/list insist that every index is a git clone; an empty
# repository is an index with no plugins, and krew never fetches it as long
# as no command needs the index's contents.
mkdir -p "$KREW_ROOT/index/default"
git init -q "$KREW_ROOT/index/default"

store=$KREW_ROOT/store/albistio/$version
passed=0 failed=0
# run <name> <function>: a test prints what it saw to its log; the log is
# shown only when it fails.
run() {
	local name=$1 log=$tmp/log
	shift
	if "$@" >"$log" 2>&1; then
		echo "PASS  $name"
		passed=$((passed + 1))
	else
		echo "FAIL  $name"
		sed 's/^/      /' "$log"
		failed=$((failed + 1))
	fi
}
# expect <file> <fixed string>: the file contains the string.
expect() {
	grep -qF -- "$2" "$1" || { echo "expected \"$2\" in:"; cat "$1"; return 1; }
}

test_install() {
	[[ -f $host_archive ]] || { echo "$host_archive is missing: run make dist"; return 1; }
	kubectl krew install --manifest="$manifest" --archive="$host_archive" >"$tmp/install.out" 2>&1
	local rc=$?
	cat "$tmp/install.out"
	[[ $rc -eq 0 ]] || return 1
	expect "$tmp/install.out" 'Installed plugin: albistio' &&
		[[ -x $KREW_ROOT/bin/kubectl-albistio ]] &&
		[[ -f $store/LICENSE && -x $store/kubectl_complete-albistio ]]
}

test_version() {
	kubectl plugin list >"$tmp/plugins" 2>&1
	expect "$tmp/plugins" "$KREW_ROOT/bin/kubectl-albistio" || return 1
	kubectl albistio version >"$tmp/version" 2>&1 || { cat "$tmp/version"; return 1; }
	cat "$tmp/version"
	expect "$tmp/version" "kubectl-albistio $version (commit $commit," || return 1
	kubectl albistio version -o json >"$tmp/version.json" 2>&1 || { cat "$tmp/version.json"; return 1; }
	expect "$tmp/version.json" "\"version\": \"$version\"" &&
		expect "$tmp/version.json" "\"commit\": \"$commit\""
}

test_completion() {
	# What the manifest's caveats tell users to run.
	expect "$manifest" "store/albistio/$version/kubectl_complete-albistio" || return 1
	install -m 0755 "$store/kubectl_complete-albistio" "$KREW_ROOT/bin/" || return 1
	"$here/test-completion.sh"
}

test_uninstall() {
	kubectl krew uninstall albistio || return 1
	# The shim is not krew's: the user copied it, the user removes it.
	rm -f "$KREW_ROOT/bin/kubectl_complete-albistio"
	[[ ! -e $KREW_ROOT/bin/kubectl-albistio && ! -e $KREW_ROOT/store/albistio ]] || { echo "files left behind"; ls -R "$KREW_ROOT"; return 1; }
	if kubectl albistio version >"$tmp/gone" 2>&1; then
		echo "kubectl albistio still runs after uninstall:"
		cat "$tmp/gone"
		return 1
	fi
}

test_wrong_sha256() {
	local good bad
	good=$(cut -d' ' -f1 <"$host_archive.sha256")
	bad=$(printf 'not the archive' | sha256sum | cut -d' ' -f1)
	mkdir -p "$tmp/bad"
	# Same file name: krew checks that it equals metadata.name.
	sed "s/$good/$bad/" "$manifest" >"$tmp/bad/albistio.yaml"
	grep -q "$bad" "$tmp/bad/albistio.yaml" || { echo "no sha256 $good in $manifest"; return 1; }
	if kubectl krew install --manifest="$tmp/bad/albistio.yaml" --archive="$host_archive" >"$tmp/bad.out" 2>&1; then
		cat "$tmp/bad.out"
		echo "install succeeded with a wrong sha256"
		return 1
	fi
	cat "$tmp/bad.out"
	expect "$tmp/bad.out" 'checksum does not match' &&
		[[ ! -e $KREW_ROOT/bin/kubectl-albistio && ! -e $KREW_ROOT/store/albistio ]]
}

# test_platform <os> <arch>: krew picks that platform's entry and installs
# the archive the entry names; checks what lands in the store.
test_platform() {
	local os=$1 arch=$2 archive root exe=kubectl-albistio
	archive=$(archive_of "$os" "$arch")
	root=$tmp/platform/${os}_$arch
	[[ $os == windows ]] && exe=kubectl-albistio.exe
	(cd "$dist" && sha256sum -c "$(basename "$archive").sha256") || return 1
	KREW_ROOT=$root KREW_OS=$os KREW_ARCH=$arch \
		kubectl krew install --manifest="$manifest" --archive="$archive" || return 1
	local dir=$root/store/albistio/$version
	ls -l "$dir"
	[[ -f $dir/LICENSE && -f $dir/$exe ]] || return 1
	[[ $os == windows || -x $dir/kubectl_complete-albistio ]] || return 1
	# The archive holds a static build for its own platform.
	go version -m "$dir/$exe" >"$tmp/buildinfo" || return 1
	local setting
	for setting in "GOOS=$os" "GOARCH=$arch" CGO_ENABLED=0 -trimpath=true; do
		grep -qE "^[[:space:]]+build[[:space:]]+$setting\$" "$tmp/buildinfo" ||
			{ echo "build setting $setting missing:"; cat "$tmp/buildinfo"; return 1; }
	done
}

krew_mod=$(go version -m "$krew" 2>/dev/null | awk '$1 == "mod" {print $2 " " $3}')
echo "test-krew: krew ${krew_mod:-(version unknown)}, $(kubectl version --client 2>/dev/null | head -1), network: $network"
run "install $host_os/$host_arch archive with krew (--manifest --archive)" test_install
run "kubectl albistio version via kubectl's plugin lookup prints $version" test_version
run "kubectl __complete albistio through kubectl_complete-albistio" test_completion
run "kubectl krew uninstall albistio" test_uninstall
run "install refused when the manifest's sha256 is wrong" test_wrong_sha256
# Every platform the manifest names, read from its URIs (..._<os>_<arch>.tar.gz).
for platform in $(grep -o '_[a-z]*_[a-z0-9]*\.tar\.gz$' "$manifest" | sed 's/^_//; s/\.tar\.gz$//'); do
	run "install ${platform/_//} entry (KREW_OS/KREW_ARCH): static build, LICENSE, shim" test_platform "${platform%_*}" "${platform#*_}"
done

echo "test-krew: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
