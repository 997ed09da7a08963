package datapath

import "syscall"

// sysProcAttr keeps nginx out of the terminal's process group and has the
// kernel kill it if the test process dies, so no nginx outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
