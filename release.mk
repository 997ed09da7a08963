# Release packaging: static cross builds and their archives, the krew
# manifest rendered from them and checked by krew's own validator, an offline
# install test with krew itself, and kubectl's plugin completion shim.
#
# Included from the Makefile, which defines VERSION, COMMIT, PKG, LDFLAGS
# and BIN (and the build target):
#   include release.mk
# A release: on a tag vX.Y.Z, make dist krew-manifest test-krew; attach
# dist/* to the GitHub release and send plugins/albistio.yaml to krew-index.
# plugins/albistio.yaml is generated, never committed: the binary carries the
# commit hash, so a manifest committed with the sha256 of its own commit's
# build cannot exist.

# The platforms krew-manifest.yaml lists, one archive each.
PLATFORMS     := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
DIST          := $(CURDIR)/dist
KREW_MANIFEST := plugins/albistio.yaml
# krew and validate-krew-manifest, pinned in hack/tools/go.mod (its own
# module, so krew's dependencies never enter the plugin's go.mod).
TOOLS_BIN     := $(CURDIR)/.cache/tools

# krew requires a semantic version with a leading v. A tag (v1.2.3, or
# v1.2.3-4-gabcdef0 as git describe says after it) is one already; an
# untagged commit's bare hash becomes v0.0.0-g<hash>, so every commit is
# packed, installed and tested the same way.
DIST_VERSION  := $(if $(filter v%,$(VERSION)),$(VERSION),v0.0.0-g$(VERSION))
# Read once: COMMIT may be a lazy $(shell git ...), and a commit landing
# during a long run must not make the test expect another hash.
DIST_COMMIT   := $(COMMIT)
# LDFLAGS with its stamps set to DIST_VERSION and DIST_COMMIT, so the binary,
# the archive names and the manifest agree. Only the link step sees them:
# the compile cache stays warm across versions.
DIST_LDFLAGS  := $(patsubst $(PKG)/pkg/cmd.commit=%,$(PKG)/pkg/cmd.commit=$(DIST_COMMIT),$(patsubst $(PKG)/pkg/cmd.version=%,$(PKG)/pkg/cmd.version=$(DIST_VERSION),$(LDFLAGS)))

.PHONY: dist krew-tools krew-manifest test-krew completion-script install-completion

# CGO_ENABLED=0 -trimpath builds, each in a reproducible tar.gz with LICENSE
# and the completion shim, plus a .sha256 per archive.
dist:
	hack/dist.sh $(DIST) $(DIST_VERSION) '$(DIST_LDFLAGS)' $(PLATFORMS)

krew-tools:
	cd hack/tools && go build -o $(TOOLS_BIN)/ sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest

# -skip-install: the validator's install step downloads each platform's URI,
# which exists only once the release is published; test-krew installs every
# platform from dist/ instead.
krew-manifest: dist krew-tools
	hack/render-krew-manifest.sh krew-manifest.yaml $(DIST) $(DIST_VERSION) $(KREW_MANIFEST)
	$(TOOLS_BIN)/validate-krew-manifest -manifest $(KREW_MANIFEST) -skip-install

test-krew: krew-manifest
	hack/test-krew.sh $(TOOLS_BIN)/krew $(KREW_MANIFEST) $(DIST) $(DIST_VERSION) $(DIST_COMMIT)

# kubectl completes `kubectl albistio <TAB>` through the shim: checked with
# the plugin from `make build` and plugins/ first on PATH.
completion-script: build
	PATH=$(BIN):$(CURDIR)/plugins:$$PATH hack/test-completion.sh

# Puts the shim next to the plugin `make install` installs.
install-completion:
	install -D -m 0755 plugins/kubectl_complete-albistio $${GOBIN:-$$(go env GOPATH)/bin}/kubectl_complete-albistio
