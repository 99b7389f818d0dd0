//! The Rust side of the binding overhead benchmark (bindings/bench/run.sh):
//! the same router and request as bindings/bench/bench_plan_c.c and
//! bindings/go/bench_test.go, examples/demo/cluster.json (round robin over 3
//! up nodes of 4, then address_map) and examples/demo/request.json. Prints
//! ns per operation (median of 7 runs) and Rust heap allocations per
//! operation (the library's own, in C, are not counted):
//!
//! ```text
//! SY_PLUGIN_DIR=build/plugins cargo run --release --offline --example bench_plan -- \
//!     examples/demo/cluster.json examples/demo/request.json [ITERATIONS [CASE]]
//! ```
//!
//! Cases: `first` (plan + first target, the request built once), `full` (the
//! whole plan), `ref_full` (the whole plan through `Plan::next_ref`: borrowed
//! targets, the safe API's fast path), `full_sys` (the whole plan through
//! switchyard-sys, with borrowed strings as in C), `req_full` (the request
//! parsed from the JSON text, then the whole plan), `reqf_full` (the request
//! set field by field, then the whole plan). Lines `RESULT rust CASE NS
//! ALLOCS` are what run.sh reads.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;

use switchyard::sys::{self, SyInit};
use switchyard::{Consistency, Options, Request, Router};

/// Counts this thread's allocations. A plain thread-local counter: an atomic
/// one (a locked instruction per allocation) would add about 5 ns to each
/// of the 25 allocations of a plan.
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count_alloc() {
    // try_with: nothing to count once the thread's locals are gone.
    let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
}

fn allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RUNS: usize = 7;

/// ns per call of `f`: the median of RUNS timed runs of `n` calls, after a
/// warm-up; and the allocations per call.
fn measure(n: u64, f: &mut dyn FnMut() -> usize) -> (f64, f64) {
    let mut sink = 0usize;
    for _ in 0..n / 10 + 1 {
        sink += f();
    }
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t0 = Instant::now();
        for _ in 0..n {
            sink += f();
        }
        runs.push(t0.elapsed().as_nanos() as f64 / n as f64);
    }
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let before = allocs();
    for _ in 0..1000 {
        sink += f();
    }
    let per_call = (allocs() - before) as f64 / 1000.0;
    black_box(sink);
    (runs[RUNS / 2], per_call)
}

fn full_plan(router: &Router, req: &Request<'_>) -> usize {
    let mut n = 0;
    for t in router.plan(req).expect("plan") {
        let t = t.expect("target");
        n += t.port as usize + t.node.len();
    }
    n
}

/// The same whole plan through the safe API without copies: `next_ref`
/// lends each target (borrowed strings); the only allocation is the plan's
/// boxed storage.
fn full_plan_ref(router: &Router, req: &Request<'_>) -> usize {
    let mut plan = router.plan(req).expect("plan");
    let mut n = 0;
    while let Some(t) = plan.next_ref() {
        let t = t.expect("target");
        n += t.port() as usize + t.node().len();
    }
    n
}

/// The same whole plan through the raw FFI (switchyard-sys), the way C does
/// it: storage on the stack, borrowed strings, no copies. What the safe
/// API costs on top of this is its owned `Target`s.
fn full_plan_sys(router: &Router, req: &Request<'_>) -> usize {
    let mut storage = MaybeUninit::<sys::sy_plan_storage>::uninit();
    let mut plan: *mut sys::sy_plan = ptr::null_mut();
    let rc = unsafe {
        sys::sy_plan_init(
            router.as_raw(),
            req.as_raw(),
            storage.as_mut_ptr().cast(),
            std::mem::size_of::<sys::sy_plan_storage>(),
            &mut plan,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, sys::SY_OK, "sy_plan_init");
    let mut n = 0;
    let mut t = sys::sy_target::init();
    while unsafe { sys::sy_plan_next(plan, &mut t) } == 1 {
        n += t.port as usize + unsafe { *t.node } as usize;
    }
    unsafe { sys::sy_plan_release(plan) };
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench_plan CONFIG REQUEST_JSON [ITERATIONS [CASE]]");
        std::process::exit(2);
    }
    let iterations: u64 = args.get(3).and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(200_000);
    let plugin_dir = std::env::var("SY_PLUGIN_DIR").unwrap_or_else(|_| "build/plugins".into());
    let opts = Options { plugin_path: vec![plugin_dir], ..Options::default() };
    let router = Router::open_with_options(&args[1], opts).unwrap_or_else(|e| {
        eprintln!("bench_plan: {}: {e}", args[1]);
        std::process::exit(1)
    });
    let json = std::fs::read_to_string(&args[2]).unwrap_or_else(|e| {
        eprintln!("bench_plan: {}: {e}", args[2]);
        std::process::exit(1)
    });
    let req = Request::from_json(&router, &json).expect("request");
    println!(
        "# bench_plan (Rust): libswitchyard {}, {iterations} iterations per run, median of {RUNS} runs",
        switchyard::version_string()
    );
    let targets = router.plan(&req).expect("plan").count();
    println!("# targets per plan: {targets}");

    // An optional 4th argument runs only the case of that name.
    let only = args.get(4).cloned();
    let run = |name: &str, n: u64, f: &mut dyn FnMut() -> usize| {
        if only.as_deref().map_or(true, |o| o == name) {
            let (ns, allocs) = measure(n, f);
            println!("RESULT rust {name} {ns:.1} {allocs:.2}");
        }
    };
    run("first", iterations, &mut || {
        let t = router.plan(&req).expect("plan").next().expect("a target").expect("target");
        t.port as usize + t.node.len()
    });
    run("full", iterations, &mut || full_plan(&router, &req));
    run("ref_full", iterations, &mut || full_plan_ref(&router, &req));
    run("full_sys", iterations, &mut || full_plan_sys(&router, &req));
    run("req_full", iterations / 2, &mut || {
        let req = Request::from_json(&router, &json).expect("request");
        full_plan(&router, &req)
    });
    run("reqf_full", iterations / 2, &mut || {
        let mut req = router.request().expect("request");
        req.key(b"user:42")
            .and_then(|r| r.keyspace("shop"))
            .and_then(|r| r.table("carts"))
            .and_then(|r| r.consistency(Consistency::LocalQuorum))
            .expect("fields");
        full_plan(&router, &req)
    });
}
