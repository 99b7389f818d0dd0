//go:build switchyard_buildtree

package switchyard

// Build tree: CGO_CFLAGS carries -I for include/ and the build's include/
// (version.h), CGO_LDFLAGS carries -L and -rpath for the build's core/.

// #cgo LDFLAGS: -lswitchyard
import "C"
