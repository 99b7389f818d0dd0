//! The LP64 layout pinned in tests/abi/test_abi_layout.c, checked on the Rust
//! mirrors: a mismatch here means a field is missing, extra or mistyped.
use std::mem::{align_of, offset_of, size_of};
use switchyard_sys::*;

macro_rules! pin {
    ($bad:ident, size $t:ident, $want:expr) => {
        if size_of::<$t>() != $want {
            $bad.push(format!("sizeof({}) is {}, pinned at {}", stringify!($t), size_of::<$t>(), $want));
        }
    };
    ($bad:ident, $t:ident . $f:ident, $want:expr) => {
        if offset_of!($t, $f) != $want {
            $bad.push(format!(
                "{}.{} is at {}, pinned at {}",
                stringify!($t),
                stringify!($f),
                offset_of!($t, $f),
                $want
            ));
        }
    };
}

#[test]
#[cfg(target_pointer_width = "64")]
fn struct_layout_matches_pinned_abi() {
    let mut bad: Vec<String> = Vec::new();
    pin!(bad, size sy_error, 524);
    pin!(bad, sy_error.code, 4);
    pin!(bad, sy_error.path, 8);
    pin!(bad, sy_error.message, 136);
    pin!(bad, sy_error.retry_after_ms, 520);
    pin!(bad, size sy_allocator, 32);
    pin!(bad, sy_allocator.alloc, 8);
    pin!(bad, sy_allocator.free, 16);
    pin!(bad, sy_allocator.user_data, 24);
    pin!(bad, size sy_router_options, 104);
    pin!(bad, sy_router_options.allocator, 8);
    pin!(bad, sy_router_options.log, 16);
    pin!(bad, sy_router_options.log_user_data, 24);
    pin!(bad, sy_router_options.log_destroy, 32);
    pin!(bad, sy_router_options.log_level, 40);
    pin!(bad, sy_router_options.plugin_path, 48);
    pin!(bad, sy_router_options.plugin_path_count, 56);
    pin!(bad, sy_router_options.base_dir, 64);
    pin!(bad, sy_router_options.clock_ns, 72);
    pin!(bad, sy_router_options.clock_user_data, 80);
    pin!(bad, sy_router_options.resolver, 88);
    pin!(bad, sy_router_options.io_mode, 96);
    pin!(bad, size sy_node, 80);
    pin!(bad, sy_node.id, 8);
    pin!(bad, sy_node.name, 16);
    pin!(bad, sy_node.host, 24);
    pin!(bad, sy_node.port, 32);
    pin!(bad, sy_node.datacenter, 40);
    pin!(bad, sy_node.rack, 48);
    pin!(bad, sy_node.shards, 56);
    pin!(bad, sy_node.up, 60);
    pin!(bad, sy_node.tokens, 64);
    pin!(bad, sy_node.token_count, 72);
    pin!(bad, size sy_dc_replication, 16);
    pin!(bad, sy_dc_replication.replication_factor, 4);
    pin!(bad, sy_dc_replication.datacenter, 8);
    pin!(bad, size sy_keyspace, 40);
    pin!(bad, sy_keyspace.name, 8);
    pin!(bad, sy_keyspace.strategy, 16);
    pin!(bad, sy_keyspace.replication_factor, 20);
    pin!(bad, sy_keyspace.dcs, 24);
    pin!(bad, sy_keyspace.dc_count, 32);
    pin!(bad, size sy_topology_desc, 40);
    pin!(bad, sy_topology_desc.nodes, 8);
    pin!(bad, sy_topology_desc.node_count, 16);
    pin!(bad, sy_topology_desc.keyspaces, 24);
    pin!(bad, sy_topology_desc.keyspace_count, 32);
    pin!(bad, size sy_target, 272);
    pin!(bad, sy_target.flags, 4);
    pin!(bad, sy_target.node, 8);
    pin!(bad, sy_target.host, 16);
    pin!(bad, sy_target.port, 24);
    pin!(bad, sy_target.shard, 28);
    pin!(bad, sy_target.weight, 32);
    pin!(bad, sy_target.datacenter, 40);
    pin!(bad, sy_target.rack, 48);
    pin!(bad, sy_target.url, 56);
    pin!(bad, sy_target.error, 64);
    pin!(bad, sy_target.via, 72);
    pin!(bad, sy_target.via_count, 136);
    pin!(bad, sy_target.node_index, 140);
    pin!(bad, sy_target.epoch, 144);
    pin!(bad, sy_target.cookie, 152);
    pin!(bad, sy_target.user_flags, 160);
    pin!(bad, sy_target.via_detail, 168);
    pin!(bad, sy_target.tls_profile, 232);
    pin!(bad, sy_target.flag_names, 240);
    pin!(bad, sy_target.flag_name_count, 248);
    pin!(bad, sy_target.log_level, 252);
    pin!(bad, sy_target.proxies, 256);
    pin!(bad, sy_target.proxy_count, 264);
    pin!(bad, size sy_plan_storage, 1024);
    pin!(bad, size sy_outcome, 16);
    pin!(bad, sy_outcome.kind, 4);
    pin!(bad, sy_outcome.latency_ns, 8);
    pin!(bad, size sy_attempt, 672);
    pin!(bad, sy_attempt.status, 4);
    pin!(bad, sy_attempt.outcome, 8);
    pin!(bad, sy_attempt.flags, 12);
    pin!(bad, sy_attempt.elapsed_ns, 16);
    pin!(bad, sy_attempt.port, 24);
    pin!(bad, sy_attempt.proxy_count, 28);
    pin!(bad, sy_attempt.node, 32);
    pin!(bad, sy_attempt.host, 160);
    pin!(bad, sy_attempt.message, 416);
    pin!(bad, size sy_connect_options, 20);
    pin!(bad, sy_connect_options.timeout_ms, 4);
    pin!(bad, sy_connect_options.deadline_ms, 8);
    pin!(bad, sy_connect_options.max_attempts, 12);
    pin!(bad, sy_connect_options.flags, 16);
    pin!(bad, size sy_connect_result, 32);
    pin!(bad, sy_connect_result.attempts, 8);
    pin!(bad, sy_connect_result.attempt_cap, 16);
    pin!(bad, sy_connect_result.attempt_count, 24);
    pin!(bad, size sy_conn_info, 64);
    pin!(bad, sy_conn_info.fd, 4);
    pin!(bad, sy_conn_info.tls, 8);
    pin!(bad, sy_conn_info.reused, 12);
    pin!(bad, sy_conn_info.port, 16);
    pin!(bad, sy_conn_info.proxy_count, 20);
    pin!(bad, sy_conn_info.node, 24);
    pin!(bad, sy_conn_info.host, 32);
    pin!(bad, sy_conn_info.peer, 40);
    pin!(bad, sy_conn_info.tls_version, 48);
    pin!(bad, sy_conn_info.tls_ciphersuite, 56);
    pin!(bad, size sy_endpoint, 24);
    pin!(bad, sy_endpoint.port, 4);
    pin!(bad, sy_endpoint.host, 8);
    pin!(bad, sy_endpoint.tls, 16);
    pin!(bad, size sy_resolver, 40);
    pin!(bad, sy_resolver.resolve, 8);
    pin!(bad, sy_resolver.user_data, 16);
    pin!(bad, sy_resolver.destroy, 24);
    pin!(bad, sy_resolver.ttl_ms, 32);
    pin!(bad, sy_resolver.cache_entries, 36);
    pin!(bad, size sy_tls_profile, 48);
    pin!(bad, sy_tls_profile.insecure_skip_verify, 4);
    pin!(bad, sy_tls_profile.ca_file, 8);
    pin!(bad, sy_tls_profile.ca_dir, 16);
    pin!(bad, sy_tls_profile.cert_file, 24);
    pin!(bad, sy_tls_profile.key_file, 32);
    pin!(bad, sy_tls_profile.server_name, 40);
    pin!(bad, size sy_proxy_hop, 40);
    pin!(bad, sy_proxy_hop.protocol, 4);
    pin!(bad, sy_proxy_hop.node, 8);
    pin!(bad, sy_proxy_hop.host, 16);
    pin!(bad, sy_proxy_hop.port, 24);
    pin!(bad, sy_proxy_hop.tls, 28);
    pin!(bad, sy_proxy_hop.cookie, 32);
    // static_routes.h (not pinned in C; LP64 by construction)
    pin!(bad, size sy_route_info, 32);
    pin!(bad, sy_route_info.pattern, 8);
    pin!(bad, sy_route_info.weight, 16);
    pin!(bad, sy_route_info.position, 20);
    pin!(bad, sy_route_info.json, 24);
    pin!(bad, size sy_static_routes_table, 40);
    pin!(bad, sy_static_routes_table.add, 8);
    pin!(bad, sy_static_routes_table.list, 32);
    assert!(bad.is_empty(), "layout mismatches:\n{}", bad.join("\n"));
    assert_eq!(align_of::<sy_plan_storage>(), 8);
}

#[test]
fn struct_init_sets_size() {
    let t = sy_target::init();
    assert_eq!(t.struct_size as usize, size_of::<sy_target>());
    assert!(t.node.is_null());
    assert_eq!(sy_error::init().struct_size, 524);
}

#[test]
fn linked_library_answers() {
    unsafe {
        let name = std::ffi::CStr::from_ptr(sy_status_name(SY_ENOROUTE));
        assert_eq!(name.to_str().unwrap(), "SY_ENOROUTE");
        assert!(sy_abi_version() >= 1);
        // Cassandra: the empty key is the minimum token.
        assert_eq!(sy_murmur3_token(b"".as_ptr().cast(), 0), i64::MIN);
    }
}
