/*
 * The three-language example, in C (Go: examples/go, Rust: examples/rust):
 * load a config with a real plugin chain, plan a request, connect to a
 * loopback server the example starts itself, print the plan and the
 * attempts, and exchange a line over the connection.
 *
 *   connect [PLUGIN_DIR]        (default: $SY_PLUGIN_DIR, else build/plugins)
 *
 * The plan has two targets for node "svc": a port nobody listens on, then
 * the example's own server, so the connect shows a fail-over.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <switchyard/switchyard.h>

/* A one-connection echo server on 127.0.0.1; returns its port. */
static int listen_fd = -1;

static void *echo_once(void *arg) {
    (void)arg;
    int c = accept(listen_fd, NULL, NULL);
    char buf[256];
    ssize_t n;
    while (c >= 0 && (n = recv(c, buf, sizeof buf, 0)) > 0) send(c, buf, (size_t)n, 0);
    if (c >= 0) close(c);
    return NULL;
}

static int loopback_port(int listening) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0 || (listening && listen(fd, 4) != 0)) {
        perror("socket");
        exit(1);
    }
    if (listening) listen_fd = fd;
    else close(fd); /* a port that was free a moment ago: connecting is refused */
    return ntohs(a.sin_port);
}

static int fail(const char *what, int rc, const sy_error *err) {
    fprintf(stderr, "%s: %s: %s%s%s\n", what, sy_status_name(rc), err->path, err->path[0] ? ": " : "",
            err->message);
    return 1;
}

int main(int argc, char **argv) {
    const char *plugins = argc > 1 ? argv[1] : getenv("SY_PLUGIN_DIR");
    if (!plugins) plugins = "build/plugins";
    int live = loopback_port(1), dead = loopback_port(0);
    pthread_t server;
    pthread_create(&server, NULL, echo_once, NULL);

    char config[1024];
    snprintf(config, sizeof config,
             "{\"plugin_path\": [\"%s\"],"
             " \"selector\": {\"plugin\": \"static_routes\", \"config\": {\"routes\": ["
             "  {\"pattern\": \"^svc$\", \"weight\": 20, \"host\": \"127.0.0.1\", \"port\": %d},"
             "  {\"pattern\": \"^sv.$\", \"weight\": 10, \"host\": \"127.0.0.1\", \"port\": %d}]}},"
             " \"connect\": {\"timeout_ms\": 1000}}",
             plugins, dead, live);
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *router = NULL;
    sy_request *req = NULL;
    int rc = sy_router_new(config, strlen(config), NULL, &router, &err);
    if (rc) return fail("config", rc, &err);
    if ((rc = sy_request_new(router, &req, &err)) || (rc = sy_request_set_node(req, "svc")))
        return fail("request", rc, &err);

    sy_plan_storage storage;
    sy_plan *plan = NULL;
    sy_target t = SY_STRUCT_INIT(sy_target);
    if ((rc = sy_plan_init(router, req, &storage, sizeof storage, &plan, &err))) return fail("plan", rc, &err);
    printf("plan:\n");
    for (int i = 1; (rc = sy_plan_next(plan, &t)) == 1; i++)
        printf("  %d  %s  %s:%u  via %s\n", i, t.node, t.host, t.port, t.via[0]);
    sy_plan_release(plan);

    sy_attempt attempts[4];
    sy_connect_result res = SY_STRUCT_INIT(sy_connect_result);
    res.attempts = attempts;
    res.attempt_cap = 4;
    sy_conn *conn = NULL;
    rc = sy_router_connect(router, req, NULL, &conn, &res, &err);
    printf("attempts:\n");
    for (size_t i = 0; i < res.attempt_count && i < 4; i++)
        printf("  %zu  %s  %s:%u  %s  %.3f ms%s%s\n", i + 1, attempts[i].node, attempts[i].host,
               attempts[i].port, attempts[i].status ? sy_status_name(attempts[i].status) : "connected",
               (double)attempts[i].elapsed_ns / 1e6, attempts[i].message[0] ? "  " : "",
               attempts[i].message);
    if (rc) return fail("connect", rc, &err);

    char buf[8] = {0};
    size_t got = 0;
    if ((rc = sy_conn_send(conn, "ping", 4, 1000, &err)) ||
        (rc = sy_conn_recv(conn, buf, 4, 1000, &got, &err)))
        return fail("echo", rc, &err);
    printf("echo: %.*s\n", (int)got, buf);
    sy_conn_close(conn);
    pthread_join(server, NULL);
    close(listen_fd);
    sy_request_free(req);
    sy_router_free(router);
    return strncmp(buf, "ping", 4) != 0;
}
