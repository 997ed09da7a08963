package cmd

import (
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/albistio/kubectl-albistio/pkg/certs"
)

// caFileLimit bounds what --ca-file reads. A bundle of root certificates is
// a few kilobytes (an ISRG root is under 2 KB), so 1 MiB is generous, and a
// wrong path (a log, an image, a device) fails at once instead of filling
// memory.
const caFileLimit = 1 << 20

// caPipeTimeout bounds the wait for a pipe. `--ca-file <(cmd)` is a pipe and
// should work, but opening a named pipe blocks until something opens its other
// end, which may never happen. readCAFile runs in Complete and sees no
// context, so the wait has its own bound. A variable so tests can shorten it.
var caPipeTimeout = 10 * time.Second

// readCAFile reads --ca-file: public certificates only. Every failure is a
// usage error: nothing has been read from the cluster yet.
func readCAFile(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	data, err := readCAData(path)
	if err != nil {
		return nil, usage(err)
	}
	roots, err := certs.ParseCertificates(data)
	if err != nil {
		return nil, usage(fmt.Errorf("--ca-file %s: %w", path, err))
	}
	return roots, nil
}

// readCAData reads at most caFileLimit bytes of a regular file or a pipe.
// Devices, directories and sockets are refused before they are opened: opening
// /dev/zero or a terminal and reading it would never end.
func readCAData(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	if err := readableKind(path, fi); err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() && fi.Size() > caFileLimit {
		return nil, tooLarge(path)
	}
	// The open and the read run in a goroutine so that a pipe nobody writes to
	// cannot hold the command: after caPipeTimeout it gives up, and the
	// goroutine, still blocked in open(2), ends with the process.
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readOpened(path)
		done <- result{data, err}
	}()
	timer := time.NewTimer(caPipeTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.data, r.err
	case <-timer.C:
		return nil, fmt.Errorf("--ca-file %s: nothing arrived within %s (a pipe needs a process that writes the certificates to it): give a PEM file of root certificates", path, caPipeTimeout)
	}
}

// readOpened opens path and reads it up to the limit. The kind is checked
// again on the open file, since the path may have changed since it was stat'ed.
func readOpened(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	if err := readableKind(path, fi); err != nil {
		return nil, err
	}
	// One byte past the limit tells "exactly the limit" from "more".
	data, err := io.ReadAll(io.LimitReader(f, caFileLimit+1))
	if err != nil {
		return nil, fmt.Errorf("--ca-file %s: %w", path, err)
	}
	if len(data) > caFileLimit {
		return nil, tooLarge(path)
	}
	return data, nil
}

// readableKind accepts regular files and pipes, and names anything else.
func readableKind(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() || m&fs.ModeNamedPipe != 0 {
		return nil
	}
	kind := "a special file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("--ca-file %s is %s, not a file: give a PEM file of root certificates", path, kind)
}

func tooLarge(path string) error {
	return fmt.Errorf("--ca-file %s is larger than %d MiB, the limit: a bundle of root certificates is a few kilobytes; give only the roots the chain ends in", path, caFileLimit>>20)
}
