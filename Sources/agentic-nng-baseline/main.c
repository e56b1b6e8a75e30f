// Every mode ends with _exit instead of nng_close: NNG 1.5.2's close can hang while
// pipes are torn down (nanomsg/nng#1543), and a benchmark must not.
//
// The raw-C baseline of `agentic bench transport`: the same NNG, payload sizes and
// process layout as the Swift side, written the way NNG's own demos are (synchronous
// req for latency, contexts + aio callbacks for concurrency), so the ratio measures
// what the Swift layer adds.
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what, int rv) {
    fprintf(stderr, "agentic-nng-baseline: %s: %s\n", what, nng_strerror(rv));
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Reads one line from stdin within timeout_ms; returns 1 when a line (or EOF) arrived.
static int stdin_ready(int timeout_ms) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

// ---- rep server: one context + aio per concurrent request, echo in the callback ----
struct server_ctx {
    nng_aio *aio;
    nng_ctx ctx;
    int sending;
};

static void server_cb(void *arg) {
    struct server_ctx *s = arg;
    int rv = nng_aio_result(s->aio);
    if (s->sending) {
        if (rv != 0) nng_msg_free(nng_aio_get_msg(s->aio));
        s->sending = 0;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    if (rv != 0) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) return;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    nng_msg *msg = nng_aio_get_msg(s->aio);
    s->sending = 1;
    nng_aio_set_msg(s->aio, msg);
    nng_ctx_send(s->ctx, s->aio);
}

static int serve(const char *url, int contexts) {
    nng_socket sock;
    int rv;
    if ((rv = nng_rep0_open(&sock)) != 0) fail("nng_rep0_open", rv);
    if ((rv = nng_listen(sock, url, NULL, 0)) != 0) fail("nng_listen", rv);
    struct server_ctx *ctxs = calloc((size_t)contexts, sizeof *ctxs);
    for (int i = 0; i < contexts; i++) {
        if ((rv = nng_aio_alloc(&ctxs[i].aio, server_cb, &ctxs[i])) != 0) fail("nng_aio_alloc", rv);
        if ((rv = nng_ctx_open(&ctxs[i].ctx, sock)) != 0) fail("nng_ctx_open", rv);
        nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
    }
    printf("ready\n");
    fflush(stdout);
    // Serve until stdin closes (the bench closes it, or dies).
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {}
    // Exit without nng_close: NNG 1.5.2's close can hang while pipes are torn down
    // (nanomsg/nng#1543), and the process is ending anyway.
    _exit(0);
}

// ---- req latency: synchronous round trips on the socket ----
static int latency(const char *url, size_t size, int count, int warmup) {
    nng_socket sock;
    int rv;
    if ((rv = nng_req0_open(&sock)) != 0) fail("nng_req0_open", rv);
    if ((rv = nng_dial(sock, url, NULL, 0)) != 0) fail("nng_dial", rv);
    uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)count);
    for (int i = -warmup; i < count; i++) {
        nng_msg *msg;
        if ((rv = nng_msg_alloc(&msg, size)) != 0) fail("nng_msg_alloc", rv);
        memset(nng_msg_body(msg), 'x', size);
        uint64_t start = now_ns();
        if ((rv = nng_sendmsg(sock, msg, 0)) != 0) fail("nng_sendmsg", rv);
        if ((rv = nng_recvmsg(sock, &msg, 0)) != 0) fail("nng_recvmsg", rv);
        uint64_t elapsed = now_ns() - start;
        if (nng_msg_len(msg) != size) { fprintf(stderr, "echo size mismatch\n"); exit(2); }
        nng_msg_free(msg);
        if (i >= 0) samples[i] = elapsed;
    }
    qsort(samples, (size_t)count, sizeof(uint64_t), cmp_u64);
    printf("{\"p50_ns\": %llu, \"p99_ns\": %llu, \"count\": %d}\n",
           (unsigned long long)samples[count / 2], (unsigned long long)samples[(size_t)((double)count * 0.99)], count);
    fflush(stdout);
    _exit(0);
}

// ---- req throughput: N contexts, each re-sending from its callback ----
struct client_ctx {
    nng_aio *aio;
    nng_ctx ctx;
    int receiving;
    size_t size;
};
static atomic_ullong completed;
static atomic_int running;

static void client_send(struct client_ctx *c) {
    nng_msg *msg;
    if (nng_msg_alloc(&msg, c->size) != 0) return;
    memset(nng_msg_body(msg), 'x', c->size);
    c->receiving = 0;
    nng_aio_set_msg(c->aio, msg);
    nng_ctx_send(c->ctx, c->aio);
}

static void client_cb(void *arg) {
    struct client_ctx *c = arg;
    int rv = nng_aio_result(c->aio);
    if (rv != 0) {
        if (!c->receiving) nng_msg_free(nng_aio_get_msg(c->aio));
        return;
    }
    if (!c->receiving) {
        c->receiving = 1;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    nng_msg_free(nng_aio_get_msg(c->aio));
    atomic_fetch_add(&completed, 1);
    if (atomic_load(&running)) client_send(c);
}

static int throughput(const char *url, size_t size, int inflight, int duration_ms) {
    nng_socket sock;
    int rv;
    if ((rv = nng_req0_open(&sock)) != 0) fail("nng_req0_open", rv);
    if ((rv = nng_dial(sock, url, NULL, 0)) != 0) fail("nng_dial", rv);
    struct client_ctx *ctxs = calloc((size_t)inflight, sizeof *ctxs);
    for (int i = 0; i < inflight; i++) {
        ctxs[i].size = size;
        if ((rv = nng_aio_alloc(&ctxs[i].aio, client_cb, &ctxs[i])) != 0) fail("nng_aio_alloc", rv);
        if ((rv = nng_ctx_open(&ctxs[i].ctx, sock)) != 0) fail("nng_ctx_open", rv);
    }
    atomic_store(&running, 1);
    // Warm up for a tenth of the run, then count.
    for (int i = 0; i < inflight; i++) client_send(&ctxs[i]);
    nng_msleep((nng_duration)(duration_ms / 10));
    unsigned long long before = atomic_load(&completed);
    uint64_t start = now_ns();
    nng_msleep((nng_duration)duration_ms);
    unsigned long long done = atomic_load(&completed) - before;
    double seconds = (double)(now_ns() - start) / 1e9;
    atomic_store(&running, 0);
    printf("{\"requests\": %llu, \"seconds\": %.6f, \"rps\": %.1f}\n", done, seconds, (double)done / seconds);
    fflush(stdout);
    // See serve(): no nng_close on the way out.
    (void)sock;
    _exit(0);
}

// ---- pub/sub: 'h' hello until the bench says go, COUNT 'd' messages, 'e' end until stopped ----
static int publish(const char *url, size_t size, int count) {
    nng_socket sock;
    int rv;
    if ((rv = nng_pub0_open(&sock)) != 0) fail("nng_pub0_open", rv);
    nng_socket_set_int(sock, NNG_OPT_SENDBUF, 8192);
    if ((rv = nng_listen(sock, url, NULL, 0)) != 0) fail("nng_listen", rv);
    printf("ready\n");
    fflush(stdout);
    char line[64];
    while (!stdin_ready(5)) {
        nng_msg *msg;
        nng_msg_alloc(&msg, size);
        memset(nng_msg_body(msg), 'h', size);
        if (nng_sendmsg(sock, msg, NNG_FLAG_NONBLOCK) != 0) nng_msg_free(msg);
    }
    if (fgets(line, sizeof line, stdin) == NULL) return 1;
    for (int i = 0; i < count; i++) {
        nng_msg *msg;
        nng_msg_alloc(&msg, size);
        memset(nng_msg_body(msg), 'd', size);
        if (nng_sendmsg(sock, msg, NNG_FLAG_NONBLOCK) != 0) nng_msg_free(msg);
    }
    for (int i = 0; i < 5000 && !stdin_ready(1); i++) {
        nng_msg *msg;
        nng_msg_alloc(&msg, size);
        memset(nng_msg_body(msg), 'e', size);
        if (nng_sendmsg(sock, msg, NNG_FLAG_NONBLOCK) != 0) nng_msg_free(msg);
    }
    fflush(stdout);
    _exit(0);
}

static int subscribe(const char *url, int timeout_ms) {
    nng_socket sock;
    int rv;
    if ((rv = nng_sub0_open(&sock)) != 0) fail("nng_sub0_open", rv);
    nng_socket_set_int(sock, NNG_OPT_RECVBUF, 8192);
    nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms);
    if ((rv = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) fail("nng_dial", rv);
    int announced = 0;
    unsigned long long received = 0;
    uint64_t first = 0, last = 0;
    for (;;) {
        nng_msg *msg;
        if ((rv = nng_recvmsg(sock, &msg, 0)) != 0) fail("nng_recvmsg", rv);
        char kind = nng_msg_len(msg) > 0 ? ((char *)nng_msg_body(msg))[0] : 0;
        nng_msg_free(msg);
        if (kind == 'h' && !announced) {
            printf("ready\n");
            fflush(stdout);
            announced = 1;
        } else if (kind == 'd') {
            uint64_t t = now_ns();
            if (received == 0) first = t;
            last = t;
            received++;
        } else if (kind == 'e') {
            break;
        }
    }
    double seconds = received > 1 ? (double)(last - first) / 1e9 : 0;
    printf("{\"received\": %llu, \"seconds\": %.6f, \"rate\": %.1f}\n", received, seconds,
           seconds > 0 ? (double)(received - 1) / seconds : 0);
    fflush(stdout);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], atoi(argv[3]));
    if (argc >= 6 && strcmp(argv[1], "latency") == 0)
        return latency(argv[2], (size_t)atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc >= 6 && strcmp(argv[1], "throughput") == 0)
        return throughput(argv[2], (size_t)atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc >= 5 && strcmp(argv[1], "publish") == 0) return publish(argv[2], (size_t)atol(argv[3]), atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "subscribe") == 0) return subscribe(argv[2], atoi(argv[3]));
    fprintf(stderr,
            "usage: agentic-nng-baseline serve URL CONTEXTS | latency URL SIZE COUNT WARMUP |\n"
            "       throughput URL SIZE INFLIGHT DURATION_MS | publish URL SIZE COUNT | subscribe URL TIMEOUT_MS\n");
    return 64;
}
