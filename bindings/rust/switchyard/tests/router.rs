mod common;

use common::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard::*;

#[test]
fn version_and_status_names() {
    assert!(abi_version() >= 1);
    assert!(!version_string().is_empty());
    assert_eq!(status_name(sys::SY_ECONFIG), "SY_ECONFIG");
    assert_eq!(status_str(sys::SY_ENOROUTE), "no route to any target");
}

#[test]
fn plan_from_file_round_robin_with_address_map() {
    let cfg = TempConfig::new("rr", &round_robin_config());
    let router = Router::open(&cfg.path).expect("router");
    assert!(router.plan_size() <= sys::SY_PLAN_STORAGE_SIZE);
    let req = router.request().unwrap();
    let targets: Vec<Target> = router.plan(&req).unwrap().collect::<Result<_>>().unwrap();
    let nodes: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, ["a", "b", "c"]);
    let a = &targets[0];
    assert_eq!(a.host.as_deref(), Some("127.0.0.1"), "address_map rewrote a");
    assert_eq!(a.port, 19042);
    assert_eq!(a.datacenter.as_deref(), Some("dc1"));
    assert_eq!(a.rack.as_deref(), Some("r1"));
    assert_eq!(a.node_index, 0);
    assert_eq!(a.epoch, router.epoch());
    assert_eq!(a.via, ["default_policy", "address_map"]);
    assert_eq!(a.shard, None);
    assert!(!a.tls && !a.is_down());
    let b = &targets[1];
    assert_eq!(b.host.as_deref(), Some("10.0.0.2"));
    assert_eq!(b.port, 9042);
    assert_eq!(b.via[0], "default_policy");
    assert_eq!(targets[2].datacenter.as_deref(), Some("dc2"));

    // The next plan starts one node later; a plan is lazy and can stop early.
    let mut plan = router.plan(&req).unwrap();
    assert_eq!(plan.next().unwrap().unwrap().node, "b");
    drop(plan);

    // report() rebuilds a C target from the copy.
    router.report(&targets[1], Outcome::new(OutcomeKind::Success, Duration::from_millis(3))).unwrap();
    router.report(&targets[0], Outcome::new(OutcomeKind::Refused, Duration::ZERO)).unwrap();
}

#[test]
fn request_builder_and_json() {
    let router = Router::from_json(&round_robin_config()).unwrap();
    let mut req = router.request().unwrap();
    req.key(b"user:42")
        .unwrap()
        .keyspace("shop")
        .unwrap()
        .table("carts")
        .unwrap()
        .consistency(Consistency::LocalQuorum)
        .unwrap()
        .lwt(false)
        .unwrap()
        .token(murmur3_token(b"user:42"))
        .unwrap()
        .node("a")
        .unwrap()
        .entity("counter", "user-42")
        .unwrap()
        .context_json(r#"{"headers": {"x": "y"}}"#)
        .unwrap();
    assert_eq!(router.plan(&req).unwrap().count(), 3);

    let req = Request::from_json(&router, r#"{"key": "user:42", "keyspace": "shop", "consistency": "LOCAL_QUORUM"}"#)
        .unwrap();
    assert_eq!(router.plan(&req).unwrap().count(), 3);

    let e = Request::from_json(&router, r#"{"consistency": "BOGUS"}"#).expect_err("bad consistency is an error");
    assert_eq!(e.code, sys::SY_EREQUEST);
    assert_eq!(e.name, "SY_EREQUEST");
    let e = req_err_context(&router);
    assert_eq!(e.code, sys::SY_EREQUEST);
    assert!(router.request().unwrap().keyspace("a\0b").is_err());
}

fn req_err_context(router: &Router) -> Error {
    let mut req = router.request().unwrap();
    req.context_json("[1, 2").expect_err("bad context")
}

#[test]
fn bad_config_names_code_and_path() {
    let bad = round_robin_config().replace(
        "\"port\": 9042, \"datacenter\": \"dc2\", \"rack\": \"r1\"}",
        "\"port\": 70000, \"datacenter\": \"dc2\", \"rack\": \"r1\"}",
    );
    let e = Router::from_json(&bad).expect_err("port out of range");
    assert_eq!(e.code, -3);
    assert_eq!(e.code, sys::SY_ECONFIG);
    assert_eq!(e.name, "SY_ECONFIG");
    assert!(e.path.starts_with("topology.nodes["), "path {:?}", e.path);
    assert!(!e.message.is_empty());
    assert!(e.to_string().contains(&e.path));

    let e = Router::from_json(r#"{"selector": {"plugin": "default_policy"}, "bogus": 1}"#).err().unwrap();
    assert_eq!(e.code, sys::SY_ECONFIG);
    assert_eq!(e.path, "bogus");

    let e = Router::open("/nonexistent/switchyard.json").err().unwrap();
    assert!(e.code < 0);
}

#[test]
fn update_topology_json() {
    let router = Router::from_json(&round_robin_config()).unwrap();
    let before = router.epoch();
    router.update_topology_json(r#"{"nodes": [{"id": "z", "host": "10.0.0.9", "port": 9042}]}"#).unwrap();
    assert_eq!(router.epoch(), before + 1);
    let req = router.request().unwrap();
    let nodes: Vec<String> = router.plan(&req).unwrap().map(|t| t.unwrap().node).collect();
    assert_eq!(nodes, ["z"]);
    let e = router.update_topology_json(r#"{"nodes": [{"id": "z"}]}"#).unwrap_err();
    assert_eq!(e.code, sys::SY_ETOPOLOGY);
    assert_eq!(router.epoch(), before + 1);
}

#[test]
fn eight_threads_share_one_router() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Router>();
    assert_send::<Request<'static>>();
    assert_send::<Plan<'static>>();
    assert_send::<Conn>();

    let router = Arc::new(Router::from_json(&round_robin_config()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let router = Arc::clone(&router);
            std::thread::spawn(move || {
                let mut req = router.request().unwrap();
                req.key(format!("k{i}").as_bytes()).unwrap();
                let mut firsts = [0usize; 3];
                for n in 0..1000 {
                    let targets: Vec<Target> = router.plan(&req).unwrap().collect::<Result<_>>().unwrap();
                    assert_eq!(targets.len(), 3);
                    let mut names: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
                    firsts[(names[0].as_bytes()[0] - b'a') as usize] += 1;
                    names.sort();
                    assert_eq!(names, ["a", "b", "c"]);
                    if n % 100 == 0 {
                        router
                            .report(&targets[0], Outcome::new(OutcomeKind::Success, Duration::from_micros(50)))
                            .unwrap();
                    }
                }
                firsts
            })
        })
        .collect();
    let mut total = [0usize; 3];
    for t in threads {
        let f = t.join().unwrap();
        for i in 0..3 {
            total[i] += f[i];
        }
    }
    // round robin: 8000 plans spread evenly over the three nodes
    assert_eq!(total.iter().sum::<usize>(), 8000);
    for n in total {
        assert!((2665..=2668).contains(&n), "uneven rotation {total:?}");
    }
}

#[test]
fn connect_fails_over_from_refused_to_live() {
    let live = echo_server();
    let dead = dead_port();
    let router = Router::from_json(&two_routes_config(dead, live)).unwrap();
    let mut req = router.request().unwrap();
    req.node("svc").unwrap();

    let plan: Vec<Target> = router.plan(&req).unwrap().collect::<Result<_>>().unwrap();
    assert_eq!(plan.iter().map(|t| t.port).collect::<Vec<_>>(), [dead, live]);
    assert_eq!(plan[0].weight, Some(30));
    assert_eq!(plan[0].via, ["static_routes"]);

    let opts = ConnectOptions { io_timeout: Some(Duration::from_secs(5)), ..Default::default() };
    let (mut conn, attempts) = router.connect(&req, opts).expect("connect");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].outcome, OutcomeKind::Refused);
    assert_eq!(attempts[0].outcome as u32, 2);
    assert_eq!(attempts[0].status, sys::SY_ECONNECT);
    assert_eq!(attempts[0].port, dead);
    assert!(attempts[0].message.contains("refused"), "{}", attempts[0].message);
    assert!(attempts[1].ok());
    assert_eq!(attempts[1].outcome, OutcomeKind::Success);
    assert_eq!(attempts[1].node, "svc");
    assert_eq!(attempts[1].host, "127.0.0.1");
    assert_eq!(attempts[1].port, live);

    let info = conn.info().unwrap();
    assert_eq!(info.port, live);
    assert_eq!(info.host, "127.0.0.1");
    assert!(!info.tls && info.fd >= 0 && !info.reused);
    assert_eq!(info.peer, format!("127.0.0.1:{live}"));

    conn.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    // Released to the pool, the next connect reuses it.
    conn.release();
    let (mut conn, attempts) = router.connect(&req, opts).unwrap();
    assert!(attempts.last().unwrap().ok());
    conn.write_all(b"pong").unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    drop(conn);

    let stats = router.connect_stats().unwrap();
    assert!(stats.contains(&format!("127.0.0.1:{live}")), "{stats}");
    assert!(stats.starts_with('{'));
}

#[test]
fn connect_error_carries_every_attempt() {
    let (d1, d2) = (dead_port(), dead_port());
    let router = Router::from_json(&two_routes_config(d1, d2)).unwrap();
    let mut req = router.request().unwrap();
    req.node("svc").unwrap();
    let e = router.connect(&req, ConnectOptions::default()).unwrap_err();
    assert_eq!(e.error.code, sys::SY_ECONNECT);
    assert_eq!(e.attempts.len(), 2);
    assert!(e.attempts.iter().all(|a| a.outcome == OutcomeKind::Refused));
    assert!(e.to_string().contains("SY_ECONNECT"));

    req.clear().node("nobody").unwrap();
    let e = router.connect(&req, ConnectOptions::default()).unwrap_err();
    assert_eq!(e.error.code, sys::SY_ENOROUTE);
    let e = router.plan(&req).expect_err("empty plan");
    assert_eq!(e.code, sys::SY_ENOROUTE);
}

#[test]
fn conn_read_times_out() {
    // A server that accepts and stays silent.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let keep = std::thread::spawn(move || l.accept().map(|(s, _)| s));
    let router = Router::from_json(&two_routes_config(port, port)).unwrap();
    let mut req = router.request().unwrap();
    req.node("other").unwrap();
    let (mut conn, _) = router.connect(&req, ConnectOptions::default()).unwrap();
    conn.set_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 8];
    let e = conn.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    drop(conn);
    drop(keep.join());
}

#[test]
fn static_routes_table() {
    let live = echo_server();
    let router = Router::from_json(&two_routes_config(1, live)).unwrap();
    let table = router.static_routes().unwrap();
    let routes = table.query("svc").unwrap();
    assert_eq!(routes.iter().map(|r| r.weight).collect::<Vec<_>>(), [30, 20]);
    assert_eq!(routes[0].pattern, "^svc$");
    assert_eq!(routes[0].kind, RouteKind::Static);

    table
        .add(RouteKind::Static, &format!(r#"{{"pattern": "^new$", "weight": 5, "host": "127.0.0.1", "port": {live}}}"#))
        .unwrap();
    let e = table.add(RouteKind::Static, r#"{"pattern": "^new$", "host": "127.0.0.1", "port": 1}"#).unwrap_err();
    assert_eq!(e.code, sys::SY_ETAKEN);
    assert_eq!(table.list().unwrap().len(), 3);

    let mut req = router.request().unwrap();
    req.node("new").unwrap();
    let t: Vec<Target> = router.plan(&req).unwrap().collect::<Result<_>>().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].port, live);

    table.remove(RouteKind::Static, "^new$").unwrap();
    assert_eq!(table.remove(RouteKind::Static, "^new$").unwrap_err().code, sys::SY_EUNKNOWN);
    assert_eq!(table.query("new").unwrap_err().code, sys::SY_ENOROUTE);

    let rr = Router::from_json(&round_robin_config()).unwrap();
    assert!(rr.static_routes().is_err());
}

#[test]
fn log_callback_receives_messages() {
    let lines: Arc<Mutex<Vec<(Level, String, String)>>> = Arc::default();
    let sink = Arc::clone(&lines);
    let opts = Options {
        log: Some(Box::new(move |level, source, message| {
            sink.lock().unwrap().push((level, source.to_string(), message.to_string()))
        })),
        log_level: Some(Level::Debug),
        ..Default::default()
    };
    let router = Router::with_options(&round_robin_config(), opts).unwrap();
    drop(router);
    let lines = lines.lock().unwrap();
    assert!(lines.iter().any(|(l, s, m)| *l == Level::Info && s == "core" && m.contains("router ready")), "{lines:?}");

    // A config error: the closure is freed exactly once either way.
    let count = Arc::new(Mutex::new(0));
    let c2 = Arc::clone(&count);
    let opts = Options { log: Some(Box::new(move |_, _, _| *c2.lock().unwrap() += 1)), ..Default::default() };
    assert!(Router::with_options("{}", opts).is_err());
    assert_eq!(Arc::strong_count(&count), 1, "the log closure was freed");
}
