package switchyard

/*
#include <stdlib.h>
#include <switchyard/switchyard.h>
*/
import "C"

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Attempt flags (enum sy_attempt_flags), in Attempt.Flags.
const (
	AttemptPooled      = C.SY_ATTEMPT_POOLED
	AttemptCircuitOpen = C.SY_ATTEMPT_CIRCUIT_OPEN
	AttemptProbe       = C.SY_ATTEMPT_PROBE
	AttemptSkipped     = C.SY_ATTEMPT_SKIPPED
	AttemptTLS         = C.SY_ATTEMPT_TLS
)

// Attempt is one target tried while connecting.
type Attempt struct {
	Node       string
	Host       string
	Port       int
	Err        error       // nil on success, else an *Error (SY_ECONNECT, SY_ETIMEOUT...)
	Outcome    OutcomeKind // reported to the plugins
	Flags      uint32
	Elapsed    time.Duration
	ProxyCount int
	Message    string // why it failed, "" on success
}

// ConnectOptions tune Connect; the zero value takes the config's settings.
type ConnectOptions struct {
	Timeout     time.Duration // per attempt; 0: connect.timeout_ms
	MaxAttempts int           // 0: every target of the plan
	NoPool      bool          // always open a new connection
	// MaxRecorded bounds the attempts kept for Conn.Attempts and the error
	// (0: 16).
	MaxRecorded int
}

// ConnectError is a failed Connect: the *Error (its message names every
// target and why it failed) plus every attempt. errors.Is and errors.As
// see the *Error.
type ConnectError struct {
	Err      *Error
	Attempts []Attempt
}

func (e *ConnectError) Error() string { return e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// ConnInfo describes an open connection.
type ConnInfo struct {
	FD             int // the socket; use it directly only without TLS
	TLS            bool
	Reused         bool // came from the pool
	Node, Host     string
	Port           int
	ProxyCount     int
	Peer           string // the address connected to (the first hop when proxied)
	TLSVersion     string
	TLSCiphersuite string
}

// Conn is a connection opened by Connect. It implements net.Conn. Read and
// Write may run concurrently with each other on a plain TCP connection;
// over TLS they are serialised. Close (or Release) frees it; a finalizer
// closes it if it is forgotten.
type Conn struct {
	mu       sync.RWMutex // shared by I/O, exclusive by Close/Release
	tlsMu    sync.Mutex   // serialises I/O over TLS
	c        *C.sy_conn
	closing  atomic.Bool // set once, by the first Close or Release
	info     ConnInfo
	attempts []Attempt
	local    net.Addr
	remote   net.Addr

	dmu           sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
}

// Connect plans req and tries its targets in order until one connects.
// ctx's deadline bounds the whole connect; a ctx already done returns its
// error. The connect itself is not interrupted by cancellation.
func (r *Router) Connect(ctx context.Context, req *Request) (*Conn, error) {
	return r.ConnectWith(ctx, req, ConnectOptions{})
}

// ConnectWith is Connect with options.
func (r *Router) ConnectWith(ctx context.Context, req *Request, o ConnectOptions) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	copts := C.sy_connect_options{struct_size: C.sizeof_sy_connect_options,
		timeout_ms: C.uint32_t(ceilMs(o.Timeout)), max_attempts: C.uint32_t(o.MaxAttempts)}
	if o.NoPool {
		copts.flags |= C.SY_CONNECT_NO_POOL
	}
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		copts.deadline_ms = C.uint32_t(ceilMs(left))
	}
	capacity := o.MaxRecorded
	if capacity <= 0 {
		capacity = 16
	}
	var conn *Conn
	err := r.use(func(cr *C.sy_router) error {
		creq, err := req.build(cr)
		if err != nil {
			return err
		}
		defer C.sy_request_free(creq)
		arr := (*C.sy_attempt)(C.calloc(C.size_t(capacity), C.sizeof_sy_attempt))
		defer C.free(unsafe.Pointer(arr))
		slots := unsafe.Slice(arr, capacity)
		for i := range slots {
			slots[i].struct_size = C.sizeof_sy_attempt
		}
		res := (*C.sy_connect_result)(C.calloc(1, C.sizeof_sy_connect_result))
		defer C.free(unsafe.Pointer(res))
		res.struct_size = C.sizeof_sy_connect_result
		res.attempts = arr
		res.attempt_cap = C.size_t(capacity)
		var c *C.sy_conn
		cerr := newCError()
		rc := C.sy_router_connect(cr, creq, &copts, &c, res, &cerr)
		n := int(res.attempt_count)
		if n > capacity {
			n = capacity
		}
		attempts := make([]Attempt, n)
		for i := range attempts {
			attempts[i] = copyAttempt(&slots[i])
		}
		if rc != C.SY_OK {
			return &ConnectError{Err: newError(rc, &cerr), Attempts: attempts}
		}
		conn = newConn(c, attempts)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

func copyAttempt(a *C.sy_attempt) Attempt {
	g := Attempt{
		Node:       C.GoString(&a.node[0]),
		Host:       C.GoString(&a.host[0]),
		Port:       int(a.port),
		Outcome:    OutcomeKind(a.outcome),
		Flags:      uint32(a.flags),
		Elapsed:    time.Duration(a.elapsed_ns),
		ProxyCount: int(a.proxy_count),
		Message:    C.GoString(&a.message[0]),
	}
	if a.status != C.SY_OK {
		e := newError(a.status, nil)
		if g.Message != "" {
			e.Message = g.Message
		}
		g.Err = e
	}
	return g
}

func newConn(c *C.sy_conn, attempts []Attempt) *Conn {
	var info C.sy_conn_info
	info.struct_size = C.sizeof_sy_conn_info
	C.sy_conn_get_info(c, &info)
	conn := &Conn{c: c, attempts: attempts, info: ConnInfo{
		FD: int(info.fd), TLS: info.tls != 0, Reused: info.reused != 0,
		Node: goString(info.node), Host: goString(info.host), Port: int(info.port),
		ProxyCount: int(info.proxy_count), Peer: goString(info.peer),
		TLSVersion: goString(info.tls_version), TLSCiphersuite: goString(info.tls_ciphersuite),
	}}
	conn.local, conn.remote = sockAddr(syscall.Getsockname, conn.info.FD), sockAddr(syscall.Getpeername, conn.info.FD)
	runtime.SetFinalizer(conn, (*Conn).Close)
	return conn
}

func sockAddr(get func(int) (syscall.Sockaddr, error), fd int) net.Addr {
	sa, err := get(fd)
	if err != nil {
		return &net.TCPAddr{}
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	}
	return &net.TCPAddr{}
}

func ceilMs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<31 {
		ms = 1 << 31
	}
	return uint32(ms)
}

// timeout turns a deadline into sy_conn_*'s timeout_ms (0: none).
func timeout(d time.Time) (C.uint32_t, error) {
	if d.IsZero() {
		return 0, nil
	}
	left := time.Until(d)
	if left <= 0 {
		return 0, os.ErrDeadlineExceeded
	}
	return C.uint32_t(ceilMs(left)), nil
}

// io runs f on the C connection under the shared lock.
func (c *Conn) io(deadline func() time.Time, f func(*C.sy_conn, C.uint32_t, *C.sy_error) C.int) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.c == nil || c.closing.Load() {
		return net.ErrClosed
	}
	c.dmu.Lock()
	ms, err := timeout(deadline())
	c.dmu.Unlock()
	if err != nil {
		return err
	}
	if c.info.TLS {
		c.tlsMu.Lock()
		defer c.tlsMu.Unlock()
	}
	cerr := newCError()
	rc := f(c.c, ms, &cerr)
	runtime.KeepAlive(c)
	if rc != C.SY_OK {
		if c.closing.Load() {
			return net.ErrClosed
		}
		return newError(rc, &cerr)
	}
	return nil
}

// Read reads up to len(p) bytes; io.EOF when the peer closed.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var got C.size_t
	err := c.io(func() time.Time { return c.readDeadline }, func(cc *C.sy_conn, ms C.uint32_t, e *C.sy_error) C.int {
		return C.sy_conn_recv(cc, unsafe.Pointer(&p[0]), C.size_t(len(p)), ms, &got, e)
	})
	if err != nil {
		return 0, err
	}
	if got == 0 {
		return 0, io.EOF
	}
	return int(got), nil
}

// Write writes all of p or fails.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	err := c.io(func() time.Time { return c.writeDeadline }, func(cc *C.sy_conn, ms C.uint32_t, e *C.sy_error) C.int {
		return C.sy_conn_send(cc, unsafe.Pointer(&p[0]), C.size_t(len(p)), ms, e)
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// finish frees the C connection with free, after waking blocked I/O when
// wake is set. Later calls do nothing.
func (c *Conn) finish(wake bool, free func(*C.sy_conn)) error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	if wake {
		// Blocked Read/Write hold the shared lock: shutting the socket down
		// makes them return so that Close does not wait forever.
		_ = syscall.Shutdown(c.info.FD, syscall.SHUT_RDWR)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	free(c.c)
	c.c = nil
	runtime.SetFinalizer(c, nil)
	return nil
}

// Close closes the connection. It is idempotent.
func (c *Conn) Close() error {
	return c.finish(true, func(cc *C.sy_conn) { C.sy_conn_close(cc) })
}

// Release hands an idle connection back to its endpoint's pool (closing it
// when the pool is full or the connection broken). The Conn is closed
// afterwards.
func (c *Conn) Release() error {
	return c.finish(false, func(cc *C.sy_conn) { C.sy_conn_release(cc) })
}

// Attempts returns what each tried target did, in order.
func (c *Conn) Attempts() []Attempt { return append([]Attempt(nil), c.attempts...) }

// Info describes the connection.
func (c *Conn) Info() ConnInfo { return c.info }

func (c *Conn) LocalAddr() net.Addr  { return c.local }
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

func (c *Conn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.dmu.Unlock()
	return nil
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline = t
	c.dmu.Unlock()
	return nil
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDeadline = t
	c.dmu.Unlock()
	return nil
}

var _ net.Conn = (*Conn)(nil)
