/*
 * Baseline for the pexd message-rate benchmark (scripts/bench.sh): the least a libuv server can do
 * with pex framing. One loop, one thread, like pexd. Each connection's stream is split into frames
 * (minimal varint length prefix of at most 5 bytes, then the body, docs/PROTOCOL.md §4); every
 * complete frame is echoed unchanged. No decoding, validation, state or rate limits.
 *
 *   echo_server PORT [frame|batch]
 *       listens on 127.0.0.1:PORT (0: any free port), prints "port N", runs until SIGTERM/SIGINT.
 *       frame (default): one uv_write per frame, as pexd answers each message with its own write,
 *                        so the gap to pexd is what decoding and the protocol cost;
 *       batch:           the frames completed by one read go back in one write, the floor of
 *                        what one libuv loop can do with this framing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_FRAME (256 * 1024)          /* the protocol's largest frame (maxFrameSize) */
#define BUFFER_SIZE (MAX_FRAME + 5 + 65536)

typedef struct {
    uv_tcp_t tcp;
    unsigned char *buffer; /* bytes read and not yet part of an echoed frame */
    size_t used;
} connection;

typedef struct {
    uv_write_t request;
    uv_buf_t buf;
} write_request;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;
static int batch;

static void on_closed(uv_handle_t *handle) {
    connection *c = (connection *)handle;
    free(c->buffer);
    free(c);
}

static void on_written(uv_write_t *request, int status) {
    (void)status;
    write_request *w = (write_request *)request;
    free(w->buf.base);
    free(w);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    connection *c = (connection *)handle;
    *buf = uv_buf_init((char *)c->buffer + c->used, (unsigned)(BUFFER_SIZE - c->used));
}

/* Queues a copy of len bytes for writing; 0 on success. */
static int echo(uv_stream_t *stream, const unsigned char *bytes, size_t len) {
    write_request *w = malloc(sizeof *w);
    char *copy = malloc(len);
    if (!w || !copy) abort();
    memcpy(copy, bytes, len);
    w->buf = uv_buf_init(copy, (unsigned)len);
    if (uv_write(&w->request, stream, &w->buf, 1, on_written) != 0) {
        free(copy);
        free(w);
        return -1;
    }
    return 0;
}

/* Length of the complete frames at the start of buf (prefix included); -1 on a bad prefix.
 * Unless batching, each complete frame is echoed as it is found. */
static long complete_frames(uv_stream_t *stream, const unsigned char *buf, size_t len) {
    size_t at = 0;
    for (;;) {
        unsigned long length = 0;
        size_t i = 0;
        for (;; i++) {
            if (i == 5) return -1;
            if (at + i >= len) return (long)at;
            length |= (unsigned long)(buf[at + i] & 0x7f) << (7 * i);
            if (!(buf[at + i] & 0x80)) break;
        }
        if (length == 0 || length > MAX_FRAME) return -1;
        if (at + i + 1 + length > len) return (long)at;
        if (!batch && echo(stream, buf + at, i + 1 + length) != 0) return -1;
        at += i + 1 + length;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    connection *c = (connection *)stream;
    if (nread < 0) {
        uv_close((uv_handle_t *)stream, on_closed);
        return;
    }
    c->used += (size_t)nread;
    long done = complete_frames(stream, c->buffer, c->used);
    if (done < 0 || (batch && done > 0 && echo(stream, c->buffer, (size_t)done) != 0)) {
        uv_close((uv_handle_t *)stream, on_closed);
        return;
    }
    if (done == 0) return;
    memmove(c->buffer, c->buffer + done, c->used - (size_t)done);
    c->used -= (size_t)done;
}

static void on_connection(uv_stream_t *listener, int status) {
    if (status < 0) return;
    connection *c = calloc(1, sizeof *c);
    if (!c || !(c->buffer = malloc(BUFFER_SIZE))) abort();
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    /* The same socket options as pexd's connections. */
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_any(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (uv_is_closing(handle)) return;
    uv_close(handle, handle->type == UV_TCP && handle != (uv_handle_t *)&server ? on_closed : NULL);
}

static void on_signal(uv_signal_t *handle, int signum) {
    (void)handle;
    (void)signum;
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "frame") && strcmp(argv[2], "batch"))) {
        fprintf(stderr, "usage: echo_server PORT [frame|batch]\n");
        return 2;
    }
    batch = argc == 3 && !strcmp(argv[2], "batch");
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up mid-write must not kill the server */
    loop = uv_default_loop();
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &address);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&address, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "echo_server: %s\n", uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int length = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &length);
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
