/* Murmur3Partitioner tokens against values published by others: the
 * scylla-rust-driver's partitioner tests and `SELECT token(...)` results from
 * cqlsh on a real cluster, including composite keys long enough to cover full
 * 16-byte blocks, and tail bytes >= 0x80 (Cassandra sign-extends them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <switchyard/switchyard.h>

typedef struct vector {
    const char *what;
    const uint8_t *key;
    size_t len;
    int64_t token;
} vector;

/* Key builders for CQL values as the partitioner sees them. */
typedef struct keybuf {
    uint8_t b[128];
    size_t n;
} keybuf;

static void put_be(keybuf *k, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) k->b[k->n++] = (uint8_t)(v >> (8 * i));
}

/* One component of a composite partition key: u16 length, bytes, 0x00. */
static void component(keybuf *k, const void *data, size_t len) {
    put_be(k, len, 2);
    memcpy(k->b + k->n, data, len);
    k->n += len;
    k->b[k->n++] = 0;
}

static void component_be(keybuf *k, uint64_t v, int bytes) {
    uint8_t tmp[8];
    for (int i = 0; i < bytes; i++) tmp[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    component(k, tmp, (size_t)bytes);
}

static void test_text_keys(void **state) {
    (void)state;
    /* scylla-rust-driver, scylla/src/routing/partitioner.rs tests */
    static const struct {
        const char *key;
        int64_t token;
    } v[] = {
        {"test", -6017608668500074083LL},
        {"xd", 4507812186440344727LL},
        {"primary_key", -1632642444691073360LL},
        {"krem\xc3\xb3wki", 4354931215268080151LL}, /* UTF-8: tail bytes >= 0x80 */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(sy_murmur3_token(v[i].key, strlen(v[i].key)), v[i].token);
}

static void test_cqlsh_tokens(void **state) {
    (void)state;
    /* bigint 7386436132013076480 -> token(line_id) = -1446046784528965222 */
    keybuf k = {{0}, 0};
    put_be(&k, 7386436132013076480ULL, 8);
    assert_int_equal(sy_murmur3_token(k.b, k.n), -1446046784528965222LL);

    /* (bigint 7386833339577004032, int 1245): 18 bytes, one block + tail */
    k.n = 0;
    component_be(&k, 7386833339577004032ULL, 8);
    component_be(&k, 1245, 4);
    assert_int_equal(k.n, 18);
    assert_int_equal(sy_murmur3_token(k.b, k.n), -3385343466860924788LL);

    /* ("nfl", "regular", "2024", bigint 7386436132013076480): 34 bytes, two blocks */
    k.n = 0;
    component(&k, "nfl", 3);
    component(&k, "regular", 7);
    component(&k, "2024", 4);
    component_be(&k, 7386436132013076480ULL, 8);
    assert_int_equal(k.n, 34);
    assert_int_equal(sy_murmur3_token(k.b, k.n), -4258149831554983843LL);

    /* ("nfl", smallint 100, int 200, boolean true / false) */
    k.n = 0;
    component(&k, "nfl", 3);
    component_be(&k, 100, 2);
    component_be(&k, 200, 4);
    size_t before_bool = k.n;
    component_be(&k, 1, 1);
    assert_int_equal(sy_murmur3_token(k.b, k.n), 1614259030012692814LL);
    k.n = before_bool;
    component_be(&k, 0, 1);
    assert_int_equal(sy_murmur3_token(k.b, k.n), 7282384892949881566LL);
}

static void test_empty_key_is_minimum_token(void **state) {
    (void)state;
    assert_int_equal(sy_murmur3_token("", 0), INT64_MIN);
    assert_int_equal(sy_murmur3_token(NULL, 0), INT64_MIN);
    /* NULL with a length is misuse: no crash, the minimum token */
    assert_int_equal(sy_murmur3_token(NULL, 5), INT64_MIN);
}

/* Every length from 1 to 64 bytes, at every alignment: tokens do not depend
 * on where the key sits in memory, and no non-empty key maps to INT64_MIN. */
static void test_lengths_and_alignment(void **state) {
    (void)state;
    uint8_t base[80], shifted[96];
    for (size_t i = 0; i < sizeof base; i++) base[i] = (uint8_t)(i * 37 + 0x81);
    for (size_t len = 1; len <= 64; len++) {
        int64_t want = sy_murmur3_token(base, len);
        assert_true(want != INT64_MIN);
        for (size_t off = 1; off < 8; off++) {
            memcpy(shifted + off, base, len);
            assert_int_equal(sy_murmur3_token(shifted + off, len), want);
        }
        /* changing the last byte changes the token (the tail is hashed) */
        memcpy(shifted, base, len);
        shifted[len - 1] ^= 0x80;
        assert_true(sy_murmur3_token(shifted, len) != want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_keys),
        cmocka_unit_test(test_cqlsh_tokens),
        cmocka_unit_test(test_empty_key_is_minimum_token),
        cmocka_unit_test(test_lengths_and_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
