# Benchmarks (issue 7), included from the Makefile: `make bench` measures the
# plugin against kubectl on the end-to-end tests' kube-apiserver + etcd —
# start-up, binary size, API requests on an empty and on a loaded cluster,
# wall time at scale, discovery — prints one table and writes it, with the
# machine it ran on, to bench/RESULTS.md. BENCH_FLAGS passes flags to
# test/cmd/bench (e.g. BENCH_FLAGS='-n 31 -objects 2000').
BENCH_FLAGS ?=

.PHONY: bench
bench: build test-bin
	BIN=$(BIN) ALBISTIO_TEST_BIN=$(TEST_BIN) bash bench/bench.sh $(BENCH_FLAGS) && cd test && ALBISTIO_PLUGIN_DIR=$(BIN) ALBISTIO_TEST_BIN=$(TEST_BIN) go test -run '^$$' -bench CheckContexts -benchtime 10x ./bench
