//! Plan::next_ref (borrowed targets) and reusing one Request across plans.
mod common;

use common::*;
use std::collections::HashMap;
use switchyard::*;

#[test]
fn next_ref_borrows_what_next_copies() {
    let router = Router::from_json(&round_robin_config()).unwrap();
    let mut req = router.request().unwrap();
    req.keyspace("shop").unwrap().key(b"user:42").unwrap();
    for _ in 0..3 {
        // Owned copies of one plan, borrowed targets of the next (round
        // robin starts it one node later: compare node by node).
        let owned: HashMap<String, Target> =
            router.plan(&req).unwrap().map(|t| t.unwrap()).map(|t| (t.node.clone(), t)).collect();
        let mut plan = router.plan(&req).unwrap();
        let mut n = 0;
        while let Some(t) = plan.next_ref() {
            let t = t.unwrap();
            let o = &owned[t.node().as_ref()];
            assert_eq!(&t.to_target(), o);
            assert_eq!(t.host().as_deref(), o.host.as_deref());
            assert_eq!(t.port(), o.port);
            assert_eq!(t.datacenter().as_deref(), o.datacenter.as_deref());
            assert_eq!(t.rack().as_deref(), o.rack.as_deref());
            assert_eq!(t.via().collect::<Vec<_>>(), o.via);
            assert_eq!(t.via_detail().map(|d| d.map(|d| d.into_owned())).collect::<Vec<_>>(), o.via_detail);
            assert_eq!(t.flag_names().count(), o.flag_names.len());
            assert_eq!((t.shard(), t.weight(), t.tls(), t.is_down()), (o.shard, o.weight, o.tls, o.is_down()));
            assert_eq!((t.node_index(), t.epoch(), t.flags()), (o.node_index, o.epoch, o.flags));
            assert_eq!(t.to_string(), o.to_string());
            assert!(matches!(t.node(), std::borrow::Cow::Borrowed(_)), "no copy");
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(plan.next_ref().is_none() && plan.next().is_none(), "fused");
    }

    // Mixed with Iterator::next on one plan; a TargetRef kept as a Target
    // can be reported.
    let mut plan = router.plan(&req).unwrap();
    let first = plan.next().unwrap().unwrap();
    let second = plan.next_ref().unwrap().unwrap().to_target();
    let third = plan.next().unwrap().unwrap();
    let mut names = vec![first.node, second.node.clone(), third.node];
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    router.report(&second, Outcome::new(OutcomeKind::Success, std::time::Duration::from_millis(1))).unwrap();
}

#[test]
fn next_ref_static_routes_weights_and_details() {
    let router = Router::from_json(&two_routes_config(1001, 1002)).unwrap();
    let mut req = router.request().unwrap();
    req.node("svc").unwrap();
    let mut plan = router.plan(&req).unwrap();
    let t = plan.next_ref().unwrap().unwrap();
    assert_eq!((t.node().as_ref(), t.port(), t.weight()), ("svc", 1001, Some(30)));
    let detail = t.via_detail().next().unwrap().unwrap();
    assert!(detail.contains("\"weight\":30"), "{detail}");
    let t = plan.next_ref().unwrap().unwrap();
    assert_eq!((t.port(), t.weight()), (1002, Some(20)));
    assert!(plan.next_ref().is_none());
}

#[test]
fn one_request_many_plans() {
    let router = Router::from_json(&two_routes_config(1001, 1002)).unwrap();
    let mut req = router.request().unwrap();
    req.node("svc").unwrap();
    for _ in 0..100 {
        let mut plan = router.plan(&req).unwrap();
        assert_eq!(plan.next_ref().unwrap().unwrap().port(), 1001);
    }
    // Changed in place, then cleared and refilled from JSON.
    req.node("other").unwrap();
    assert_eq!(router.plan(&req).unwrap().next().unwrap().unwrap().port, 1002);
    req.clear();
    match router.plan(&req) {
        Err(e) => assert!(e.code == sys::SY_EREQUEST || e.code == sys::SY_ENOROUTE, "{e}"),
        Ok(mut p) => assert!(!matches!(p.next(), Some(Ok(_))), "a target for an empty request"),
    }
    req.parse_json(r#"{"node": "svc"}"#).unwrap();
    assert_eq!(router.plan(&req).unwrap().count(), 2);
}
