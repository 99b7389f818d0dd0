/*
 * Fuzz target: client_routes' table interface (client_routes.table):
 * replace_all, apply_event and list, with plans and config reloads between.
 *
 * The input is a program. Its first byte picks the config (TLS for every
 * connection, drain_on_change, rows in the config); each following
 * operation is an opcode and its operands:
 *  - replace_all or apply_event built from the operands: rows with
 *    configured, unconfigured, empty or missing connection ids, host ids
 *    that are UUIDs (in the topology or not, upper case) or not, addresses
 *    that need escaping or are too long, ports in and out of range, null,
 *    text; events with parallel lists of mismatched lengths, bad UUIDs,
 *    unconfigured ids, rows for unnamed pairs, a wrong "change", documents
 *    cut short;
 *  - the same two with raw text taken from the input;
 *  - a plan held across a change (it must keep translating as before);
 *  - a reload with the same or another client_routes config.
 *
 * An independent model of the table (which row each host_id translates
 * through: a node keeps its connection id while that id still has a row,
 * else takes the first configured proxy that has one; a refresh drops
 * hosts it does not name; an event touches only the pairs it names) says
 * what every change must do. After each operation every node's target must
 * be what the model says (host, port, TLS, the error), `list` must hold
 * exactly the model's rows, a refused change must leave the table and the
 * epoch as they were, and an accepted one must advance the epoch. Raw text
 * has no model: a refusal must change nothing, and an accepted change is
 * read back from `list` and must then agree with the targets.
 *
 * Allocation failures are injected into the changes when the input's
 * schedule says so (see fuzz_common.h): SY_ENOMEM, and nothing changed.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/client_routes.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------------------- fixture */

#define NPROXIES 3
#define NTOPO 4 /* topology nodes: host ids U0..U3 */

static const char *const proxy_ids[NPROXIES] = {"pl-a", "pl-b", "pl-c"};
static const char *const proxy_hosts[NPROXIES] = {"vpce-a.example.com", NULL, "vpce-c.example.com"};

/* U0..U3 are topology nodes, U4 is not, U5 is U0 in upper case: a UUID too,
 * but another host id (ids are compared as text). */
static const char *const uuids[] = {
    "00000000-0000-4000-8000-0000000000a0", "00000000-0000-4000-8000-0000000000b1",
    "00000000-0000-4000-8000-0000000000c2", "00000000-0000-4000-8000-0000000000d3",
    "00000000-0000-4000-8000-0000000000e4", "00000000-0000-4000-8000-0000000000A0",
};
#define NUUIDS (sizeof uuids / sizeof uuids[0])

struct config_choice {
    int tls, drain, rows;
};

static size_t config_text(char *buf, size_t cap, struct config_choice c)
{
    int n = snprintf(buf, cap,
                     "{\"topology\": {\"nodes\": ["
                     "{\"id\": \"%s\", \"host\": \"10.0.0.1\", \"port\": 9042},"
                     "{\"id\": \"%s\", \"host\": \"10.0.0.2\", \"port\": 9042},"
                     "{\"id\": \"%s\", \"host\": \"10.0.0.3\", \"port\": 9042},"
                     "{\"id\": \"%s\", \"host\": \"10.0.0.4\", \"port\": 9042}]},"
                     " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}},"
                     " \"translators\": [{\"plugin\": \"client_routes\", \"config\": {"
                     "\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a.example.com\"},"
                     " {\"connection_id\": \"pl-b\"}, {\"connection_id\": \"pl-c\", \"hostname\": \"vpce-c.example.com\"}],"
                     " \"tls\": %s, \"drain_on_change\": %s%s}}]}",
                     uuids[0], uuids[1], uuids[2], uuids[3], c.tls ? "true" : "false", c.drain ? "true" : "false",
                     c.rows ? ", \"routes\": ["
                              "{\"connection_id\": \"pl-b\", \"host_id\": \"00000000-0000-4000-8000-0000000000a0\","
                              " \"address\": \"nlb-1\", \"port\": 9042, \"tls_port\": 19042},"
                              "{\"connection_id\": \"pl-a\", \"host_id\": \"00000000-0000-4000-8000-0000000000b1\","
                              " \"address\": \"nlb-2.example.com\", \"port\": 9043, \"tls_port\": null},"
                              "{\"connection_id\": \"pl-c\", \"host_id\": \"00000000-0000-4000-8000-0000000000c2\","
                              " \"address\": \"10.0.0.9\", \"port\": null, \"tls_port\": 19044},"
                              "{\"connection_id\": \"pl-x\", \"host_id\": \"00000000-0000-4000-8000-0000000000d3\","
                              " \"address\": \"nlb-1\", \"port\": 1, \"tls_port\": 2}]"
                            : "");
    if (n < 0 || (size_t)n >= cap) syf_fail("config text does not fit");
    return (size_t)n;
}

/* ---------------------------------------------------------------- model */

#define MHOSTS 256
#define MADDR 256 /* client_routes takes addresses up to 253 bytes */

typedef struct mrow {
    int present;
    char addr[MADDR];
    unsigned port, tls_port; /* 0: the column is null */
} mrow;

typedef struct mhost {
    char id[40];
    int sticky; /* proxy index in use */
    mrow rows[NPROXIES];
} mhost;

typedef struct model {
    int tls;
    int n;
    mhost h[MHOSTS];
} model;

static model cur, next, held;
static int overflow; /* the model ran out of room: stop checking this input */

static void model_copy(model *dst, const model *src)
{
    dst->tls = src->tls;
    dst->n = src->n;
    memcpy(dst->h, src->h, (size_t)src->n * sizeof src->h[0]);
}

static mhost *model_find(model *m, const char *id)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->h[i].id, id) == 0) return &m->h[i];
    return NULL;
}

static mhost *model_get(model *m, const char *id)
{
    mhost *x = model_find(m, id);
    if (x) return x;
    if (m->n == MHOSTS) {
        overflow = 1;
        return NULL;
    }
    x = &m->h[m->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->sticky = -1;
    return x;
}

static void model_set(model *m, const char *id, int proxy, const char *addr, unsigned port, unsigned tls_port)
{
    mhost *x = model_get(m, id);
    if (!x) return;
    mrow *r = &x->rows[proxy];
    r->present = 1;
    snprintf(r->addr, sizeof r->addr, "%s", addr);
    r->port = port;
    r->tls_port = tls_port;
}

static void model_drop(model *m, const char *id, int proxy)
{
    mhost *x = model_find(m, id);
    if (x) x->rows[proxy].present = 0;
}

/* The stickiness rule over the rows in m, against the table before. */
static void model_finish(model *m, model *before)
{
    int k = 0;
    for (int i = 0; i < m->n; i++) {
        mhost x = m->h[i];
        mhost *prev = before ? model_find(before, x.id) : NULL;
        x.sticky = -1;
        if (prev && prev->sticky >= 0 && x.rows[prev->sticky].present) x.sticky = prev->sticky;
        for (int p = 0; p < NPROXIES && x.sticky < 0; p++)
            if (x.rows[p].present) x.sticky = p;
        if (x.sticky < 0) continue;
        m->h[k++] = x;
    }
    m->n = k;
}

static int proxy_of(const char *conn)
{
    for (int p = 0; p < NPROXIES; p++)
        if (strcmp(proxy_ids[p], conn) == 0) return p;
    return -1;
}

static int model_is_uuid(const char *s)
{
    if (strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- input */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

/* ---------------------------------------------------------------- JSON text */

typedef struct jbuf {
    char b[1 << 17];
    size_t n;
} jbuf;

static jbuf text;

static void put(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(jbuf *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(j->b + j->n, sizeof j->b - j->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof j->b - j->n) syf_fail("generated JSON does not fit");
    j->n += (size_t)k;
}

/* A value of a row's field: its JSON text (NULL: the key is left out) and,
 * when the field is valid, the value the table keeps. */
struct choice {
    const char *json;
    const char *value; /* strings */
    unsigned num;      /* ports */
    int valid;
};

static const struct choice conn_choices[] = {
    {"\"pl-a\"", "pl-a", 0, 1}, {"\"pl-b\"", "pl-b", 0, 1}, {"\"pl-c\"", "pl-c", 0, 1},
    {"\"pl-x\"", "pl-x", 0, 1}, /* not configured: ignored, still checked */
    {"\"PL-A\"", "PL-A", 0, 1}, /* ids are case-sensitive */
    {"\"\"", "", 0, 0},       {NULL, NULL, 0, 0}, {"7", NULL, 0, 0},
};

static char long_name[260], long_weird_json[260 * 6 + 3], long_weird[260];

static struct choice addr_choices[] = {
    {"\"nlb-1\"", "nlb-1", 0, 1},
    {"\"nlb-2.example.com\"", "nlb-2.example.com", 0, 1},
    {"\"10.0.0.9\"", "10.0.0.9", 0, 1},
    {"\"fd00::1\"", "fd00::1", 0, 1},
    {"\"\"", "", 0, 0},
    {NULL /* long_name: 253 bytes */, NULL, 0, 1},
    {NULL /* 254 bytes */, NULL, 0, 0},
    {"\"q\\\"b\\\\s\\u0001\\u001f\"", "q\"b\\s\x01\x1f", 0, 1}, /* needs escaping in list */
    {NULL /* long_weird: 253 control characters */, NULL, 0, 1},
    {NULL /* missing */, NULL, 0, 0},
    {"42", NULL, 0, 0},
};
#define ADDR_LONG 5
#define ADDR_TOO_LONG 6
#define ADDR_LONG_WEIRD 8
#define ADDR_MISSING 9
static char too_long_json[300];

static const struct choice port_choices[] = {
    {NULL, NULL, 0, 1},     {"null", NULL, 0, 1},   {"1", NULL, 1, 1},       {"9042", NULL, 9042, 1},
    {"65535", NULL, 65535, 1}, {"0", NULL, 0, 0},   {"65536", NULL, 0, 0},   {"-5", NULL, 0, 0},
    {"1.5", NULL, 0, 0},    {"\"9042\"", NULL, 0, 0}, {"1e300", NULL, 0, 0}, {"true", NULL, 0, 0},
    {"31001", NULL, 31001, 1},
};

static void init_choices(void)
{
    static int done;
    if (done) return;
    done = 1;
    /* 253 bytes in labels of at most 63: a valid host name */
    for (int i = 0; i < 253; i++) long_name[i] = (i % 64 == 63) ? '.' : 'a';
    long_name[253] = 0;
    snprintf(too_long_json, sizeof too_long_json, "\"%sa\"", long_name);
    static char long_name_json[262];
    snprintf(long_name_json, sizeof long_name_json, "\"%s\"", long_name);
    addr_choices[ADDR_LONG].json = long_name_json;
    addr_choices[ADDR_LONG].value = long_name;
    addr_choices[ADDR_TOO_LONG].json = too_long_json;
    size_t n = 0;
    long_weird_json[n++] = '"';
    for (int i = 0; i < 253; i++) {
        n += (size_t)snprintf(long_weird_json + n, sizeof long_weird_json - n, "\\u%04x", 1 + i % 31);
        long_weird[i] = (char)(1 + i % 31);
    }
    long_weird_json[n++] = '"';
    long_weird_json[n] = 0;
    long_weird[253] = 0;
    addr_choices[ADDR_LONG_WEIRD].json = long_weird_json;
    addr_choices[ADDR_LONG_WEIRD].value = long_weird;
}

#define PICK(arr, byte) (&(arr)[(byte) % (sizeof(arr) / sizeof((arr)[0]))])

/* A host id operand: a pool UUID, or not a UUID. */
struct host_choice {
    const char *json;
    const char *value; /* NULL when invalid */
};

static struct host_choice host_choice(unsigned b, char *scratch, size_t cap)
{
    unsigned k = b % 10;
    if (k < NUUIDS) {
        snprintf(scratch, cap, "\"%s\"", uuids[k]);
        return (struct host_choice){scratch, uuids[k]};
    }
    switch (k) {
    case 6: return (struct host_choice){"\"nope\"", NULL};
    case 7: return (struct host_choice){"\"00000000-0000-4000-8000-0000000000g0\"", NULL};
    case 8: return (struct host_choice){"\"00000000-0000-4000-8000-0000000000a00\"", NULL};
    default: return (struct host_choice){"7", NULL};
    }
}

/* One generated row: its text appended to j; *valid says whether
 * client_routes must accept it. */
struct row {
    int valid;
    const char *conn; /* when valid */
    const char *host;
    const char *addr;
    unsigned port, tls_port;
};

static struct row gen_row(reader *r, jbuf *j, const char *force_conn_json, const char *force_conn,
                          const char *force_host_json, const char *force_host)
{
    struct row row = {1, NULL, NULL, NULL, 0, 0};
    unsigned flags = take(r);
    if ((flags & 0x0f) == 0x0f) { /* not an object */
        put(j, "%s", (flags & 0x10) ? "7" : "[]");
        row.valid = 0;
        return row;
    }
    const struct choice *c = PICK(conn_choices, take(r));
    char hs[48];
    struct host_choice h = host_choice(take(r), hs, sizeof hs);
    const struct choice *a = PICK(addr_choices, take(r));
    const struct choice *p = PICK(port_choices, take(r));
    const struct choice *t = PICK(port_choices, take(r));
    const char *cj = force_conn_json ? force_conn_json : c->json;
    const char *hj = force_host_json ? force_host_json : h.json;
    int first = 1;
    put(j, "{");
#define FIELD(key, json)                                             \
    do {                                                             \
        if (json) {                                                  \
            put(j, "%s\"%s\": %s", first ? "" : ", ", key, json);     \
            first = 0;                                               \
        }                                                            \
    } while (0)
    if (flags & 0x20) { /* the columns in another order */
        FIELD("port", p->json);
        FIELD("address", a->json);
        FIELD("host_id", hj);
        FIELD("tls_port", t->json);
        FIELD("connection_id", cj);
    } else {
        FIELD("connection_id", cj);
        FIELD("host_id", hj);
        FIELD("address", a->json);
        FIELD("port", p->json);
        FIELD("tls_port", t->json);
    }
    if (flags & 0x40) FIELD("colour", "1");
#undef FIELD
    put(j, "}");
    row.conn = force_conn_json ? force_conn : c->value;
    row.host = force_host_json ? force_host : h.value;
    row.valid = (force_conn_json || c->valid) && row.conn && row.conn[0] && row.host && model_is_uuid(row.host) &&
                a->valid && p->valid && t->valid && !(flags & 0x40);
    row.addr = a->value;
    row.port = p->num;
    row.tls_port = t->num;
    return row;
}

/* ---------------------------------------------------------------- the router */

static sy_router *router;
static const sy_client_routes_table *table;
static void *inst;
static int inject;
static struct config_choice config;

static void get_table(void)
{
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    const void *t = NULL;
    int rc = sy_router_get_interface(router, "client_routes", SY_CLIENT_ROUTES_TABLE, SY_CLIENT_ROUTES_TABLE_VERSION,
                                     &t, &inst, &err);
    if (rc != SY_OK) syf_fail("sy_router_get_interface: %s: %s", sy_status_name(rc), err.message);
    table = t;
    if (table->struct_size < sizeof *table || !table->replace_all || !table->apply_event || !table->list)
        syf_fail("client_routes.table is incomplete");
}

/* The rows a config names itself. */
static void model_config_rows(model *m, struct config_choice c)
{
    m->tls = c.tls;
    m->n = 0;
    if (c.rows) {
        model_set(m, uuids[0], 1, "nlb-1", 9042, 19042);
        model_set(m, uuids[1], 0, "nlb-2.example.com", 9043, 0);
        model_set(m, uuids[2], 2, "10.0.0.9", 0, 19044);
    }
}

/* The model of a new router's table: its config's rows. */
static void model_from_config(model *m, struct config_choice c)
{
    model_config_rows(m, c);
    model_finish(m, NULL);
}

/* After a reload to another config (every config here lists the same
 * proxies): the config's rows, then each row of the old table for a pair
 * the config does not name; a host keeps its connection id while it has a
 * row. */
static void model_inherit(model *m, struct config_choice c, model *before)
{
    model_config_rows(m, c);
    for (int i = 0; i < before->n; i++) {
        const mhost *x = &before->h[i];
        for (int p = 0; p < NPROXIES; p++) {
            const mhost *own = model_find(m, x->id);
            if (x->rows[p].present && !(own && own->rows[p].present))
                model_set(m, x->id, p, x->rows[p].addr, x->rows[p].port, x->rows[p].tls_port);
        }
    }
    model_finish(m, before);
}

/* ---------------------------------------------------------------- checks */

static char list_buf[1 << 20];

/* The table as list gives it, checked for its length contract. */
static const char *list_now(void)
{
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    size_t need = 0;
    int rc = table->list(inst, NULL, 0, &need, &err);
    if (rc != SY_ETOOSMALL) syf_fail("list with no buffer: %s, not SY_ETOOSMALL", sy_status_name(rc));
    if (need + 1 > sizeof list_buf) syf_fail("list needs %zu bytes", need + 1);
    size_t got = 0;
    if (need > 2) { /* one byte short: cut, terminated */
        memset(list_buf, 'x', need);
        rc = table->list(inst, list_buf, need, &got, &err);
        if (rc != SY_ETOOSMALL || got != need || list_buf[need - 1] != 0)
            syf_fail("list into %zu bytes of the %zu needed: %s, length %zu", need, need + 1, sy_status_name(rc), got);
    }
    rc = table->list(inst, list_buf, need + 1, &got, &err);
    if (rc != SY_OK) syf_fail("list into %zu bytes: %s: %s", need + 1, sy_status_name(rc), err.message);
    if (got != need || strlen(list_buf) != need) syf_fail("list said %zu bytes, then wrote %zu", need, strlen(list_buf));
    return list_buf;
}

static unsigned port_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 65535)
        syf_fail("list: a row's %s is not a port", key);
    return (unsigned)v->valuedouble;
}

/* Reads list's text into m (the model of what the table holds). */
static void model_from_list(model *m, const char *json)
{
    cJSON *doc = cJSON_Parse(json);
    if (!cJSON_IsArray(doc)) syf_fail("list is not a JSON array: %.200s", json);
    m->n = 0;
    const char *last_id = "";
    int last_proxy = -1;
    for (const cJSON *o = doc->child; o; o = o->next) {
        const char *conn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "connection_id"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "host_id"));
        const char *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "address"));
        const cJSON *sticky = cJSON_GetObjectItemCaseSensitive(o, "sticky");
        if (!conn || !id || !addr || !cJSON_IsBool(sticky)) syf_fail("list: a row lacks a field: %.300s", json);
        int p = proxy_of(conn);
        if (p < 0) syf_fail("list: a row of connection id '%s', which is not configured", conn);
        if (!model_is_uuid(id)) syf_fail("list: host_id '%s' is not a UUID", id);
        if (strlen(addr) > 253) syf_fail("list: an address of %zu bytes", strlen(addr));
        int c = strcmp(last_id, id);
        if (c > 0 || (c == 0 && p <= last_proxy)) syf_fail("list: rows out of order at %s %s", id, conn);
        last_id = id;
        last_proxy = p;
        model_set(m, id, p, addr, port_field(o, "port"), port_field(o, "tls_port"));
        if (overflow) break;
        mhost *x = model_find(m, id);
        if (cJSON_IsTrue(sticky)) {
            if (x->sticky >= 0) syf_fail("list: host %s has two sticky rows", id);
            x->sticky = p;
        }
    }
    for (int i = 0; i < m->n && !overflow; i++)
        if (m->h[i].sticky < 0) syf_fail("list: host %s has no sticky row", m->h[i].id);
    cJSON_Delete(doc);
}

static int cmp_host(const void *a, const void *b)
{
    return strcmp(((const mhost *)a)->id, ((const mhost *)b)->id);
}

/* list holds exactly m's rows, each host on its sticky row. */
static void check_list(model *m)
{
    const char *json = list_now();
    static model got;
    got.tls = m->tls;
    model_from_list(&got, json);
    if (overflow) return;
    static model want;
    model_copy(&want, m);
    qsort(want.h, (size_t)want.n, sizeof want.h[0], cmp_host);
    if (got.n != want.n) syf_fail("list has %d hosts, the model %d: %.500s", got.n, want.n, json);
    for (int i = 0; i < want.n; i++) {
        const mhost *g = &got.h[i], *w = &want.h[i];
        if (strcmp(g->id, w->id) || g->sticky != w->sticky)
            syf_fail("list: host %s on %s, the model: host %s on %s", g->id, proxy_ids[g->sticky], w->id,
                     proxy_ids[w->sticky]);
        for (int p = 0; p < NPROXIES; p++) {
            const mrow *a = &g->rows[p], *b = &w->rows[p];
            if (a->present != b->present ||
                (a->present && (strcmp(a->addr, b->addr) || a->port != b->port || a->tls_port != b->tls_port)))
                syf_fail("list: host %s via %s differs from the model (%s %u %u vs %s %u %u)", w->id, proxy_ids[p],
                         a->present ? a->addr : "-", a->port, a->tls_port, b->present ? b->addr : "-", b->port,
                         b->tls_port);
        }
    }
}

/* One target against the model: the node's route, its error, its flags. */
static void check_target(const sy_target *t, model *m)
{
    if (!t->node) syf_fail("a target without a node");
    int topo = -1;
    for (int i = 0; i < NTOPO; i++)
        if (strcmp(t->node, uuids[i]) == 0) topo = i;
    if (topo < 0) syf_fail("a target for node '%s', not in the topology", t->node);
    if (!(t->flags & SY_TARGET_NO_SHARD_PORT)) syf_fail("target %s without SY_TARGET_NO_SHARD_PORT", t->node);
    mhost *x = model_find(m, t->node);
    const char *want_err = NULL;
    unsigned port = 0;
    const char *host = NULL;
    if (!x || x->sticky < 0) {
        want_err = "client_routes: no route for host_id ";
    } else {
        const mrow *r = &x->rows[x->sticky];
        port = m->tls ? r->tls_port : r->port;
        host = proxy_hosts[x->sticky] ? proxy_hosts[x->sticky] : r->addr;
        if (!port) want_err = "client_routes: host_id ";
    }
    if (want_err) {
        if (!t->error || strncmp(t->error, want_err, strlen(want_err)) != 0 || !strstr(t->error, t->node))
            syf_fail("node %s: the model says \"%s...\", the target has %s%s (%s:%u)", t->node, want_err,
                     t->error ? "error " : "no error", t->error ? t->error : "", t->host ? t->host : "-", t->port);
        if (t->host || t->port) syf_fail("node %s: an error target with a host", t->node);
        return;
    }
    if (t->error) syf_fail("node %s: the model routes it to %s:%u, the target has error %s", t->node, host, port, t->error);
    if (!t->host || strcmp(t->host, host) || t->port != port)
        syf_fail("node %s: the model routes it to %s:%u, the target goes to %s:%u", t->node, host, port,
                 t->host ? t->host : "-", t->port);
    if (!(t->flags & SY_TARGET_RESOLVE_EACH)) syf_fail("node %s: a proxy name without SY_TARGET_RESOLVE_EACH", t->node);
    if (!!(t->flags & SY_TARGET_TLS) != !!m->tls)
        syf_fail("node %s: TLS %s, the model says %s", t->node, (t->flags & SY_TARGET_TLS) ? "on" : "off",
                 m->tls ? "on" : "off");
}

static sy_request *request;

/* Walks a started plan: every topology node once, each as m says. */
static void walk_plan(sy_plan *plan, model *m)
{
    int seen[NTOPO] = {0};
    int n = 0;
    for (;;) {
        sy_target t = {.struct_size = (uint32_t)sizeof(sy_target)};
        int rc = sy_plan_next(plan, &t);
        if (rc == 0) break;
        if (rc != 1) syf_fail("sy_plan_next: %s", sy_status_name(rc));
        check_target(&t, m);
        for (int i = 0; i < NTOPO; i++)
            if (!strcmp(t.node, uuids[i])) seen[i]++;
        n++;
    }
    if (n != NTOPO) syf_fail("a plan of %d targets over %d nodes", n, NTOPO);
    for (int i = 0; i < NTOPO; i++)
        if (seen[i] != 1) syf_fail("node %s came %d times", uuids[i], seen[i]);
}

static sy_plan_storage plan_mem;

static sy_plan *plan_start(sy_plan_storage *mem)
{
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    sy_plan *plan = NULL;
    int rc = sy_plan_init(router, request, mem, sizeof *mem, &plan, &err);
    if (rc != SY_OK) syf_fail("sy_plan_init: %s: %s", sy_status_name(rc), err.message);
    return plan;
}

static void check_all(model *m)
{
    if (overflow) return;
    sy_plan *plan = plan_start(&plan_mem);
    walk_plan(plan, m);
    sy_plan_release(plan);
    syf_plan(router, request); /* the shared invariants, and no allocation */
    check_list(m);
}

/* ---------------------------------------------------------------- operations */

typedef int (*change_fn)(void *, const char *, size_t, sy_error *);

/* Runs one change; accepted says what the model expects. On acceptance
 * cur becomes next; on refusal nothing may change. */
static void run_change(const char *what, change_fn fn, const char *json, size_t len, int accepted, int modelled)
{
    static char before[sizeof list_buf];
    snprintf(before, sizeof before, "%s", list_now());
    uint64_t epoch = sy_router_epoch(router);
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    unsigned long injected = syf_injected();
    syf_arm(inject);
    /* in a block of exactly its length: ASan sees a read past the end */
    char *exact = malloc(len ? len : 1);
    if (!exact) syf_fail("out of memory for %zu bytes of input", len);
    memcpy(exact, json, len);
    int rc = fn(inst, exact, len, &err);
    free(exact);
    syf_arm(0);
    injected = syf_injected() - injected;
    syf_note("%s %.*s: %s (%s: %s)", what, (int)(len > 300 ? 300 : len), json, sy_status_name(rc), err.path,
             rc ? err.message : "");
    if (rc != SY_OK) {
        syf_check_error(what, rc, &err);
        if (rc == SY_ENOMEM && !injected) syf_fail("%s: SY_ENOMEM without an injected failure", what);
        if (modelled && accepted && rc != SY_ENOMEM)
            syf_fail("%s refused (%s: %s: %s) what the model accepts: %.300s", what, sy_status_name(rc), err.path,
                     err.message, json);
        if (rc != SY_ENOMEM && rc != SY_EREQUEST) syf_fail("%s: refused with %s", what, sy_status_name(rc));
        if (sy_router_epoch(router) != epoch) syf_fail("%s: refused but the epoch moved", what);
        if (strcmp(before, list_now()) != 0) syf_fail("%s: refused but the table changed", what);
        return;
    }
    if (modelled && !accepted) syf_fail("%s accepted what the model refuses: %.300s", what, json);
    if (sy_router_epoch(router) <= epoch) syf_fail("%s: accepted without a new snapshot", what);
    if (modelled) model_copy(&cur, &next);
    else model_from_list(&cur, list_now());
}

static void op_replace_all(reader *r)
{
    unsigned shape = take(r);
    unsigned nrows = shape % 7;
    text.n = 0;
    model_copy(&next, &cur);
    next.n = 0;
    int valid = 1;
    put(&text, (shape & 0x80) ? "{\"rows\": [" : "[");
    for (unsigned i = 0; i < nrows; i++) {
        if (i) put(&text, ", ");
        struct row row = gen_row(r, &text, NULL, NULL, NULL, NULL);
        if (!row.valid) valid = 0;
        else if (proxy_of(row.conn) >= 0) model_set(&next, row.host, proxy_of(row.conn), row.addr, row.port, row.tls_port);
    }
    put(&text, (shape & 0x80) ? "]}" : "]");
    if (shape & 0x80) valid = 0; /* rows are a bare array */
    size_t len = text.n;
    if (shape & 0x40) { /* cut short: never a whole document */
        len = take(r) % (text.n ? text.n : 1);
        valid = 0;
    }
    if (overflow) return;
    model_finish(&next, &cur);
    run_change("replace_all", table->replace_all, text.b, len, valid, 1);
}

/* What an event's pair names, when it is valid. */
struct pair {
    const char *conn; /* NULL: not a string */
    const char *host; /* NULL: not a UUID string */
};

static void op_apply_event(reader *r)
{
    unsigned shape = take(r), shape2 = take(r);
    text.n = 0;
    int valid = 1;
    put(&text, "{");
    switch (shape % 5) { /* "change" */
    case 0: break;
    case 1:
    case 2: put(&text, "\"change\": \"UPDATE_NODES\", "); break;
    case 3: put(&text, "\"change\": \"DROP\", "); valid = 0; break;
    default: put(&text, "\"change\": 5, "); valid = 0; break;
    }
    unsigned npairs = (shape >> 3) % 5;
    unsigned nconns = npairs, nhosts = npairs;
    if ((shape2 & 3) == 1) nconns++;
    if ((shape2 & 3) == 2 && nhosts) nhosts--;
    if (nconns != nhosts) valid = 0;
    static const char *const pair_conns[][2] = {
        {"\"pl-a\"", "pl-a"}, {"\"pl-b\"", "pl-b"}, {"\"pl-c\"", "pl-c"}, {"\"pl-x\"", "pl-x"},
        {"\"\"", ""},         {"7", NULL},          {"null", NULL},
    };
    struct pair pairs[8];
    char pair_host_json[8][48];
    unsigned conn_pick[8];
    for (unsigned i = 0; i < 8; i++) pairs[i] = (struct pair){NULL, NULL};
    int lists_ok = 1;
    if ((shape2 >> 2) % 6 == 5) { /* connection_ids not an array */
        put(&text, "\"connection_ids\": {}, ");
        lists_ok = 0;
    } else if ((shape2 >> 2) % 6 != 4) {
        put(&text, "\"connection_ids\": [");
        for (unsigned i = 0; i < nconns; i++) {
            conn_pick[i] = take(r) % 7;
            put(&text, "%s%s", i ? ", " : "", pair_conns[conn_pick[i]][0]);
            if (i < 8) pairs[i].conn = pair_conns[conn_pick[i]][1];
        }
        put(&text, "], ");
    } else {
        lists_ok = 0; /* missing */
    }
    put(&text, "\"host_ids\": [");
    for (unsigned i = 0; i < nhosts; i++) {
        struct host_choice h = host_choice(take(r), pair_host_json[i], sizeof pair_host_json[i]);
        put(&text, "%s%s", i ? ", " : "", h.json);
        pairs[i].host = h.value;
    }
    put(&text, "]");
    if (!lists_ok) valid = 0;
    /* rows: for named pairs (most), for other pairs, or not an array */
    unsigned rows_kind = (shape2 >> 5) % 8;
    int rows_array = 0, rows_present = 1;
    struct row rows[8];
    unsigned nrows = 0;
    if (rows_kind == 0) {
        rows_present = 0;
    } else if (rows_kind == 1) {
        put(&text, ", \"rows\": {}");
    } else if (rows_kind == 2) {
        put(&text, ", \"rows\": null");
    } else {
        rows_array = 1;
        nrows = take(r) % 6;
        put(&text, ", \"rows\": [");
        for (unsigned i = 0; i < nrows; i++) {
            if (i) put(&text, ", ");
            /* most rows answer a named pair: its connection id and host id */
            unsigned follow = take(r);
            unsigned k = follow % 8;
            if (k < npairs && nconns > k && nhosts > k && pairs[k].conn && pairs[k].host && (follow & 0x80) == 0) {
                char cj[64], hj[48];
                snprintf(cj, sizeof cj, "\"%s\"", pairs[k].conn);
                snprintf(hj, sizeof hj, "\"%s\"", pairs[k].host);
                rows[i] = gen_row(r, &text, cj, pairs[k].conn, hj, pairs[k].host);
            } else {
                rows[i] = gen_row(r, &text, NULL, NULL, NULL, NULL);
            }
        }
        put(&text, "]");
    }
    if (rows_present && !rows_array) valid = 0;
    put(&text, "}");
    size_t len = text.n;
    if ((shape & 7) == 7) { /* cut short, or not an object at all */
        unsigned b = take(r);
        if (b & 1) {
            len = (b >> 1) % (text.n ? text.n : 1);
        } else {
            text.n = 0;
            put(&text, "[1]");
            len = text.n;
        }
        valid = 0;
    }
    /* the model: pairs in order over a copy of the table */
    model_copy(&next, &cur);
    for (unsigned i = 0; valid && i < npairs && i < 8; i++) {
        if (!pairs[i].conn || !pairs[i].host) {
            valid = 0;
            break;
        }
        int p = proxy_of(pairs[i].conn);
        if (p < 0) continue;
        /* the last row for exactly this pair; others are never read */
        int found = -1;
        for (unsigned k = 0; k < nrows; k++)
            if (rows[k].conn && rows[k].host && !strcmp(rows[k].conn, pairs[i].conn) &&
                !strcmp(rows[k].host, pairs[i].host))
                found = (int)k;
        if (found < 0) {
            model_drop(&next, pairs[i].host, p);
            continue;
        }
        if (!rows[found].valid) {
            valid = 0;
            break;
        }
        model_set(&next, pairs[i].host, p, rows[found].addr, rows[found].port, rows[found].tls_port);
    }
    if (overflow) return;
    model_finish(&next, &cur);
    run_change("apply_event", table->apply_event, text.b, len, valid, 1);
}

/* Raw text from the input, unmodelled. */
static void op_raw(reader *r, int event)
{
    size_t len = take(r);
    if (len > r->n) len = r->n;
    char raw[256];
    memcpy(raw, r->p, len);
    r->p += len;
    r->n -= len;
    run_change(event ? "apply_event (raw)" : "replace_all (raw)", event ? table->apply_event : table->replace_all,
               raw, len, 0, 0);
}

/* A plan started before a change ends on the table it started with. */
static void op_held_plan(reader *r)
{
    static sy_plan_storage held_mem;
    sy_plan *plan = plan_start(&held_mem);
    model_copy(&held, &cur);
    /* the first target now, the rest after the change */
    sy_target t = {.struct_size = (uint32_t)sizeof(sy_target)};
    if (sy_plan_next(plan, &t) != 1) syf_fail("a held plan has no first target");
    check_target(&t, &held);
    if (take(r) & 1) op_apply_event(r);
    else op_replace_all(r);
    int n = 1;
    for (;;) {
        t = (sy_target){.struct_size = (uint32_t)sizeof(sy_target)};
        int rc = sy_plan_next(plan, &t);
        if (rc == 0) break;
        if (rc != 1) syf_fail("sy_plan_next on a held plan: %s", sy_status_name(rc));
        if (!overflow) check_target(&t, &held);
        n++;
    }
    if (n != NTOPO) syf_fail("a held plan of %d targets", n);
    sy_plan_release(plan);
}

static char config_buf[4096];

/* A reload: the same config keeps the instance and its table; another one
 * starts from that config's rows and inherits the rest (model_inherit). */
static void op_reload(reader *r)
{
    unsigned b = take(r);
    struct config_choice c = config;
    if (b & 1) c.tls = !c.tls;
    if (b & 2) c.drain = !c.drain;
    if (b & 4) c.rows = !c.rows;
    size_t len = config_text(config_buf, sizeof config_buf, c);
    if (b & 8) len = (b >> 4) % len; /* cut short: refused */
    uint64_t epoch = sy_router_epoch(router);
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    unsigned long injected = syf_injected();
    syf_arm(inject);
    int rc = sy_router_reload(router, config_buf, len, NULL, NULL, &err);
    syf_arm(0);
    injected = syf_injected() - injected;
    syf_note("reload tls=%d drain=%d rows=%d%s: %s", c.tls, c.drain, c.rows, (b & 8) ? " (cut)" : "",
             sy_status_name(rc));
    if (rc != SY_OK) {
        syf_check_error("sy_router_reload", rc, &err);
        if (!(b & 8) && !(rc == SY_ENOMEM && injected))
            syf_fail("reload of a valid config: %s: %s: %s", sy_status_name(rc), err.path, err.message);
        if (sy_router_epoch(router) != epoch) syf_fail("a refused reload moved the epoch");
        return;
    }
    if (b & 8) syf_fail("a reload of a config cut short was accepted");
    get_table(); /* a new instance when the config changed */
    int same = c.tls == config.tls && c.drain == config.drain && c.rows == config.rows;
    config = c;
    if (!same) {
        model_inherit(&next, c, &cur);
        model_copy(&cur, &next);
    }
}

/* ---------------------------------------------------------------- driver */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    init_choices();
    inject = syf_begin(data, size);
    overflow = 0;
    reader r = {data, size};
    unsigned first = take(&r);
    config = (struct config_choice){first & 1, (first >> 1) & 1, (first >> 2) & 1};
    size_t len = config_text(config_buf, sizeof config_buf, config);
    sy_error err = {.struct_size = (uint32_t)sizeof(sy_error)};
    int rc = sy_router_new(config_buf, len, syf_options(), &router, &err);
    if (rc != SY_OK) syf_fail("the fixture config: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    rc = sy_request_new(router, &request, &err);
    if (rc != SY_OK) syf_fail("sy_request_new: %s", sy_status_name(rc));
    get_table();
    model_from_config(&cur, config);
    check_all(&cur);
    for (int ops = 0; r.n && !overflow && ops < 256; ops++) {
        switch (take(&r) % 8) {
        case 0:
        case 1: op_replace_all(&r); break;
        case 2:
        case 3: op_apply_event(&r); break;
        case 4: op_raw(&r, 0); break;
        case 5: op_raw(&r, 1); break;
        case 6: op_held_plan(&r); break;
        default: op_reload(&r); break;
        }
        check_all(&cur);
    }
    sy_request_free(request);
    sy_router_free(router);
    request = NULL;
    router = NULL;
    syf_end();
    return 0;
}
