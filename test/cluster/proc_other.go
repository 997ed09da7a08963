//go:build !linux

package cluster

import "syscall"

// sysProcAttr puts each process in its own process group; other systems have no
// parent-death signal, so there Stop is the only clean-up.
func sysProcAttr(bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
