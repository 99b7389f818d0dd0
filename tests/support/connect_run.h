/* One sy_router_connect for a node, with its attempts kept, and an echo
 * round trip over the connection: what the connector tests share. Include
 * after <cmocka.h>. Header-only: one copy per test program. */
#ifndef SY_TEST_CONNECT_RUN_H
#define SY_TEST_CONNECT_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#define CONNECT_RUN_MAX 16

typedef struct run {
    int rc;
    sy_conn *conn;
    sy_attempt at[CONNECT_RUN_MAX];
    size_t count;
    sy_error err;
} run;

static void connect_run(sy_router *r, const char *node, const sy_connect_options *o, run *out) {
    sy_request *q = NULL;
    assert_int_equal(sy_request_new(r, &q, NULL), SY_OK);
    assert_int_equal(sy_request_set_node(q, node), SY_OK);
    memset(out, 0, sizeof *out);
    sy_connect_result res = SY_STRUCT_INIT(sy_connect_result);
    res.attempts = out->at;
    res.attempt_cap = CONNECT_RUN_MAX;
    out->err = SY_STRUCT_INIT(sy_error);
    out->rc = sy_router_connect(r, q, o, &out->conn, &res, &out->err);
    out->count = res.attempt_count;
    if (out->rc && getenv("SY_TEST_VERBOSE")) fprintf(stderr, "connect %s: %s\n", node, out->err.message);
    sy_request_free(q);
}

/* Sends text and reads the same bytes back. */
static void echo_text(sy_conn *c, const char *text) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    size_t len = strlen(text), got = 0, all = 0;
    char buf[64];
    assert_true(len <= sizeof buf);
    assert_int_equal(sy_conn_send(c, text, len, 3000, &err), SY_OK);
    while (all < len) {
        assert_int_equal(sy_conn_recv(c, buf + all, sizeof buf - all, 3000, &got, &err), SY_OK);
        assert_true(got > 0);
        all += got;
    }
    assert_memory_equal(buf, text, len);
}

#endif
