# kubectl-albistio. Tool versions and build flags live here, in one place.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG     := github.com/albistio/kubectl-albistio
LDFLAGS := -s -w -X $(PKG)/pkg/cmd.version=$(VERSION) -X $(PKG)/pkg/cmd.commit=$(COMMIT)
BIN     := $(CURDIR)/bin
# The test cluster's binaries (kube-apiserver, etcd), built once per machine.
TEST_BIN ?= $(CURDIR)/test/bin
export ALBISTIO_TEST_BIN := $(TEST_BIN)
export ALBISTIO_PLUGIN_DIR := $(BIN)

.PHONY: all build install deps test test-unit fuzz fuzz-short test-e2e test-bin traefik-bin istio-bin certmanager-bin lint demo cluster-up cluster-down clean

all: build

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-albistio ./cmd/kubectl-albistio

# Puts the plugin where kubectl finds it: any directory on PATH.
install: build
	install -D -m 0755 $(BIN)/kubectl-albistio $${GOBIN:-$$(go env GOPATH)/bin}/kubectl-albistio

# The whole suite: lint, unit tests, brief fuzzing, end-to-end tests against
# a real kube-apiserver + etcd with Istio's CRDs (nginx and a real Traefik in
# the ALB's role), then the release archives installed by krew itself.
test: lint test-unit fuzz-short test-krew test-e2e

test-unit:
	go test ./...

# Every Fuzz target in pkg/, each for FUZZTIME (go test -fuzz takes one
# target at a time). CI runs them briefly; run `make fuzz` for longer.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$(go list ./pkg/...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    go test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -parallel 2; \
	  done; \
	done

# CI's short run counts executions instead of seconds: with a time limit, Go's
# fuzzing coordinator can fail with "context deadline exceeded" when a worker
# answers late at the deadline on a loaded machine.
fuzz-short:
	$(MAKE) fuzz FUZZTIME=500x

# kube-apiserver and etcd build from the Go module proxy (minutes cold,
# seconds with a warm build cache); always the same flags so the cache holds.
# The version stamp lets kubectl parse the server's version (it rejects the
# bare module build's "v0.0.0-master+$$Format:%H$$").
KUBE_VERSION_LDFLAGS := -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
test-bin:
	@test -x $(TEST_BIN)/kube-apiserver -a -x $(TEST_BIN)/etcd || echo "building kube-apiserver v1.37 and etcd from the Go module proxy into $(TEST_BIN): about 4-15 min on 2 cores the first time (quiet while it compiles), seconds once Go's build cache is warm"
	cd test && go build -ldflags '$(KUBE_VERSION_LDFLAGS)' -o $(TEST_BIN)/ k8s.io/kubernetes/cmd/kube-apiserver ./cmd/etcd

# A real Traefik v3.6 (IKS's new ALB) for the Traefik end-to-end test:
# ~10 min and ~3.3 GB RAM cold, 0.2 s once built.
traefik-bin:
	bash test/traefik/build.sh

# istio-xds: Istio's own pilot code (istio.io/istio, pilot/test/xds) telling
# the data-path tests' gateway stand-in what Envoy would serve: ~8-20 min
# (15 CPU-minutes) and ~3 GB RAM cold, seconds warm.
istio-bin:
	bash test/istioxds/build.sh

# cert-manager v1.21's real controllers (our small main in test/certmanager)
# for the renewal end-to-end tests: ~3-10 min and ~1.1 GB RAM cold, 0.2 s
# once built.
certmanager-bin:
	bash test/certmanager/build.sh

test-e2e: deps build test-bin traefik-bin istio-bin certmanager-bin
	cd test && ALBISTIO_REQUIRE_NGINX=1 ALBISTIO_REQUIRE_TRAEFIK=1 ALBISTIO_REQUIRE_ISTIO=1 ALBISTIO_REQUIRE_CERTMANAGER=1 go test -count=1 -timeout 40m ./...

lint:
	@test -z "$$(gofmt -l cmd pkg test)" || { gofmt -l cmd pkg test; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	cd test && go vet ./...
	cd test/istioxds && go vet ./...
	cd test/certmanager && go vet ./...
	go mod tidy -diff
	cd test && go mod tidy -diff
	cd test/istioxds && go mod tidy -diff
	cd test/certmanager && go mod tidy -diff
	cd hack/tools && go mod tidy -diff

cluster-up: test-bin
	cd test && go run ./cmd/cluster up --dir $(CURDIR)/.cache/cluster

cluster-down:
	cd test && go run ./cmd/cluster down --dir $(CURDIR)/.cache/cluster

# Debian packages the demo and the end-to-end tests need (nginx, curl, ...).
deps:
	bash test/install-deps.sh

demo: deps build test-bin
	cd test && go run ./cmd/demo -plugin-dir $(BIN)

clean:
	rm -rf $(BIN) dist .cache

# Release packaging (dist, krew-manifest, test-krew, completion-script);
# last, so its targets never become the default goal.
include release.mk
# Benchmarks against kubectl (make bench).
include bench.mk
