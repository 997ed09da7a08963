//go:build unix

package cmd

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// helperEnv makes the test binary run Execute on the arguments after "--",
// as the plugin's main does, so that a test can send it real signals.
const helperEnv = "ALBISTIO_CMD_TEST_EXECUTE"

func TestExecuteHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	i := slices.Index(os.Args, "--")
	os.Exit(Execute(os.Args[i+1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}

// Ctrl-C or SIGTERM while the plugin waits for the API server ends the run,
// and the error says it was interrupted: not that the server cannot be
// reached, which would send the user looking for a network problem.
func TestSignalWhileWaitingSaysInterrupted(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			waiting := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				select {
				case waiting <- struct{}{}:
				default:
				}
				<-r.Context().Done() // never answers
			}))
			defer srv.Close()
			dir := t.TempDir()
			kubeconfig := filepath.Join(dir, "kubeconfig")
			if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, srv.URL)), 0o600); err != nil {
				t.Fatal(err)
			}

			args := append([]string{"-test.run=^TestExecuteHelperProcess$", "--", "secrets", "--alb-flavor", "nginx"}, chainArgs...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), helperEnv+"=1", "KUBECONFIG="+kubeconfig, "HOME="+dir,
				"ALB_INGRESS_DOMAIN=", "ALB_SECRET=", "INGRESS_GATEWAY_DOMAIN=", "INGRESS_GATEWAY_SECRET=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-waiting:
			case err := <-exited:
				t.Fatalf("the run ended before it sent a request (%v):\n%s", err, stderr.String())
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("no request reached the server")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("still running 10s after %v:\n%s", sig, stderr.String())
			}
			msg := stderr.String()
			if code := cmd.ProcessState.ExitCode(); code != kube.ExitError {
				t.Errorf("exit %d, want %d (interrupted is not a documented failure kind)", code, kube.ExitError)
			}
			if !strings.Contains(msg, "error: interrupted") || strings.Contains(msg, "cannot reach") {
				t.Errorf("want the error to say the run was interrupted:\n%s", msg)
			}
		})
	}
}

// The first signal cancels the run's context, but not every wait watches it:
// opening a named pipe nobody writes to does not. A second Ctrl-C must then
// end the process at once rather than be swallowed as the first was.
func TestSecondSignalEndsTheProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := mkfifo(t)
	args := append([]string{"-test.run=^TestExecuteHelperProcess$", "--", "secrets", "--alb-flavor", "nginx", "--ca-file", fifo}, chainArgs...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"=1", "KUBECONFIG="+filepath.Join(dir, "none"), "HOME="+dir,
		"ALB_INGRESS_DOMAIN=", "ALB_SECRET=", "INGRESS_GATEWAY_DOMAIN=", "INGRESS_GATEWAY_SECRET=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Time to install the handler and block in open(2); a signal sent
	// earlier kills the process by default, which passes without proving much.
	time.Sleep(time.Second)
	for i := 1; i <= 2; i++ {
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-exited:
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if i == 2 && !(ws.Signaled() && ws.Signal() == syscall.SIGINT) {
				t.Errorf("want the second Ctrl-C to end the process by its default action, got %v:\n%s", cmd.ProcessState, stderr.String())
			}
			return
		case <-time.After(3 * time.Second):
		}
	}
	cmd.Process.Kill()
	<-exited
	t.Fatalf("still running 3s after a second Ctrl-C:\n%s", stderr.String())
}
