//go:build linux

package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// openPTY opens a pseudo-terminal: the plugin writes to the second file,
// the test reads what a terminal would show from the first.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		master.Close()
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		master.Close()
		t.Skipf("ptsname: %v", e)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Skipf("opening the terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	return master, slave
}

// checkOnTerminal runs check's text report with stdout on a terminal and
// returns what the terminal received.
func checkOnTerminal(t *testing.T) string {
	t.Helper()
	master, slave := openPTY(t)
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&got, master) // ends with EIO once the terminal is closed
		close(done)
	}()
	isolate(t)
	cf := genericclioptions.NewConfigFlags(false)
	ns := "httptools"
	cf.Namespace = &ns
	o := &CheckOptions{
		ChainOptions: newChainOptions(cf), IOStreams: genericiooptions.IOStreams{Out: slave, ErrOut: &bytes.Buffer{}},
		FailureThreshold: "error", ProbeTimeout: time.Second, now: time.Now, api: emptyCluster{},
	}
	o.Getenv = func(string) string { return "" }
	o.Flags.ALBDomain, o.Flags.ALBSecret = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0000"
	o.Flags.GatewayDomain, o.Flags.GatewaySecret = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0001"
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	_ = o.Run(context.Background())
	slave.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal was not drained")
	}
	return got.String()
}

// On a terminal the drawn chain's marks and the findings' levels are in
// colour; NO_COLOR (any value, https://no-color.org) and TERM=dumb turn it
// off, as kubectl does.
func TestCheckColourOnTerminalOnly(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	out := checkOnTerminal(t)
	for _, want := range []string{"\x1b[31mERROR  \x1b[0m  ALB: ALB0101, ALB0601", "\x1b[31mERROR  \x1b[0m ALB0101"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, out[:min(len(out), 600)])
		}
	}
	for _, env := range [][2]string{{"NO_COLOR", "1"}, {"NO_COLOR", ""}, {"TERM", "dumb"}} {
		t.Run(env[0]+"="+env[1], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			if out := checkOnTerminal(t); strings.Contains(out, "\x1b[") || !strings.Contains(out, "ERROR    ALB: ALB0101, ALB0601") {
				t.Errorf("with %s=%q the terminal got colour (or no report):\n%q", env[0], env[1], out[:min(len(out), 600)])
			}
		})
	}
}
