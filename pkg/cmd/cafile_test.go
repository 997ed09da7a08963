//go:build unix

package cmd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albistio/kubectl-albistio/pkg/internal/testpki"
)

// readCAFileWithin runs readCAFile and fails the test if it has not returned
// after d: the inputs below are the ones that used to hang or grow forever,
// and a test that hangs too says nothing useful.
func readCAFileWithin(t *testing.T, path string, d time.Duration) ([]*x509.Certificate, error) {
	t.Helper()
	type result struct {
		roots []*x509.Certificate
		err   error
	}
	done := make(chan result, 1)
	go func() {
		roots, err := readCAFile(path)
		done <- result{roots, err}
	}()
	select {
	case r := <-done:
		return r.roots, r.err
	case <-time.After(d):
		t.Fatalf("readCAFile(%q) has not returned after %s", path, d)
		return nil, nil
	}
}

// wantUsage checks that err is a one-line usage error (exit 2) naming
// --ca-file and containing every one of want.
func wantUsage(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got none")
	}
	var ue *usageError
	if !errors.As(err, &ue) || exitCode(err) != 2 {
		t.Errorf("want a usage error (exit 2), got %T (exit %d): %v", err, exitCode(err), err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("want one line, got:\n%s", msg)
	}
	for _, w := range append([]string{"--ca-file"}, want...) {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q: %s", w, msg)
		}
	}
}

func TestReadCAFileGoodPEM(t *testing.T) {
	root := testpki.New(t, "CA file", true).Root
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, testpki.PEM(root), 0o600); err != nil {
		t.Fatal(err)
	}
	roots, err := readCAFileWithin(t, path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 1 || !roots[0].Equal(root) {
		t.Errorf("want the one root in the file, got %d certificates", len(roots))
	}
	if roots, err := readCAFile(""); roots != nil || err != nil {
		t.Errorf("no --ca-file: want nothing, got %v, %v", roots, err)
	}
}

func TestReadCAFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nonexistent", "root.pem")
	_, err := readCAFileWithin(t, path, 5*time.Second)
	wantUsage(t, err, path, "no such file")
}

// /dev/zero never ends: os.ReadFile grew until the kernel killed the
// process. A device is refused before anything is read.
func TestReadCAFileDevZero(t *testing.T) {
	start := time.Now()
	_, err := readCAFileWithin(t, "/dev/zero", 2*time.Second)
	wantUsage(t, err, "/dev/zero", "character device", "not a file")
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s: a device must be refused at once", d)
	}
}

func TestReadCAFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := readCAFileWithin(t, dir, 5*time.Second)
	wantUsage(t, err, dir, "directory")
}

// A named pipe nobody writes to blocked in open(2) forever, and the process
// ignored Ctrl-C while it waited. Now it gives up after caPipeTimeout.
func TestReadCAFileFIFOWithoutWriter(t *testing.T) {
	path := mkfifo(t)
	old := caPipeTimeout
	caPipeTimeout = 300 * time.Millisecond
	t.Cleanup(func() { caPipeTimeout = old })

	_, err := readCAFileWithin(t, path, 5*time.Second)
	wantUsage(t, err, path, "nothing arrived within 300ms")
}

// A pipe that does carry a bundle, as `--ca-file <(kubectl get ...)` gives,
// still works: the shell's process substitution is a pipe too.
func TestReadCAFileFIFOWithWriter(t *testing.T) {
	root := testpki.New(t, "CA pipe", true).Root
	path := mkfifo(t)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.Write(testpki.PEM(root))
	}()
	roots, err := readCAFileWithin(t, path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 1 || !roots[0].Equal(root) {
		t.Errorf("want the one root sent through the pipe, got %d certificates", len(roots))
	}
}

// A file over the limit is refused even when it is all certificates: a
// trust bundle is kilobytes, and the limit must hold for what is read.
func TestReadCAFileTooLarge(t *testing.T) {
	one := testpki.PEM(testpki.New(t, "CA big", true).Root)
	data := bytes.Repeat(one, caFileLimit/len(one)+1)
	path := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := readCAFileWithin(t, path, 5*time.Second)
	wantUsage(t, err, path, "1 MiB")

	// Just under the limit is fine.
	data = bytes.Repeat(one, caFileLimit/len(one))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCAFileWithin(t, path, 5*time.Second); err != nil {
		t.Errorf("%d bytes, under the limit: %v", len(data), err)
	}
}

// mkfifo makes a named pipe in a temporary directory. Cleanup opens its
// write end, so a reader still blocked in open(2) is released.
func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return path
}
