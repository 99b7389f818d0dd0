// The connector's costs on loopback, side by side with the bare libraries:
//  1. a TCP connect (+ close) through sy_router_connect vs a bare blocking
//     Asio connect to the same echo server (target: within 10% at the median);
//  2. fail-over: a connect whose first target is refused;
//  3. a TLS connect (full handshake) vs a bare mbedTLS client with the same
//     curves and verification;
//  4. a pooled checkout (connect + release of an idle connection): ns and
//     allocations per operation.
// Figures are printed, never judged.
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <switchyard/switchyard.h>

extern "C" {
#include "support/certs.h"
#include "support/echo_server.h"
#include "support/plugin_dir.h"
#include "support/tls_server.h"
}

namespace asio::detail {
template <typename Exception> void throw_exception(const Exception &) { std::abort(); }
} // namespace asio::detail

namespace {

// bench_util.h's counting allocator and clock, in C++.
constexpr int BENCH_RUNS = 7;
size_t g_allocs, g_live;

void *bench_alloc(size_t size, size_t, void *) {
    auto *h = static_cast<size_t *>(std::malloc(16 + size));
    if (!h) return nullptr;
    *h = size;
    g_allocs++;
    g_live += size;
    return reinterpret_cast<char *>(h) + 16;
}

void bench_free(void *p, size_t size, void *) {
    if (!p) return;
    g_live -= size;
    std::free(static_cast<char *>(p) - 16);
}

uint64_t bench_now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

double bench_median(double (*fn)(void *, long), void *ctx, long n) {
    std::vector<double> r;
    fn(ctx, n / 10 + 1);
    for (int i = 0; i < BENCH_RUNS; i++) r.push_back(fn(ctx, n));
    std::sort(r.begin(), r.end());
    return r[BENCH_RUNS / 2];
}

struct Stats {
    double p50, p99;
};

Stats stats_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[v.size() * 99 / 100]};
}

sy_router *router_for(const char *routes, const char *connect, const sy_router_options *o) {
    char cfg[8192];
    std::snprintf(cfg, sizeof cfg,
                  "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
                  "\"config\": {\"routes\": %s}}, \"connect\": %s}",
                  plugin_dir(), routes, connect);
    sy_router *r = nullptr;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(cfg, std::strlen(cfg), o, &r, &err) != SY_OK) {
        std::fprintf(stderr, "router: %s: %s\n", err.path, err.message);
        std::exit(1);
    }
    return r;
}

sy_request *request_for(sy_router *r) {
    sy_request *q = nullptr;
    sy_request_new(r, &q, nullptr);
    sy_request_set_node(q, "svc");
    return q;
}

int dead_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

// 1. TCP: batches interleaved so both see the same machine.
void tcp_connect(int port) {
    char routes[256];
    std::snprintf(routes, sizeof routes,
                  "[{\"pattern\": \"^svc$\", \"host\": \"127.0.0.1\", \"port\": %d}]", port);
    sy_router *r = router_for(routes, "{}", nullptr);
    sy_request *q = request_for(r);
    sy_connect_options opts = SY_STRUCT_INIT(sy_connect_options);
    opts.flags = SY_CONNECT_NO_POOL;
    asio::io_context io;
    asio::ip::tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), static_cast<uint16_t>(port));
    std::vector<double> bare, ours;
    const int batches = 20, per = 200;
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < per; i++) {
            uint64_t t0 = bench_now_ns();
            asio::ip::tcp::socket s(io);
            asio::error_code ec;
            s.connect(ep, ec);
            s.set_option(asio::ip::tcp::no_delay(true), ec);
            s.close(ec);
            if (b) bare.push_back(static_cast<double>(bench_now_ns() - t0));
        }
        for (int i = 0; i < per; i++) {
            uint64_t t0 = bench_now_ns();
            sy_conn *c = nullptr;
            if (sy_router_connect(r, q, &opts, &c, nullptr, nullptr) != SY_OK) std::exit(1);
            sy_conn_close(c);
            if (b) ours.push_back(static_cast<double>(bench_now_ns() - t0));
        }
    }
    Stats sb = stats_of(bare), so = stats_of(ours);
    std::printf("tcp connect+close, loopback echo server (%zu each):\n", ours.size());
    std::printf("  bare asio connect      p50 %7.1f us  p99 %7.1f us\n", sb.p50 / 1e3, sb.p99 / 1e3);
    std::printf("  sy_router_connect      p50 %7.1f us  p99 %7.1f us  (%+.1f%% at the median)\n",
                so.p50 / 1e3, so.p99 / 1e3, (so.p50 / sb.p50 - 1) * 100);
    sy_request_free(q);
    sy_router_free(r);
}

// 2. Fail-over past a refused target.
void failover(int port) {
    char routes[512];
    std::snprintf(routes, sizeof routes,
                  "[{\"pattern\": \"^svc$\", \"weight\": 2, \"host\": \"127.0.0.1\", \"port\": %d},"
                  " {\"pattern\": \"^sv.$\", \"weight\": 1, \"host\": \"127.0.0.1\", \"port\": %d}]",
                  dead_port(), port);
    sy_router *r = router_for(routes, "{\"circuit\": {\"failures\": 0}}", nullptr);
    sy_request *q = request_for(r);
    sy_connect_options opts = SY_STRUCT_INIT(sy_connect_options);
    opts.flags = SY_CONNECT_NO_POOL;
    std::vector<double> all, refused;
    for (int i = 0; i < 2000; i++) {
        sy_attempt at[2];
        at[0] = SY_STRUCT_INIT(sy_attempt);
        sy_connect_result res = SY_STRUCT_INIT(sy_connect_result);
        res.attempts = at;
        res.attempt_cap = 2;
        uint64_t t0 = bench_now_ns();
        sy_conn *c = nullptr;
        if (sy_router_connect(r, q, &opts, &c, &res, nullptr) != SY_OK) std::exit(1);
        sy_conn_close(c);
        all.push_back(static_cast<double>(bench_now_ns() - t0));
        refused.push_back(static_cast<double>(at[0].elapsed_ns));
    }
    Stats sa = stats_of(all), sr = stats_of(refused);
    std::printf("fail-over past a refused target (2000):\n");
    std::printf("  the refused attempt    p50 %7.1f us  p99 %7.1f us\n", sr.p50 / 1e3, sr.p99 / 1e3);
    std::printf("  whole connect          p50 %7.1f us  p99 %7.1f us\n", sa.p50 / 1e3, sa.p99 / 1e3);
    sy_request_free(q);
    sy_router_free(r);
}

// 3. TLS: a bare mbedTLS client, set up like ours.
struct BareTls {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config conf;
    const mbedtls_ecp_group_id curves[3] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                            MBEDTLS_ECP_DP_NONE};
    explicit BareTls(const char *ca_file) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        mbedtls_x509_crt_init(&ca);
        mbedtls_ssl_config_init(&conf);
        mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
        mbedtls_x509_crt_parse_file(&ca, ca_file);
        mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&conf, &ca, nullptr);
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
        mbedtls_ssl_conf_curves(&conf, curves);
    }
    ~BareTls() {
        mbedtls_ssl_config_free(&conf);
        mbedtls_x509_crt_free(&ca);
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
    }
    static int send_cb(void *ctx, const unsigned char *b, size_t n) {
        ssize_t k = ::send(*static_cast<int *>(ctx), b, n, MSG_NOSIGNAL);
        return k < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : static_cast<int>(k);
    }
    static int recv_cb(void *ctx, unsigned char *b, size_t n) {
        ssize_t k = ::recv(*static_cast<int *>(ctx), b, n, 0);
        return k < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : static_cast<int>(k);
    }
    bool handshake(int port) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
        mbedtls_ssl_context ssl;
        mbedtls_ssl_init(&ssl);
        ok = ok && mbedtls_ssl_setup(&ssl, &conf) == 0 &&
             mbedtls_ssl_set_hostname(&ssl, "localhost") == 0;
        mbedtls_ssl_set_bio(&ssl, &fd, send_cb, recv_cb, nullptr);
        ok = ok && mbedtls_ssl_handshake(&ssl) == 0;
        if (ok) mbedtls_ssl_close_notify(&ssl);
        mbedtls_ssl_free(&ssl);
        close(fd);
        return ok;
    }
};

void tls_handshake() {
    test_certs certs;
    if (test_certs_make(&certs) != 0) std::exit(1);
    tls_server_options so{};
    so.mode = TLS_SERVER_ECHO;
    so.cert_file = certs.server_cert;
    so.key_file = certs.server_key;
    tls_server *srv = tls_server_start(&so);
    if (!srv) std::exit(1);
    int port = tls_server_port(srv);
    char routes[1024];
    std::snprintf(routes, sizeof routes,
                  "[{\"pattern\": \"^svc$\", \"host\": \"localhost\", \"port\": %d, \"tls\": true,"
                  " \"tls_profile\": {\"ca_file\": \"%s\"}}]",
                  port, certs.ca_cert);
    sy_router *r = router_for(routes, "{}", nullptr);
    sy_request *q = request_for(r);
    sy_connect_options opts = SY_STRUCT_INIT(sy_connect_options);
    opts.flags = SY_CONNECT_NO_POOL;
    BareTls bare(certs.ca_cert);
    std::vector<double> b, o;
    for (int i = 0; i < 6; i++) { // interleaved batches, the first one a warm-up
        for (int k = 0; k < 10; k++) {
            uint64_t t0 = bench_now_ns();
            if (!bare.handshake(port)) std::exit(1);
            if (i) b.push_back(static_cast<double>(bench_now_ns() - t0));
        }
        for (int k = 0; k < 10; k++) {
            uint64_t t0 = bench_now_ns();
            sy_conn *c = nullptr;
            if (sy_router_connect(r, q, &opts, &c, nullptr, nullptr) != SY_OK) std::exit(1);
            sy_conn_close(c);
            if (i) o.push_back(static_cast<double>(bench_now_ns() - t0));
        }
    }
    Stats sb = stats_of(b), so2 = stats_of(o);
    std::printf("TLS 1.2 full handshake + close, server in this process (%zu each):\n", o.size());
    std::printf("  bare mbedTLS client    p50 %7.2f ms  p99 %7.2f ms\n", sb.p50 / 1e6, sb.p99 / 1e6);
    std::printf("  sy_router_connect      p50 %7.2f ms  p99 %7.2f ms  (%+.1f%% at the median)\n",
                so2.p50 / 1e6, so2.p99 / 1e6, (so2.p50 / sb.p50 - 1) * 100);
    sy_request_free(q);
    sy_router_free(r);
    tls_server_stop(srv);
    test_certs_cleanup(&certs);
}

// 4. Pooled checkout: connect (from the pool) + release.
struct PoolCtx {
    sy_router *r;
    sy_request *q;
};

double pooled(void *p, long n) {
    auto *c = static_cast<PoolCtx *>(p);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        sy_conn *conn = nullptr;
        if (sy_router_connect(c->r, c->q, nullptr, &conn, nullptr, nullptr) != SY_OK) std::exit(1);
        sy_conn_release(conn);
    }
    return static_cast<double>(bench_now_ns() - t0) / static_cast<double>(n);
}

void pool_checkout(int port) {
    sy_allocator a = {sizeof a, bench_alloc, bench_free, nullptr};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    char routes[256];
    std::snprintf(routes, sizeof routes,
                  "[{\"pattern\": \"^svc$\", \"host\": \"127.0.0.1\", \"port\": %d}]", port);
    PoolCtx c{router_for(routes, "{\"pool\": {\"max_idle\": 4}}", &o), nullptr};
    c.q = request_for(c.r);
    pooled(&c, 10);
    size_t before = g_allocs;
    double ns = bench_median(pooled, &c, 200000);
    size_t ops = 200000 * BENCH_RUNS + 200000 / 10 + 1;
    std::printf("pooled checkout (connect from the pool + release):\n");
    std::printf("  %.0f ns/op, %.3f allocations/op, router memory %zu bytes live\n", ns,
                static_cast<double>(g_allocs - before) / static_cast<double>(ops), g_live);
    sy_request_free(c.q);
    sy_router_free(c.r);
}

} // namespace

int main() {
    echo_server srv;
    int port = echo_server_start(&srv, ECHO_MODE_ECHO);
    if (port <= 0) return 1;
    tcp_connect(port);
    failover(port);
    pool_checkout(port);
    echo_server_stop(&srv);
    tls_handshake();
    return 0;
}
