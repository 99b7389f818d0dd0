//! The switchyard example in Rust (the same program exists in C and Go):
//! load a config with a real plugin chain (static_routes, then address_map),
//! plan a request, connect to a loopback echo server the example starts,
//! print the plan and every attempt, and exchange "ping".
//!
//! Run: SY_PLUGIN_DIR=build/plugins SWITCHYARD_LIB_DIR=build/core \
//!      cargo run --offline --manifest-path examples/rust/Cargo.toml
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use switchyard::{ConnectOptions, Router};

/// An echo server on 127.0.0.1:0, in a thread.
fn start_echo_server() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// A loopback port nobody listens on.
fn dead_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    l.local_addr().map(|a| a.port())
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let plugin_dir = std::env::var("SY_PLUGIN_DIR").unwrap_or_else(|_| "build/plugins".into());
    let live = start_echo_server()?;
    let dead = dead_port()?;

    // Node "svc" has two static routes: a dead port first (weight 20), then a
    // logical address (weight 10) that address_map maps to the echo server.
    let config = format!(
        r#"{{"plugin_path": [{plugin_dir}],
  "selector": {{"plugin": "static_routes", "config": {{"routes": [
    {{"pattern": "^svc$", "weight": 20, "host": "127.0.0.1", "port": {dead}}},
    {{"pattern": "^(svc|api)$", "weight": 10, "host": "10.0.0.1", "port": 9042}}]}}}},
  "translators": [{{"plugin": "address_map",
                    "config": {{"map": {{"10.0.0.1:9042": "127.0.0.1:{live}"}}}}}}],
  "connect": {{"timeout_ms": 2000}}}}"#,
        plugin_dir = json_str(&plugin_dir)
    );
    let router = Router::from_json(&config)?;
    println!(
        "switchyard {} (ABI {})",
        switchyard::version_string(),
        switchyard::abi_version()
    );

    let mut req = router.request()?;
    req.node("svc")?;

    println!("plan for node \"svc\":");
    for (i, target) in router.plan(&req)?.enumerate() {
        let t = target?;
        println!(
            "  {i}: {} {}:{} weight {} via {}",
            t.node,
            t.host.as_deref().unwrap_or("-"),
            t.port,
            t.weight.map_or("-".into(), |w| w.to_string()),
            t.via.join(",")
        );
    }

    let opts = ConnectOptions {
        io_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let (mut conn, attempts) = match router.connect(&req, opts) {
        Ok(ok) => ok,
        Err(e) => {
            for a in &e.attempts {
                println!("attempt: {a}");
            }
            return Err(e.into());
        }
    };
    println!("connect attempts:");
    for (i, a) in attempts.iter().enumerate() {
        println!(
            "  {i}: {} {}:{} {:?} {:.3} ms{}",
            a.node,
            a.host,
            a.port,
            a.outcome,
            a.elapsed.as_secs_f64() * 1e3,
            if a.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.message)
            }
        );
    }
    let info = conn.info()?;
    println!(
        "connected to {} ({}:{}, peer {})",
        info.node, info.host, info.port, info.peer
    );

    conn.write_all(b"ping")?;
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf)?;
    println!("echo: {}", String::from_utf8_lossy(&buf));
    if &buf != b"ping" {
        return Err("the echo did not match".into());
    }
    conn.release();
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plan_connect: {e}");
            ExitCode::FAILURE
        }
    }
}
