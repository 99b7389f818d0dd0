//go:build !switchyard_buildtree

package switchyard

// Installed library: flags come from pkg-config (switchyard.pc).

// #cgo pkg-config: switchyard
import "C"
