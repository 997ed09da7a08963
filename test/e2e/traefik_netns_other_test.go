//go:build !linux

package e2e

import (
	"net"
	"syscall"
	"testing"
)

// podNet needs Linux network namespaces; elsewhere the Traefik test skips.
type podNet struct{}

func podNetOrSkip(t *testing.T) {
	t.Helper()
	skipOrFailTraefik(t, "the Traefik data path needs Linux network namespaces")
}

func newPodNet(t *testing.T, target string, port int) *podNet { t.Helper(); return nil }
func (pn *podNet) Addr() *net.TCPAddr                         { return nil }
func (pn *podNet) Retarget(target string)                     {}
func (pn *podNet) RelayErrors() []string                      { return nil }

func traefikSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
