module switchyard.dev/examples/go

go 1.19

require switchyard.dev/switchyard v0.0.0

replace switchyard.dev/switchyard => ../../bindings/go
