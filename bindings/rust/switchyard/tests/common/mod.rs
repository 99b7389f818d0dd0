#![allow(dead_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

/// The plugin directory of the build under test.
pub fn plugin_dir() -> String {
    if let Ok(d) = std::env::var("SY_PLUGIN_DIR") {
        return d;
    }
    if let Ok(lib) = std::env::var("SWITCHYARD_LIB_DIR") {
        let p = PathBuf::from(lib).join("../plugins");
        if p.is_dir() {
            return p.to_string_lossy().into_owned();
        }
    }
    "build/plugins".to_string()
}

pub fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// round_robin (seed 0) over three up nodes and one down, with address_map
/// rewriting node a's address.
pub fn round_robin_config() -> String {
    format!(
        r#"{{"plugin_path": [{}],
  "topology": {{"nodes": [
    {{"id": "a", "host": "10.0.0.1", "port": 9042, "datacenter": "dc1", "rack": "r1"}},
    {{"id": "b", "host": "10.0.0.2", "port": 9042, "datacenter": "dc1", "rack": "r2"}},
    {{"id": "c", "host": "10.0.0.3", "port": 9042, "datacenter": "dc2", "rack": "r1"}},
    {{"id": "d", "host": "10.0.0.4", "port": 9042, "datacenter": "dc2", "rack": "r1", "up": false}}]}},
  "selector": {{"plugin": "default_policy", "config": {{"mode": "round_robin", "seed": 0}}}},
  "translators": [{{"plugin": "address_map", "config": {{"map": {{"10.0.0.1:9042": "127.0.0.1:19042"}}}}}}]}}"#,
        json_str(&plugin_dir())
    )
}

/// A config file in a fresh temporary directory, removed on drop.
pub struct TempConfig {
    pub dir: PathBuf,
    pub path: PathBuf,
}

impl TempConfig {
    pub fn new(name: &str, text: &str) -> TempConfig {
        let dir = std::env::temp_dir().join(format!(
            "switchyard-rs-{}-{}-{}",
            name,
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        TempConfig { dir, path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An echo server on 127.0.0.1:0 in a thread; returns its port.
pub fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// A port nothing listens on (bound, then closed).
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    // make sure it really refuses
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    port
}

/// static_routes with two routes for node "svc": `first` (weight 30) then `second` (weight 20).
pub fn two_routes_config(first: u16, second: u16) -> String {
    format!(
        r#"{{"plugin_path": [{}],
  "selector": {{"plugin": "static_routes", "config": {{"routes": [
    {{"pattern": "^svc$", "weight": 30, "host": "127.0.0.1", "port": {first}}},
    {{"pattern": "^svc$|^other$", "weight": 20, "host": "127.0.0.1", "port": {second}}}]}}}},
  "connect": {{"timeout_ms": 2000}}}}"#,
        json_str(&plugin_dir())
    )
}
