/* Pins the ABI's struct layout on LP64 targets: sizes and field offsets of
 * every struct that crosses the ABI, and the enum values callers compile in.
 * A change here breaks binaries built against an older header: fields are
 * only ever appended, so an old offset never moves. If a struct grows on
 * purpose, update its size here in the same commit; if an offset changes,
 * the change is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <switchyard/plugin.h>

typedef struct pinned {
    const char *what;
    size_t got;
    size_t want;
} pinned;

static const pinned kLayout[] = {
    {"sizeof(sy_error)", sizeof(sy_error), 524},
    {"sy_error.code", offsetof(sy_error, code), 4},
    {"sy_error.path", offsetof(sy_error, path), 8},
    {"sy_error.message", offsetof(sy_error, message), 136},
    {"sy_error.retry_after_ms", offsetof(sy_error, retry_after_ms), 520},
    {"sizeof(sy_allocator)", sizeof(sy_allocator), 32},
    {"sy_allocator.alloc", offsetof(sy_allocator, alloc), 8},
    {"sy_allocator.free", offsetof(sy_allocator, free), 16},
    {"sy_allocator.user_data", offsetof(sy_allocator, user_data), 24},
    {"sizeof(sy_router_options)", sizeof(sy_router_options), 104},
    {"sy_router_options.allocator", offsetof(sy_router_options, allocator), 8},
    {"sy_router_options.log", offsetof(sy_router_options, log), 16},
    {"sy_router_options.log_user_data", offsetof(sy_router_options, log_user_data), 24},
    {"sy_router_options.log_destroy", offsetof(sy_router_options, log_destroy), 32},
    {"sy_router_options.log_level", offsetof(sy_router_options, log_level), 40},
    {"sy_router_options.plugin_path", offsetof(sy_router_options, plugin_path), 48},
    {"sy_router_options.plugin_path_count", offsetof(sy_router_options, plugin_path_count), 56},
    {"sy_router_options.base_dir", offsetof(sy_router_options, base_dir), 64},
    {"sy_router_options.clock_ns", offsetof(sy_router_options, clock_ns), 72},
    {"sy_router_options.clock_user_data", offsetof(sy_router_options, clock_user_data), 80},
    {"sy_router_options.resolver", offsetof(sy_router_options, resolver), 88},
    {"sy_router_options.io_mode", offsetof(sy_router_options, io_mode), 96},
    {"sizeof(sy_node)", sizeof(sy_node), 80},
    {"sy_node.id", offsetof(sy_node, id), 8},
    {"sy_node.name", offsetof(sy_node, name), 16},
    {"sy_node.host", offsetof(sy_node, host), 24},
    {"sy_node.port", offsetof(sy_node, port), 32},
    {"sy_node.datacenter", offsetof(sy_node, datacenter), 40},
    {"sy_node.rack", offsetof(sy_node, rack), 48},
    {"sy_node.shards", offsetof(sy_node, shards), 56},
    {"sy_node.up", offsetof(sy_node, up), 60},
    {"sy_node.tokens", offsetof(sy_node, tokens), 64},
    {"sy_node.token_count", offsetof(sy_node, token_count), 72},
    {"sizeof(sy_dc_replication)", sizeof(sy_dc_replication), 16},
    {"sy_dc_replication.replication_factor", offsetof(sy_dc_replication, replication_factor), 4},
    {"sy_dc_replication.datacenter", offsetof(sy_dc_replication, datacenter), 8},
    {"sizeof(sy_keyspace)", sizeof(sy_keyspace), 40},
    {"sy_keyspace.name", offsetof(sy_keyspace, name), 8},
    {"sy_keyspace.strategy", offsetof(sy_keyspace, strategy), 16},
    {"sy_keyspace.replication_factor", offsetof(sy_keyspace, replication_factor), 20},
    {"sy_keyspace.dcs", offsetof(sy_keyspace, dcs), 24},
    {"sy_keyspace.dc_count", offsetof(sy_keyspace, dc_count), 32},
    {"sizeof(sy_topology_desc)", sizeof(sy_topology_desc), 40},
    {"sy_topology_desc.nodes", offsetof(sy_topology_desc, nodes), 8},
    {"sy_topology_desc.node_count", offsetof(sy_topology_desc, node_count), 16},
    {"sy_topology_desc.keyspaces", offsetof(sy_topology_desc, keyspaces), 24},
    {"sy_topology_desc.keyspace_count", offsetof(sy_topology_desc, keyspace_count), 32},
    {"sizeof(sy_target)", sizeof(sy_target), 272},
    {"sy_target.flags", offsetof(sy_target, flags), 4},
    {"sy_target.node", offsetof(sy_target, node), 8},
    {"sy_target.host", offsetof(sy_target, host), 16},
    {"sy_target.port", offsetof(sy_target, port), 24},
    {"sy_target.shard", offsetof(sy_target, shard), 28},
    {"sy_target.weight", offsetof(sy_target, weight), 32},
    {"sy_target.datacenter", offsetof(sy_target, datacenter), 40},
    {"sy_target.rack", offsetof(sy_target, rack), 48},
    {"sy_target.url", offsetof(sy_target, url), 56},
    {"sy_target.error", offsetof(sy_target, error), 64},
    {"sy_target.via", offsetof(sy_target, via), 72},
    {"sy_target.via_count", offsetof(sy_target, via_count), 136},
    {"sy_target.node_index", offsetof(sy_target, node_index), 140},
    {"sy_target.epoch", offsetof(sy_target, epoch), 144},
    {"sy_target.cookie", offsetof(sy_target, cookie), 152},
    {"sy_target.user_flags", offsetof(sy_target, user_flags), 160},
    {"sy_target.via_detail", offsetof(sy_target, via_detail), 168},
    {"sy_target.tls_profile", offsetof(sy_target, tls_profile), 232},
    {"sy_target.flag_names", offsetof(sy_target, flag_names), 240},
    {"sy_target.flag_name_count", offsetof(sy_target, flag_name_count), 248},
    {"sy_target.log_level", offsetof(sy_target, log_level), 252},
    {"sy_target.proxies", offsetof(sy_target, proxies), 256},
    {"sy_target.proxy_count", offsetof(sy_target, proxy_count), 264},
    {"sizeof(sy_plan_storage)", sizeof(sy_plan_storage), 1024},
    {"sizeof(sy_outcome)", sizeof(sy_outcome), 16},
    {"sy_outcome.kind", offsetof(sy_outcome, kind), 4},
    {"sy_outcome.latency_ns", offsetof(sy_outcome, latency_ns), 8},
    {"sizeof(sy_attempt)", sizeof(sy_attempt), 672},
    {"sy_attempt.status", offsetof(sy_attempt, status), 4},
    {"sy_attempt.outcome", offsetof(sy_attempt, outcome), 8},
    {"sy_attempt.flags", offsetof(sy_attempt, flags), 12},
    {"sy_attempt.elapsed_ns", offsetof(sy_attempt, elapsed_ns), 16},
    {"sy_attempt.port", offsetof(sy_attempt, port), 24},
    {"sy_attempt.proxy_count", offsetof(sy_attempt, proxy_count), 28},
    {"sy_attempt.node", offsetof(sy_attempt, node), 32},
    {"sy_attempt.host", offsetof(sy_attempt, host), 160},
    {"sy_attempt.message", offsetof(sy_attempt, message), 416},
    {"sizeof(sy_connect_options)", sizeof(sy_connect_options), 20},
    {"sy_connect_options.timeout_ms", offsetof(sy_connect_options, timeout_ms), 4},
    {"sy_connect_options.deadline_ms", offsetof(sy_connect_options, deadline_ms), 8},
    {"sy_connect_options.max_attempts", offsetof(sy_connect_options, max_attempts), 12},
    {"sy_connect_options.flags", offsetof(sy_connect_options, flags), 16},
    {"sizeof(sy_connect_result)", sizeof(sy_connect_result), 32},
    {"sy_connect_result.attempts", offsetof(sy_connect_result, attempts), 8},
    {"sy_connect_result.attempt_cap", offsetof(sy_connect_result, attempt_cap), 16},
    {"sy_connect_result.attempt_count", offsetof(sy_connect_result, attempt_count), 24},
    {"sizeof(sy_conn_info)", sizeof(sy_conn_info), 64},
    {"sy_conn_info.fd", offsetof(sy_conn_info, fd), 4},
    {"sy_conn_info.tls", offsetof(sy_conn_info, tls), 8},
    {"sy_conn_info.reused", offsetof(sy_conn_info, reused), 12},
    {"sy_conn_info.port", offsetof(sy_conn_info, port), 16},
    {"sy_conn_info.proxy_count", offsetof(sy_conn_info, proxy_count), 20},
    {"sy_conn_info.node", offsetof(sy_conn_info, node), 24},
    {"sy_conn_info.host", offsetof(sy_conn_info, host), 32},
    {"sy_conn_info.peer", offsetof(sy_conn_info, peer), 40},
    {"sy_conn_info.tls_version", offsetof(sy_conn_info, tls_version), 48},
    {"sy_conn_info.tls_ciphersuite", offsetof(sy_conn_info, tls_ciphersuite), 56},
    {"sizeof(sy_topology)", sizeof(sy_topology), 80},
    {"sy_topology.epoch", offsetof(sy_topology, epoch), 8},
    {"sy_topology.nodes", offsetof(sy_topology, nodes), 16},
    {"sy_topology.node_count", offsetof(sy_topology, node_count), 24},
    {"sy_topology.node_stride", offsetof(sy_topology, node_stride), 32},
    {"sy_topology.keyspaces", offsetof(sy_topology, keyspaces), 40},
    {"sy_topology.keyspace_count", offsetof(sy_topology, keyspace_count), 48},
    {"sy_topology.keyspace_stride", offsetof(sy_topology, keyspace_stride), 56},
    {"sy_topology.document", offsetof(sy_topology, document), 64},
    {"sy_topology.published_ns", offsetof(sy_topology, published_ns), 72},
    {"sizeof(sy_request_view)", sizeof(sy_request_view), 120},
    {"sy_request_view.fields", offsetof(sy_request_view, fields), 4},
    {"sy_request_view.key", offsetof(sy_request_view, key), 8},
    {"sy_request_view.key_len", offsetof(sy_request_view, key_len), 16},
    {"sy_request_view.token", offsetof(sy_request_view, token), 24},
    {"sy_request_view.keyspace", offsetof(sy_request_view, keyspace), 32},
    {"sy_request_view.table", offsetof(sy_request_view, table), 40},
    {"sy_request_view.consistency", offsetof(sy_request_view, consistency), 48},
    {"sy_request_view.lwt", offsetof(sy_request_view, lwt), 52},
    {"sy_request_view.node", offsetof(sy_request_view, node), 56},
    {"sy_request_view.entity_type", offsetof(sy_request_view, entity_type), 64},
    {"sy_request_view.entity_id", offsetof(sy_request_view, entity_id), 72},
    {"sy_request_view.context", offsetof(sy_request_view, context), 80},
    {"sy_request_view.document", offsetof(sy_request_view, document), 88},
    {"sy_request_view.entity_type_len", offsetof(sy_request_view, entity_type_len), 96},
    {"sy_request_view.entity_id_len", offsetof(sy_request_view, entity_id_len), 104},
    {"sy_request_view.keyspace_len", offsetof(sy_request_view, keyspace_len), 112},
    {"sizeof(sy_host)", sizeof(sy_host), 192},
    {"sy_host.version", offsetof(sy_host, version), 4},
    {"sy_host.alloc", offsetof(sy_host, alloc), 8},
    {"sy_host.json_free", offsetof(sy_host, json_free), 136},
    {"sy_host.plugin_name", offsetof(sy_host, plugin_name), 144},
    {"sy_host.republish", offsetof(sy_host, republish), 152},
    {"sy_host.resolve", offsetof(sy_host, resolve), 160},
    {"sy_host.json_first", offsetof(sy_host, json_first), 168},
    {"sy_host.json_next", offsetof(sy_host, json_next), 176},
    {"sy_host.drain_endpoint", offsetof(sy_host, drain_endpoint), 184},
    {"sizeof(sy_endpoint)", sizeof(sy_endpoint), 24},
    {"sy_endpoint.port", offsetof(sy_endpoint, port), 4},
    {"sy_endpoint.host", offsetof(sy_endpoint, host), 8},
    {"sy_endpoint.tls", offsetof(sy_endpoint, tls), 16},
    {"sizeof(sy_resolver)", sizeof(sy_resolver), 40},
    {"sy_resolver.resolve", offsetof(sy_resolver, resolve), 8},
    {"sy_resolver.user_data", offsetof(sy_resolver, user_data), 16},
    {"sy_resolver.destroy", offsetof(sy_resolver, destroy), 24},
    {"sy_resolver.ttl_ms", offsetof(sy_resolver, ttl_ms), 32},
    {"sy_resolver.cache_entries", offsetof(sy_resolver, cache_entries), 36},
    {"sizeof(sy_tls_profile)", sizeof(sy_tls_profile), 48},
    {"sy_tls_profile.insecure_skip_verify", offsetof(sy_tls_profile, insecure_skip_verify), 4},
    {"sy_tls_profile.ca_file", offsetof(sy_tls_profile, ca_file), 8},
    {"sy_tls_profile.ca_dir", offsetof(sy_tls_profile, ca_dir), 16},
    {"sy_tls_profile.cert_file", offsetof(sy_tls_profile, cert_file), 24},
    {"sy_tls_profile.key_file", offsetof(sy_tls_profile, key_file), 32},
    {"sy_tls_profile.server_name", offsetof(sy_tls_profile, server_name), 40},
    {"sizeof(sy_proxy_hop)", sizeof(sy_proxy_hop), 40},
    {"sy_proxy_hop.protocol", offsetof(sy_proxy_hop, protocol), 4},
    {"sy_proxy_hop.node", offsetof(sy_proxy_hop, node), 8},
    {"sy_proxy_hop.host", offsetof(sy_proxy_hop, host), 16},
    {"sy_proxy_hop.port", offsetof(sy_proxy_hop, port), 24},
    {"sy_proxy_hop.tls", offsetof(sy_proxy_hop, tls), 28},
    {"sy_proxy_hop.cookie", offsetof(sy_proxy_hop, cookie), 32},
    {"sizeof(sy_plugin)", sizeof(sy_plugin), 136},
    {"sy_plugin.inherit", offsetof(sy_plugin, inherit), 128},
    {"sy_plugin.plan_advance", offsetof(sy_plugin, plan_advance), 112},
    {"sy_plugin.plan_fill", offsetof(sy_plugin, plan_fill), 120},
    {"sy_plugin.abi_version", offsetof(sy_plugin, abi_version), 0},
    {"sy_plugin.struct_size", offsetof(sy_plugin, struct_size), 4},
    {"sy_plugin.name", offsetof(sy_plugin, name), 8},
    {"sy_plugin.description", offsetof(sy_plugin, description), 16},
    {"sy_plugin.roles", offsetof(sy_plugin, roles), 24},
    {"sy_plugin.instance_size", offsetof(sy_plugin, instance_size), 28},
    {"sy_plugin.plan_state_size", offsetof(sy_plugin, plan_state_size), 32},
    {"sy_plugin.create", offsetof(sy_plugin, create), 40},
    {"sy_plugin.destroy", offsetof(sy_plugin, destroy), 48},
    {"sy_plugin.attach", offsetof(sy_plugin, attach), 56},
    {"sy_plugin.detach", offsetof(sy_plugin, detach), 64},
    {"sy_plugin.plan_init", offsetof(sy_plugin, plan_init), 72},
    {"sy_plugin.plan_next", offsetof(sy_plugin, plan_next), 80},
    {"sy_plugin.translate", offsetof(sy_plugin, translate), 88},
    {"sy_plugin.on_outcome", offsetof(sy_plugin, on_outcome), 96},
    {"sy_plugin.get_interface", offsetof(sy_plugin, get_interface), 104},
};

static void test_struct_layout(void **state) {
    (void)state;
    if (sizeof(void *) != 8 || sizeof(size_t) != 8) skip(); /* pinned for LP64 only */
    int bad = 0;
    for (size_t i = 0; i < sizeof kLayout / sizeof kLayout[0]; i++)
        if (kLayout[i].got != kLayout[i].want) {
            print_error("%s is %zu, pinned at %zu\n", kLayout[i].what, kLayout[i].got, kLayout[i].want);
            bad++;
        }
    assert_int_equal(bad, 0);
}

/* Every versioned struct leads with its uint32_t size (sy_plugin with its
 * ABI version, then its size), so an old caller's struct is recognised. */
static void test_size_leads(void **state) {
    (void)state;
    assert_int_equal(offsetof(sy_error, struct_size), 0);
    assert_int_equal(offsetof(sy_allocator, struct_size), 0);
    assert_int_equal(offsetof(sy_router_options, struct_size), 0);
    assert_int_equal(offsetof(sy_node, struct_size), 0);
    assert_int_equal(offsetof(sy_dc_replication, struct_size), 0);
    assert_int_equal(offsetof(sy_keyspace, struct_size), 0);
    assert_int_equal(offsetof(sy_topology_desc, struct_size), 0);
    assert_int_equal(offsetof(sy_target, struct_size), 0);
    assert_int_equal(offsetof(sy_outcome, struct_size), 0);
    assert_int_equal(offsetof(sy_topology, struct_size), 0);
    assert_int_equal(offsetof(sy_request_view, struct_size), 0);
    assert_int_equal(offsetof(sy_host, struct_size), 0);
    assert_int_equal(offsetof(sy_plugin, abi_version), 0);
    assert_int_equal(offsetof(sy_endpoint, struct_size), 0);
    assert_int_equal(offsetof(sy_resolver, struct_size), 0);
    assert_int_equal(offsetof(sy_tls_profile, struct_size), 0);
    assert_int_equal(offsetof(sy_proxy_hop, struct_size), 0);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(t.struct_size, sizeof(sy_target));
    assert_null(t.node);
}

static void test_enum_values(void **state) {
    (void)state;
    assert_int_equal(SY_LOG_ERROR, 1);
    assert_int_equal(SY_LOG_TRACE, 5);
    assert_int_equal(SY_STRATEGY_SIMPLE, 1);
    assert_int_equal(SY_STRATEGY_NETWORK_TOPOLOGY, 2);
    assert_int_equal(SY_STRATEGY_LOCAL, 3);
    assert_int_equal(SY_CONSISTENCY_ANY, 1);
    assert_int_equal(SY_CONSISTENCY_QUORUM, 5);
    assert_int_equal(SY_CONSISTENCY_SERIAL, 9);
    assert_int_equal(SY_CONSISTENCY_LOCAL_SERIAL, 10);
    assert_int_equal(SY_CONSISTENCY_LOCAL_ONE, 11);
    assert_int_equal(SY_TARGET_HAS_SHARD, 1);
    assert_int_equal(SY_TARGET_NO_SHARD_PORT, 32);
    assert_int_equal(SY_TARGET_RESOLVE_EACH, 64);
    assert_int_equal(SY_ECANCELED, -23);
    assert_int_equal(SY_EPENDING, -24);
    assert_int_equal(SY_OUTCOME_SUCCESS, 0);
    assert_int_equal(SY_OUTCOME_OTHER_ERROR, 7);
    assert_int_equal(SY_IO_THREAD, 0);
    assert_int_equal(SY_IO_CALLER, 1);
    assert_int_equal(SY_ATTEMPT_POOLED, 1);
    assert_int_equal(SY_ATTEMPT_TLS, 16);
    assert_int_equal(SY_CONNECT_NO_POOL, 1);
    assert_int_equal(SY_ATTEMPT_NODE_MAX, 128);
    assert_int_equal(SY_ATTEMPT_HOST_MAX, 256);
    assert_int_equal(SY_ATTEMPT_MESSAGE_MAX, 256);
    assert_int_equal(SY_JSON_MISSING, 0);
    assert_int_equal(SY_JSON_OBJECT, 7);
    assert_int_equal(SY_REQ_KEY, 1);
    assert_int_equal(SY_REQ_CONTEXT, 256);
    assert_int_equal(SY_ROLE_SELECTOR, 1);
    assert_int_equal(SY_ROLE_TRANSLATOR, 2);
    assert_int_equal(SY_VIA_MAX, 8);
    assert_int_equal(SY_PLAN_STORAGE_SIZE, 1024);
    assert_int_equal(SY_TRANSLATE_SCRATCH, 128);
    assert_int_equal(SY_ERROR_PATH_MAX, 128);
    assert_int_equal(SY_ERROR_MESSAGE_MAX, 384);
    assert_int_equal(SY_PLUGIN_ABI_VERSION, 1);
    assert_int_equal(SY_HOST_VERSION, 3);
    assert_int_equal(SY_PROXY_HTTP_CONNECT, 1);
    assert_int_equal(SY_PROXY_SOCKS5, 2);
    assert_int_equal(SY_RESOLVE_MAX_ENDPOINTS, 8);
    assert_string_equal(SY_PLUGIN_ENTRY_NAME, "sy_plugin_query");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_struct_layout),
        cmocka_unit_test(test_size_leads),
        cmocka_unit_test(test_enum_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
