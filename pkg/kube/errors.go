package kube

import "errors"

// Exit codes, documented in the README. Usage errors are 2 as with cobra;
// the others say what kind of failure a script is looking at.
const (
	// ExitError is any failure not listed below.
	ExitError = 1
	// ExitUsage is a bad flag or parameter: nothing was read or written.
	ExitUsage = 2
	// ExitInvalidInput is a problem with what the cluster holds (a certificate,
	// a secret, a missing CRD or namespace): nothing was written.
	ExitInvalidInput = 3
	// ExitConflict is an object owned by someone else (use --force-conflicts).
	ExitConflict = 4
	// ExitForbidden is an RBAC denial.
	ExitForbidden = 5
	// ExitUnreachable is an API server that cannot be reached or timed out.
	ExitUnreachable = 6
	// ExitPartial is a failure after some objects were written; the error
	// lists them. Re-running converges.
	ExitPartial = 7
)

// Error carries the exit code a failure should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// WithCode wraps err so the process exits with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// IsForbidden says whether err is an RBAC denial the plugin explained.
func IsForbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == ExitForbidden
}
