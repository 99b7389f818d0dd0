package switchyard

// #include <switchyard/switchyard.h>
import "C"

import (
	"fmt"
	"os"
	"time"
)

// Error is a failed call of the C library: its status code (a negative
// SY_E* value), the code's name, the JSON path of the offending element
// ("" when not applicable) and the message.
type Error struct {
	Code    int
	Name    string
	Path    string
	Message string
	// RetryAfter: with ErrPending, when retrying makes sense.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = C.GoString(C.sy_status_str(C.int(e.Code)))
	}
	if e.Path != "" {
		return fmt.Sprintf("switchyard: %s: %s: %s", e.Name, e.Path, msg)
	}
	return fmt.Sprintf("switchyard: %s: %s", e.Name, msg)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNoRoute) works. An SY_ETIMEOUT error also matches
// os.ErrDeadlineExceeded.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code
	}
	return target == os.ErrDeadlineExceeded && e.Code == C.SY_ETIMEOUT
}

// Timeout reports whether the error is SY_ETIMEOUT (see net.Error).
func (e *Error) Timeout() bool { return e.Code == C.SY_ETIMEOUT }

// Temporary is false; it is here to satisfy net.Error.
func (e *Error) Temporary() bool { return false }

func sentinel(code C.int) *Error {
	return &Error{Code: int(code), Name: C.GoString(C.sy_status_name(code)),
		Message: C.GoString(C.sy_status_str(code))}
}

// Sentinels for errors.Is: only the code is compared.
var (
	ErrInvalid     = sentinel(C.SY_EINVAL)
	ErrNoMemory    = sentinel(C.SY_ENOMEM)
	ErrConfig      = sentinel(C.SY_ECONFIG)
	ErrRequest     = sentinel(C.SY_EREQUEST)
	ErrTopology    = sentinel(C.SY_ETOPOLOGY)
	ErrNoRoute     = sentinel(C.SY_ENOROUTE)
	ErrPlugin      = sentinel(C.SY_EPLUGIN)
	ErrABI         = sentinel(C.SY_EABI)
	ErrUnknown     = sentinel(C.SY_EUNKNOWN)
	ErrTaken       = sentinel(C.SY_ETAKEN)
	ErrUnsupported = sentinel(C.SY_EUNSUPPORTED)
	ErrMisuse      = sentinel(C.SY_EMISUSE)
	ErrTooSmall    = sentinel(C.SY_ETOOSMALL)
	ErrLimit       = sentinel(C.SY_ELIMIT)
	ErrTimeout     = sentinel(C.SY_ETIMEOUT)
	ErrConnect     = sentinel(C.SY_ECONNECT)
	ErrTLS         = sentinel(C.SY_ETLS)
	ErrIO          = sentinel(C.SY_EIO)
	ErrCallback    = sentinel(C.SY_ECALLBACK)
	ErrInternal    = sentinel(C.SY_EINTERNAL)
	ErrTranslate   = sentinel(C.SY_ETRANSLATE)
	ErrCanceled    = sentinel(C.SY_ECANCELED)
	ErrPending     = sentinel(C.SY_EPENDING)
)

// ErrClosed is returned by every method of a Router (and its interfaces)
// or a Conn after Close.
var ErrClosed = &Error{Code: C.SY_EMISUSE, Name: "SY_EMISUSE", Message: "use after Close"}

// newError builds an *Error from a status code and the sy_error the call
// filled (err may be nil, or left empty by the library).
func newError(code C.int, err *C.sy_error) *Error {
	e := &Error{Code: int(code), Name: C.GoString(C.sy_status_name(code))}
	if err != nil {
		e.Path = C.GoString(&err.path[0])
		e.Message = C.GoString(&err.message[0])
		e.RetryAfter = time.Duration(err.retry_after_ms) * time.Millisecond
	}
	if e.Message == "" {
		e.Message = C.GoString(C.sy_status_str(code))
	}
	return e
}

func newCError() C.sy_error {
	return C.sy_error{struct_size: C.uint32_t(C.sizeof_sy_error)}
}
