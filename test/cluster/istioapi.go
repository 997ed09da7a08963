//go:build tools

package cluster

// The CRDs Start installs come from this module's files, not from Go code; the
// import keeps `go mod tidy` from dropping the requirement (tidy reads files of
// every build tag, builds never see this one).
import _ "istio.io/api/networking/v1"
