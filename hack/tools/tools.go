//go:build tools

// Package tools pins the release tools (krew and its manifest validator) in
// a module of their own, so their dependencies never enter the plugin's go.mod.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
