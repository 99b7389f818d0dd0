#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support/certs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

typedef struct gen {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    int serial;
} gen;

static int report(const char *what, int rc) {
    char buf[160];
    mbedtls_strerror(rc, buf, sizeof buf);
    fprintf(stderr, "test_certs: %s: %s (-0x%04x)\n", what, buf, (unsigned)-rc);
    return -1;
}

static int write_file(const char *path, const unsigned char *pem) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "test_certs: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = strlen((const char *)pem);
    int ok = fwrite(pem, 1, n, f) == n;
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "test_certs: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static int new_key(gen *g, mbedtls_pk_context *pk, const char *path) {
    mbedtls_pk_init(pk);
    int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (!rc)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                 mbedtls_ctr_drbg_random, &g->drbg);
    if (rc) return report("generating a P-256 key", rc);
    if (!path) return 0;
    unsigned char pem[1024];
    if ((rc = mbedtls_pk_write_key_pem(pk, pem, sizeof pem))) return report("writing a key", rc);
    return write_file(path, pem);
}

typedef struct cert_spec {
    const char *subject;     /* "CN=localhost" */
    const char *issuer;      /* the issuer's subject */
    mbedtls_pk_context *key; /* the subject's key */
    mbedtls_pk_context *issuer_key;
    const char *not_before, *not_after; /* YYYYMMDDhhmmss */
    int is_ca;
    const char *dns; /* subjectAltName dNSName, or NULL */
    int with_ips;    /* subjectAltName iPAddress 127.0.0.1 and ::1 */
} cert_spec;

/* mbedTLS 2.28 cannot write a subjectAltName itself: DER by hand. */
static size_t san_der(const cert_spec *s, unsigned char *out) {
    static const unsigned char v4[4] = {127, 0, 0, 1};
    static const unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t n = 2; /* SEQUENCE header, short length form: the content stays < 128 bytes */
    if (s->dns) {
        size_t l = strlen(s->dns);
        out[n++] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME;
        out[n++] = (unsigned char)l;
        memcpy(out + n, s->dns, l);
        n += l;
    }
    if (s->with_ips) {
        out[n++] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;
        out[n++] = sizeof v4;
        memcpy(out + n, v4, sizeof v4);
        n += sizeof v4;
        out[n++] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;
        out[n++] = sizeof v6;
        memcpy(out + n, v6, sizeof v6);
        n += sizeof v6;
    }
    out[0] = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    out[1] = (unsigned char)(n - 2);
    return n;
}

static int new_cert(gen *g, const cert_spec *s, const char *path) {
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_mpi_lset(&serial, ++g->serial);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, s->key);
    mbedtls_x509write_crt_set_issuer_key(&w, s->issuer_key);
    if (!rc) rc = mbedtls_x509write_crt_set_serial(&w, &serial);
    if (!rc) rc = mbedtls_x509write_crt_set_subject_name(&w, s->subject);
    if (!rc) rc = mbedtls_x509write_crt_set_issuer_name(&w, s->issuer);
    if (!rc) rc = mbedtls_x509write_crt_set_validity(&w, s->not_before, s->not_after);
    if (!rc) rc = mbedtls_x509write_crt_set_basic_constraints(&w, s->is_ca, s->is_ca ? 0 : -1);
    if (!rc)
        rc = mbedtls_x509write_crt_set_key_usage(&w, s->is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                                    MBEDTLS_X509_KU_CRL_SIGN
                                                              : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (!rc) rc = mbedtls_x509write_crt_set_subject_key_identifier(&w);
    if (!rc) rc = mbedtls_x509write_crt_set_authority_key_identifier(&w);
    if (!rc && (s->dns || s->with_ips)) {
        unsigned char san[128];
        size_t n = san_der(s, san);
        rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                 san, n);
    }
    unsigned char pem[4096];
    if (!rc) rc = mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &g->drbg);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    if (rc) return report(s->subject, rc);
    return write_file(path, pem);
}

/* 0, or -1 when the path does not fit. */
static int join(char *out, const char *dir, const char *name) {
    int n = snprintf(out, TEST_CERTS_PATH_MAX, "%s/%s", dir, name);
    return n > 0 && n < TEST_CERTS_PATH_MAX ? 0 : -1;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[TEST_CERTS_PATH_MAX + 256];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

#define VALID_FROM "20200101000000"
#define VALID_TO "20441231235959"

int test_certs_make(test_certs *c) {
    memset(c, 0, sizeof *c);
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/sy-certs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) {
        fprintf(stderr, "test_certs: mkdtemp %s: %s\n", c->dir, strerror(errno));
        c->dir[0] = 0;
        return -1;
    }
    char ca_copy[TEST_CERTS_PATH_MAX];
    int bad = 0;
    bad |= join(c->ca_cert, c->dir, "ca.pem");
    bad |= join(c->ca_key, c->dir, "ca.key");
    bad |= join(c->ca_dir, c->dir, "ca-dir");
    bad |= join(c->server_key, c->dir, "server.key");
    bad |= join(c->server_cert, c->dir, "server.pem");
    bad |= join(c->expired_cert, c->dir, "expired.pem");
    bad |= join(c->future_cert, c->dir, "future.pem");
    bad |= join(c->other_cert, c->dir, "other.pem");
    bad |= join(c->unknown_ca_cert, c->dir, "unknown-ca-server.pem");
    bad |= join(c->other_ca_cert, c->dir, "other-ca.pem");
    bad |= join(c->client_cert, c->dir, "client.pem");
    bad |= join(c->client_key, c->dir, "client.key");
    bad |= join(ca_copy, c->ca_dir, "ca.pem");
    if (bad) {
        fprintf(stderr, "test_certs: %s: path too long\n", c->dir);
        test_certs_cleanup(c);
        return -1;
    }
    gen g;
    mbedtls_pk_context ca, other_ca, server, client;
    mbedtls_entropy_init(&g.entropy);
    mbedtls_ctr_drbg_init(&g.drbg);
    mbedtls_pk_init(&ca);
    mbedtls_pk_init(&other_ca);
    mbedtls_pk_init(&server);
    mbedtls_pk_init(&client);
    g.serial = 0;
    int rc = mbedtls_ctr_drbg_seed(&g.drbg, mbedtls_entropy_func, &g.entropy,
                                   (const unsigned char *)"sy-test-certs", 13);
    if (rc) rc = report("seeding the DRBG", rc);

    const char *ca_name = "CN=Switchyard Test CA,O=switchyard";
    const char *other_ca_name = "CN=Unknown Test CA,O=elsewhere";
    const char *localhost = "CN=localhost,O=switchyard";
    if (!rc) rc = new_key(&g, &ca, c->ca_key);
    if (!rc) rc = new_key(&g, &other_ca, NULL);
    if (!rc) rc = new_key(&g, &server, c->server_key);
    if (!rc) rc = new_key(&g, &client, c->client_key);
    cert_spec specs[] = {
        {ca_name, ca_name, &ca, &ca, VALID_FROM, VALID_TO, 1, NULL, 0},
        {other_ca_name, other_ca_name, &other_ca, &other_ca, VALID_FROM, VALID_TO, 1, NULL, 0},
        {localhost, ca_name, &server, &ca, VALID_FROM, VALID_TO, 0, "localhost", 1},
        {localhost, ca_name, &server, &ca, "20100101000000", "20110101000000", 0, "localhost", 1},
        {localhost, ca_name, &server, &ca, "20450101000000", "20491231235959", 0, "localhost", 1},
        {"CN=other.example,O=switchyard", ca_name, &server, &ca, VALID_FROM, VALID_TO, 0,
         "other.example", 0},
        {localhost, other_ca_name, &server, &other_ca, VALID_FROM, VALID_TO, 0, "localhost", 1},
        {"CN=switchyard-test-client,O=switchyard", ca_name, &client, &ca, VALID_FROM, VALID_TO, 0,
         NULL, 0},
    };
    const char *paths[] = {c->ca_cert,     c->other_ca_cert, c->server_cert,     c->expired_cert,
                           c->future_cert, c->other_cert,    c->unknown_ca_cert, c->client_cert};
    if (!rc && mkdir(c->ca_dir, 0700) != 0) {
        fprintf(stderr, "test_certs: mkdir %s: %s\n", c->ca_dir, strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; !rc && i < sizeof specs / sizeof specs[0]; i++)
        rc = new_cert(&g, &specs[i], paths[i]);
    if (!rc) {
        /* The CA directory gets the very same certificate. */
        FILE *f = fopen(c->ca_cert, "r");
        unsigned char pem[4096];
        size_t n = f ? fread(pem, 1, sizeof pem - 1, f) : 0;
        if (f) fclose(f);
        pem[n] = 0;
        rc = n ? write_file(ca_copy, pem) : -1;
    }

    mbedtls_pk_free(&ca);
    mbedtls_pk_free(&other_ca);
    mbedtls_pk_free(&server);
    mbedtls_pk_free(&client);
    mbedtls_ctr_drbg_free(&g.drbg);
    mbedtls_entropy_free(&g.entropy);
    if (rc) {
        test_certs_cleanup(c);
        return -1;
    }
    return 0;
}

void test_certs_cleanup(test_certs *c) {
    if (c->dir[0]) remove_tree(c->dir);
    c->dir[0] = 0;
}
