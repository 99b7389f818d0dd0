//! Router::reload / reload_file, and StaticRoutes across reloads.
mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use switchyard::*;

const NODES: &str = r#"{"nodes": [
    {"id": "a", "host": "10.0.0.1", "port": 9042, "datacenter": "dc1"},
    {"id": "b", "host": "10.0.0.2", "port": 9042, "datacenter": "dc1"},
    {"id": "c", "host": "10.0.0.3", "port": 9042, "datacenter": "dc1"}]}"#;

/// Round robin, then address_map sending every node to 127.0.0.1.
fn mapped() -> String {
    format!(
        r#"{{"plugin_path": [{}], "topology": {NODES},
  "selector": {{"plugin": "default_policy", "config": {{"mode": "round_robin", "seed": 0}}}},
  "translators": [{{"plugin": "address_map", "config": {{"map": {{"10.0.0.1:9042": "127.0.0.1:19042",
    "10.0.0.2:9042": "127.0.0.1:19043", "10.0.0.3:9042": "127.0.0.1:19044"}}}}}}]}}"#,
        json_str(&plugin_dir())
    )
}

/// The same without a translator.
fn unmapped() -> String {
    format!(
        r#"{{"plugin_path": [{}], "topology": {NODES},
  "selector": {{"plugin": "default_policy", "config": {{"mode": "round_robin", "seed": 0}}}}}}"#,
        json_str(&plugin_dir())
    )
}

/// Three errors: an unknown key, a bad node, a missing plugin.
fn bad() -> String {
    format!(
        r#"{{"plugin_path": [{}], "bogus": 1,
  "topology": {{"nodes": [{{"id": "x", "host": "10.0.0.1", "port": 70000}}]}},
  "selector": {{"plugin": "no_such_plugin"}}}}"#,
        json_str(&plugin_dir())
    )
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Kind {
    Mapped,
    Unmapped,
}

/// Which config planned these (host, port, via) targets; panics on a mixed plan.
fn kind_of(targets: &[(String, Option<String>, u16, Vec<String>)]) -> Kind {
    assert_eq!(targets.len(), 3, "{targets:?}");
    let kinds: Vec<Kind> = targets
        .iter()
        .map(|(_, host, port, via)| match (host.as_deref(), via.len()) {
            (Some("127.0.0.1"), 2) if via[1] == "address_map" && *port >= 19042 => Kind::Mapped,
            (Some(h), 1) if h.starts_with("10.0.0.") && *port == 9042 => Kind::Unmapped,
            _ => panic!("unknown target in {targets:?}"),
        })
        .collect();
    assert!(kinds.iter().all(|k| *k == kinds[0]), "a mixed plan: {targets:?}");
    kinds[0]
}

fn plan_kind(router: &Router, req: &Request<'_>) -> Kind {
    let t: Vec<_> = router.plan(req).unwrap().map(|t| t.unwrap()).map(|t| (t.node, t.host, t.port, t.via)).collect();
    kind_of(&t)
}

fn plan_kind_by_ref(router: &Router, req: &Request<'_>) -> Kind {
    let mut plan = router.plan(req).unwrap();
    let mut t = Vec::new();
    while let Some(r) = plan.next_ref() {
        let r = r.unwrap();
        t.push((
            r.node().into_owned(),
            r.host().map(|h| h.into_owned()),
            r.port(),
            r.via().map(|v| v.into_owned()).collect(),
        ));
    }
    kind_of(&t)
}

#[test]
fn reload_changes_the_plan() {
    let router = Router::from_json(&mapped()).unwrap();
    let req = router.request().unwrap(); // one request for every plan
    assert_eq!(plan_kind(&router, &req), Kind::Mapped);
    router.reload(&unmapped()).unwrap();
    assert_eq!(plan_kind(&router, &req), Kind::Unmapped);
    assert_eq!(plan_kind_by_ref(&router, &req), Kind::Unmapped);

    let cfg = TempConfig::new("reload", &mapped());
    router.reload_file(&cfg.path).unwrap();
    assert_eq!(plan_kind(&router, &req), Kind::Mapped);

    // A plan started before a reload ends on the old chain.
    let mut plan = router.plan(&req).unwrap();
    let first = plan.next().unwrap().unwrap();
    router.reload(&unmapped()).unwrap();
    let rest: Vec<Target> = plan.collect::<Result<_>>().unwrap();
    assert_eq!(first.host.as_deref(), Some("127.0.0.1"));
    assert!(rest.iter().all(|t| t.host.as_deref() == Some("127.0.0.1")), "{rest:?}");
    assert_eq!(plan_kind(&router, &req), Kind::Unmapped);
}

#[test]
fn refused_reload_lists_every_error_and_keeps_the_plan() {
    let router = Router::from_json(&mapped()).unwrap();
    let req = router.request().unwrap();
    let e = router.reload(&bad()).expect_err("bad config accepted");
    assert!(e.errors.len() >= 2, "every error, not only the first: {e:?}");
    assert_eq!(e.error, e.errors[0]);
    assert_eq!(e.error.code, sys::SY_ECONFIG);
    assert_eq!(e.error.path, "bogus");
    let paths: Vec<&str> = e.errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"topology.nodes[0].port"), "{paths:?}");
    assert!(e.errors.iter().any(|e| e.message.contains("no_such_plugin")), "{e:?}");
    for x in &e.errors {
        assert!(x.code < 0 && x.name.starts_with("SY_E") && !x.message.is_empty(), "{x:?}");
    }
    let text = e.to_string();
    assert!(text.contains("bogus") && text.contains("no_such_plugin"), "{text}");
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert_eq!(source, e.error.to_string());
    // `?` into a plain Error gives the first one.
    let as_error = || -> Result<()> { Ok(router.reload(&bad())?) };
    assert_eq!(as_error().unwrap_err().path, "bogus");

    // Nothing changed.
    assert_eq!(plan_kind(&router, &req), Kind::Mapped);

    // Not JSON; a missing file (no report then, err only).
    let e = router.reload("{").unwrap_err();
    assert_eq!((e.errors.len(), e.error.code), (1, sys::SY_ECONFIG));
    let e = router.reload_file("/nonexistent/switchyard-reload.json").unwrap_err();
    assert_eq!((e.errors.len(), e.error.code), (1, sys::SY_ECONFIG));
    assert!(e.error.message.contains("/nonexistent/switchyard-reload.json"), "{e}");
    assert_eq!(plan_kind(&router, &req), Kind::Mapped);
}

#[test]
fn reload_while_threads_plan() {
    let router = Arc::new(Router::from_json(&mapped()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (router, stop, seen) = (Arc::clone(&router), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                let mut req = router.request().unwrap();
                req.keyspace("shop").unwrap().key(format!("k{i}").as_bytes()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let k = if i % 2 == 0 { plan_kind(&router, &req) } else { plan_kind_by_ref(&router, &req) };
                    seen[k as usize].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let (a, b, bad) = (mapped(), unmapped(), bad());
    for i in 0..60 {
        router.reload(if i % 2 == 0 { &b } else { &a }).unwrap();
        if i % 10 == 0 {
            assert!(router.reload(&bad).is_err());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a planning thread panicked");
    }
    let (m, u) = (seen[0].load(Ordering::Relaxed), seen[1].load(Ordering::Relaxed));
    assert!(m > 0 && u > 0, "plans seen: {m} mapped, {u} unmapped");
}

fn routes_config(port: u16) -> String {
    format!(
        r#"{{"plugin_path": [{}], "selector": {{"plugin": "static_routes", "config": {{"routes": [
    {{"pattern": "^svc$", "host": "127.0.0.1", "port": {port}}}]}}}}}}"#,
        json_str(&plugin_dir())
    )
}

#[test]
fn static_routes_follow_reloads() {
    let router = Router::from_json(&routes_config(1001)).unwrap();
    let table = router.static_routes().unwrap();
    table.add(RouteKind::Static, r#"{"pattern": "^extra$", "host": "127.0.0.2", "port": 2}"#).unwrap();
    assert_eq!(table.list().unwrap().len(), 2);

    // A changed config: a new instance, without the route added at run time.
    router.reload(&routes_config(1002)).unwrap();
    let all = table.list().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].json.contains("1002"), "{all:?}");
    table.add(RouteKind::Static, r#"{"pattern": "^extra$", "host": "127.0.0.2", "port": 2}"#).unwrap();
    let mut req = router.request().unwrap();
    req.node("extra").unwrap();
    assert_eq!(router.plan(&req).unwrap().next().unwrap().unwrap().port, 2);

    // Table calls from other threads during reloads.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(table.query("svc").unwrap().len(), 1);
                }
            });
        }
        // No panic before `stop` is set: the scope would wait for the threads.
        let reloads: Vec<_> = (0..40u16).map(|i| router.reload(&routes_config(1003 + i % 2))).collect();
        stop.store(true, Ordering::Relaxed);
        for r in reloads {
            r.unwrap();
        }
    });

    // No static_routes in the new chain, then back.
    router.reload(&unmapped()).unwrap();
    assert_eq!(table.list().unwrap_err().code, sys::SY_EUNKNOWN);
    assert_eq!(router.static_routes().unwrap_err().code, sys::SY_EUNKNOWN);
    router.reload(&routes_config(1005)).unwrap();
    let q = table.query("svc").unwrap();
    assert!(q.len() == 1 && q[0].json.contains("1005"), "{q:?}");
}
