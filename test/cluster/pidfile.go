package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopDir stops a cluster that another process started with Options.Detach,
// using the PID files in dir. It signals a PID only if that process's command
// line still names dir, so a PID reused since then is never touched.
func StopDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var errs []error
	// The API server first: stopping etcd under it only makes it log errors.
	for _, name := range []string{"kube-apiserver", "etcd"} {
		pidFile := filepath.Join(abs, name+".pid")
		b, err := os.ReadFile(pidFile)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pidFile, err))
			continue
		}
		if ours(pid, name, abs) {
			errs = append(errs, stopPID(pid, name, 15*time.Second))
		}
		_ = os.Remove(pidFile)
	}
	return errors.Join(errs...)
}

// ours tells whether pid is still the named binary started for dir.
func ours(pid int, name, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 0 && filepath.Base(args[0]) == name && strings.Contains(string(b), dir)
}

func stopPID(pid int, name string, timeout time.Duration) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	_ = p.Signal(syscall.SIGTERM)
	if waitGone(pid, timeout) {
		return nil
	}
	_ = p.Signal(syscall.SIGKILL)
	if waitGone(pid, timeout) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) is still running", name, pid)
}

// waitGone polls because the process is not our child: its parent (init or a
// subreaper) reaps it, and then /proc/<pid> disappears. A zombie counts as gone.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !alive(pid)
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
