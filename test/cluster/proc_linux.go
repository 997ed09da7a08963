package cluster

import "syscall"

// sysProcAttr puts each process in its own process group, so a Ctrl-C meant for
// `go test` or `make` is not also delivered to etcd half-way through a write.
// Unless detached, the kernel kills the process when its parent dies, so an
// aborted test run cannot leak servers holding ports.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if !detach {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}
