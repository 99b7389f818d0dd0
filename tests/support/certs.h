/* Certificates made at test time with mbedTLS: EC P-256 keys, PEM files in a
 * fresh temporary directory. Plain C11, for C and C++ tests. */
#ifndef SY_TEST_CERTS_H
#define SY_TEST_CERTS_H

#ifdef __cplusplus
extern "C" {
#endif

#define TEST_CERTS_PATH_MAX 512

typedef struct test_certs {
    char dir[TEST_CERTS_PATH_MAX];     /* the temporary directory */
    char ca_cert[TEST_CERTS_PATH_MAX]; /* "Switchyard Test CA" */
    char ca_key[TEST_CERTS_PATH_MAX];
    char ca_dir[TEST_CERTS_PATH_MAX]; /* a directory holding only ca_cert's certificate */
    /* Every server certificate below uses server_key. */
    char server_key[TEST_CERTS_PATH_MAX];
    char server_cert[TEST_CERTS_PATH_MAX];     /* CN=localhost, SAN DNS:localhost IP:127.0.0.1 (and
                                                  ::1), by the CA */
    char expired_cert[TEST_CERTS_PATH_MAX];    /* localhost, valid 2010..2011, by the CA */
    char future_cert[TEST_CERTS_PATH_MAX];     /* localhost, valid from 2045, by the CA */
    char other_cert[TEST_CERTS_PATH_MAX];      /* CN and SAN other.example only, by the CA */
    char unknown_ca_cert[TEST_CERTS_PATH_MAX]; /* localhost, signed by other_ca_cert */
    char other_ca_cert[TEST_CERTS_PATH_MAX];   /* "Unknown Test CA", trusted by nobody */
    char client_cert[TEST_CERTS_PATH_MAX];     /* CN=switchyard-test-client, by the CA */
    char client_key[TEST_CERTS_PATH_MAX];
} test_certs;

/* Makes them all under $TMPDIR (default /tmp). 0 on success; -1 with a
 * message on stderr (and nothing left behind). */
int test_certs_make(test_certs *c);
/* Removes the directory and everything in it. */
void test_certs_cleanup(test_certs *c);

#ifdef __cplusplus
}
#endif
#endif
