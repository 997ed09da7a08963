//go:build !linux

package datapath

import "syscall"

// sysProcAttr keeps nginx out of the terminal's process group; without a
// parent-death signal here, Stop is the only clean-up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
