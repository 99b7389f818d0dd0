// Package switchyard is the Go binding of libswitchyard, the connection
// routing library: load a config (a topology and a plugin chain), plan a
// request, connect along the plan.
//
//	r, err := switchyard.Open("cluster.json", nil)
//	if err != nil { ... }              // an *Error: Code, Name, Path, Message
//	defer r.Close()
//	plan, err := r.Plan(&switchyard.Request{Keyspace: "shop", Key: []byte("user:42")})
//	conn, err := r.Connect(ctx, &switchyard.Request{Node: "db"}) // a net.Conn
//
// A Router is safe for concurrent use (Reload included); Requests are plain
// Go values. For a request planned again and again, Prepare builds it once
// (a PreparedRequest). Every C object is freed by Close (Router,
// PreparedRequest, Conn), with a finalizer as a backup.
//
// Build: by default cgo takes its flags from pkg-config (switchyard.pc).
// With the build tag switchyard_buildtree it only adds -lswitchyard, and
// CGO_CFLAGS / CGO_LDFLAGS point at a build tree (see README.md).
package switchyard
