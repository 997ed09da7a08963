#!/usr/bin/env bash
# Runs the benchmarks of issue 7 against a real kube-apiserver + etcd (the
# end-to-end tests' cluster, started and stopped by the program) and writes
# bench/RESULTS.md. `make bench` builds what it needs first; by hand:
#
#   make build test-bin && bash bench/bench.sh [flags of test/cmd/bench]
#
# Needs kubectl on PATH (the comparisons run it, and `kubectl albistio` goes
# through its plugin lookup) and Go. Takes about 2–4 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/bin}
export ALBISTIO_TEST_BIN=${ALBISTIO_TEST_BIN:-$root/test/bin}
if [[ ! -x $bin/kubectl-albistio ]]; then
	echo "bench: $bin/kubectl-albistio is missing: run make build" >&2
	exit 1
fi
for b in kube-apiserver etcd; do
	if [[ ! -x $ALBISTIO_TEST_BIN/$b ]]; then
		echo "bench: $ALBISTIO_TEST_BIN/$b is missing: run make test-bin" >&2
		exit 1
	fi
done
if ! command -v kubectl >/dev/null; then
	echo "bench: kubectl is not on PATH" >&2
	exit 1
fi
cd "$root/test"
exec go run ./cmd/bench -plugin-dir "$bin" -repo "$root" -out "$root/bench/RESULTS.md" "$@"
