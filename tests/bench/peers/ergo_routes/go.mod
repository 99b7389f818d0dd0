module switchyard.local/bench/ergo_routes

go 1.19
