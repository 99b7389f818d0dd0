module switchyard.dev/switchyard

go 1.19
