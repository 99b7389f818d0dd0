/* Status codes, versions, and FFI misuse: every code has a name and a text,
 * and every entry point survives NULL handles and bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <switchyard/plugin.h>

/* ---------------------------------------------------------------- status */

typedef struct status_row {
    int value;
    const char *name;
    const char *text;
} status_row;

static const status_row kRows[] = {
#define ROW_(name, value, text) {value, "SY_" #name, text},
    SY_STATUS_MAP(ROW_)
#undef ROW_
};
#define NROWS (sizeof kRows / sizeof kRows[0])

static void test_every_status_has_a_name_and_text(void **state) {
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const char *text = sy_status_str(kRows[i].value);
        assert_non_null(text);
        assert_string_equal(text, kRows[i].text);
        assert_true(strlen(text) > 3);
        assert_string_equal(sy_status_name(kRows[i].value), kRows[i].name);
        assert_string_not_equal(text, "unknown status");
    }
}

static void test_status_values_are_dense_and_distinct(void **state) {
    (void)state;
    /* Codes are 0, -1, -2, ... with no gap, so SY_STATUS_MIN_ bounds them. */
    assert_int_equal(NROWS, (size_t)(-SY_STATUS_MIN_ + 1));
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(kRows[i].value, -(int)i);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(kRows[i].text, kRows[j].text);
            assert_string_not_equal(kRows[i].name, kRows[j].name);
        }
    }
}

/* Values are frozen: callers compiled against older headers compare numbers. */
static void test_status_values_are_pinned(void **state) {
    (void)state;
    assert_int_equal(SY_OK, 0);
    assert_int_equal(SY_EINVAL, -1);
    assert_int_equal(SY_ENOMEM, -2);
    assert_int_equal(SY_ECONFIG, -3);
    assert_int_equal(SY_EREQUEST, -4);
    assert_int_equal(SY_ETOPOLOGY, -5);
    assert_int_equal(SY_ENOROUTE, -6);
    assert_int_equal(SY_EPLUGIN, -7);
    assert_int_equal(SY_EABI, -8);
    assert_int_equal(SY_EUNKNOWN, -9);
    assert_int_equal(SY_ETAKEN, -10);
    assert_int_equal(SY_ETRANSLATE, -22);
    assert_int_equal(SY_ECANCELED, -23);
}

static void test_unknown_status(void **state) {
    (void)state;
    const int unknown[] = {1, 42, SY_STATUS_MIN_ - 1, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(sy_status_str(unknown[i]), "unknown status");
        assert_string_equal(sy_status_name(unknown[i]), "SY_UNKNOWN_STATUS");
    }
}

static void test_versions(void **state) {
    (void)state;
    assert_int_equal(sy_version(), SY_VERSION_HEX);
    assert_string_equal(sy_version_string(), SY_VERSION_STRING);
    assert_int_equal(sy_abi_version(), SY_ABI_VERSION);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SY_VERSION_MAJOR, SY_VERSION_MINOR, SY_VERSION_PATCH);
    assert_string_equal(sy_version_string(), want);
}

/* ---------------------------------------------------------------- misuse */

static void test_null_handles(void **state) {
    (void)state;
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *r = (sy_router *)0x1; /* sentinel: must stay untouched */
    sy_request *q = NULL;
    sy_plan *p = NULL;
    sy_target t = SY_STRUCT_INIT(sy_target);
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    sy_plan_storage storage;
    const void *iface = NULL;
    void *inst = NULL;

    assert_int_equal(sy_router_new(NULL, 0, NULL, &r, &err), SY_EINVAL);
    assert_ptr_equal(r, (sy_router *)0x1);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(sy_router_new("{}", 2, NULL, NULL, &err), SY_EINVAL);
    assert_int_equal(sy_router_new_from_file(NULL, NULL, &r, &err), SY_EINVAL);
    assert_ptr_equal(r, (sy_router *)0x1);
    assert_int_equal(sy_config_check(NULL, 0, NULL, NULL, NULL), SY_EINVAL);
    sy_router_free(NULL);

    assert_int_equal(sy_router_update_topology(NULL, NULL, &err), SY_EINVAL);
    assert_int_equal(sy_router_update_topology_json(NULL, "{}", 2, &err), SY_EINVAL);
    assert_int_equal(sy_router_epoch(NULL), 0);
    assert_int_equal(sy_router_plan_size(NULL), 0);
    assert_int_equal(sy_router_report(NULL, &t, &o), SY_EINVAL);
    assert_int_equal(sy_router_get_interface(NULL, "x", "y", 1, &iface, &inst, &err), SY_EINVAL);

    assert_int_equal(sy_request_new(NULL, &q, &err), SY_EINVAL);
    assert_null(q);
    sy_request_free(NULL);
    sy_request_clear(NULL);
    assert_int_equal(sy_request_parse_json(NULL, "{}", 2, &err), SY_EINVAL);
    assert_int_equal(sy_request_set_key(NULL, "k", 1), SY_EINVAL);
    assert_int_equal(sy_request_set_token(NULL, 1), SY_EINVAL);
    assert_int_equal(sy_request_set_keyspace(NULL, "ks"), SY_EINVAL);
    assert_int_equal(sy_request_set_table(NULL, "t"), SY_EINVAL);
    assert_int_equal(sy_request_set_consistency(NULL, SY_CONSISTENCY_ONE), SY_EINVAL);
    assert_int_equal(sy_request_set_lwt(NULL, 1), SY_EINVAL);
    assert_int_equal(sy_request_set_node(NULL, "n"), SY_EINVAL);
    assert_int_equal(sy_request_set_entity(NULL, "t", "i"), SY_EINVAL);
    assert_int_equal(sy_request_set_context_json(NULL, "{}", 2, &err), SY_EINVAL);

    assert_int_equal(sy_plan_init(NULL, NULL, &storage, sizeof storage, &p, &err), SY_EINVAL);
    assert_null(p);
    assert_int_equal(sy_plan_next(NULL, &t), SY_EINVAL);
    sy_plan_release(NULL);

    assert_int_equal(sy_register_plugin(NULL, &err), SY_EINVAL);
    /* err may be NULL everywhere */
    assert_int_equal(sy_router_new(NULL, 0, NULL, &r, NULL), SY_EINVAL);
}

/* A handle of the wrong kind (or garbage) is recognised, not dereferenced
 * as something else. */
static void test_wrong_handle_kinds(void **state) {
    (void)state;
    uint64_t junk[64];
    memset(junk, 0xA5, sizeof junk);
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_target t = SY_STRUCT_INIT(sy_target);
    sy_request *q = NULL;
    assert_int_equal(sy_request_new((sy_router *)junk, &q, &err), SY_EINVAL);
    assert_int_equal(sy_router_epoch((sy_router *)junk), 0);
    assert_int_equal(sy_plan_next((sy_plan *)junk, &t), SY_EINVAL);
    assert_int_equal(sy_request_set_key((sy_request *)junk, "k", 1), SY_EINVAL);
    sy_plan_release((sy_plan *)junk);
    sy_request_free((sy_request *)junk);
    sy_router_free((sy_router *)junk);
    /* the junk was not written to */
    for (size_t i = 0; i < 64; i++) assert_true(junk[i] == 0xA5A5A5A5A5A5A5A5ull);
}

/* An sy_error from an older caller (smaller struct_size) is written only
 * as far as it reaches. */
static void test_small_error_struct(void **state) {
    (void)state;
    union {
        sy_error e;
        unsigned char bytes[sizeof(sy_error)];
    } u;
    memset(&u, 0x5A, sizeof u);
    u.e.struct_size = (uint32_t)(offsetof(sy_error, path)); /* code only */
    sy_router *r = NULL;
    assert_int_equal(sy_router_new("{", 1, NULL, &r, &u.e), SY_ECONFIG);
    assert_int_equal(u.e.code, SY_ECONFIG);
    for (size_t i = offsetof(sy_error, path); i < sizeof u; i++) assert_int_equal(u.bytes[i], 0x5A);
    assert_null(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_has_a_name_and_text),
        cmocka_unit_test(test_status_values_are_dense_and_distinct),
        cmocka_unit_test(test_status_values_are_pinned),
        cmocka_unit_test(test_unknown_status),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_wrong_handle_kinds),
        cmocka_unit_test(test_small_error_struct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
