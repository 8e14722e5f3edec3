/*
 * loadgen: a single-threaded epoll load generator for chat servers (Flack or IRC).
 *
 * It opens N client connections to 127.0.0.1:PORT, registers each one and joins it to a
 * channel, then waits for commands on stdin (one per line) and answers each with one JSON
 * object on stdout. With several ports (--port P1,P2: nodes of one cluster) the senders
 * connect to the first and the other clients are spread evenly, each to the port with the
 * fewest clients so far (the first on a tie), so every port ends up with about N/ports.
 *
 *
 *   settle [max_s]          wait until no byte has arrived for 200 ms (at most max_s)
 *   run RATE SECONDS [DRAIN] S senders send RATE messages/s in total for SECONDS, then
 *                           wait up to DRAIN seconds for the deliveries still in flight
 *   status                  how many clients are still connected
 *   quit                    say QUIT on every connection and exit (so does EOF on stdin)
 *
 * Every message is exactly 100 bytes of text carrying the step number, the sender, a
 * per-sender sequence number and the CLOCK_MONOTONIC send time in nanoseconds:
 *
 *   BM001 00003 000000042 0000012345678901234 xxxxxxxx...
 *
 * Receivers find it at the end of the line (the last 100 bytes before CRLF), so the same
 * parser works for `MSG #c <id> <ts> <nick> :<text>` and `:nick!u@h PRIVMSG #c :<text>`.
 * Deliveries are counted per receiver, excluding a sender's own echo (Flack echoes, IRC
 * does not), so figures compare. Loss is what was expected and never arrived (per
 * receiver, per sender), reordering is a sequence number lower than one already seen.
 *
 * Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TEXT_LEN 100          /* bytes of message text, exactly */
#define LINE_MAX_IN 2048      /* longest server line we keep while it is incomplete */
#define READ_CHUNK (256 * 1024)
#define SENDER_OUT (256 * 1024)
#define OTHER_OUT 2048
#define MAX_NOTES 8
#define NOTE_LEN 160

/* latency histogram: 10 us buckets up to 100 ms, then 1 ms buckets up to 100 s */
#define FINE_US 10
#define FINE_N 10000
#define COARSE_N 100000
#define HIST_N (FINE_N + COARSE_N + 1)

enum proto { P_FLACK, P_IRC };
enum state { S_CONNECTING, S_WAIT_HELLO, S_WAIT_NICK, S_WAIT_JOIN, S_JOINED, S_DEAD };

struct client {
    int fd;
    int idx;
    int chan;
    int sender;        /* sender slot, or -1 */
    int port;          /* the TCP port it connects to */
    uint8_t state;
    uint16_t inlen;    /* bytes of an incomplete line kept in `in` */
    uint32_t outlen;
    uint32_t outcap;
    char *out;
    char in[LINE_MAX_IN];
};

/* -- options ------------------------------------------------------------------------- */
#define MAX_PORTS 16
static int opt_ports[MAX_PORTS];
static int opt_nports = 0;
static int opt_proto = P_FLACK;
static int opt_clients = 10;
static int opt_senders = 1;
static int opt_channels = 1;
static double opt_connect_rate = 0;   /* connections per second, 0 = as fast as possible */
static int opt_connect_window = 200;  /* connections registering at once */
static double opt_setup_timeout = 60;
static double opt_max_seconds = 900;  /* hard limit on the whole process */
static const char *opt_prefix = "b";
static int opt_quickack = 0;          /* re-arm TCP_QUICKACK after every read */

/* -- state --------------------------------------------------------------------------- */
static struct client *clients;
static int epfd;
static char *rbuf;
static int *chan_members;           /* joined members per channel */
static uint32_t *next_seq;          /* [receiver * senders + sender] */
static uint64_t *sender_seq;        /* per sender slot, this step */
static int step_no = 0;
static int sending = 0;             /* inside a run's sending phase */
static uint64_t bytes_in = 0;       /* all bytes received, ever */
static uint64_t last_rx_ns = 0;

struct stats {
    uint64_t sent, unsent, expected, delivered, echoes, gaps, reordered, stale;
    uint64_t disconnects, flood_notes, other_lines;
    uint64_t first_send_ns, last_delivery_ns;
    uint64_t max_ns;
};
static struct stats st;
static uint32_t hist[HIST_N];
static char notes[MAX_NOTES][NOTE_LEN];
static int nnotes = 0;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* Remember an unexpected server line (BYE, ERROR, ERR, NOTE, ...) for the report. */
static void note(int idx, const char *line, size_t len) {
    if (nnotes >= MAX_NOTES)
        return;
    char clean[NOTE_LEN - 24];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof clean - 1; i++) {
        unsigned char ch = (unsigned char)line[i];
        clean[n++] = (ch >= 32 && ch < 127 && ch != '"' && ch != '\\') ? (char)ch : '?';
    }
    clean[n] = 0;
    for (int i = 0; i < nnotes; i++)
        if (strstr(notes[i], clean))
            return;
    snprintf(notes[nnotes++], NOTE_LEN, "client %d: %.130s", idx, clean);
}

/* -- output buffers ------------------------------------------------------------------ */

static void flush_client(struct client *c) {
    while (c->outlen > 0 && c->state != S_DEAD) {
        ssize_t n = write(c->fd, c->out, c->outlen);
        if (n > 0) {
            if ((uint32_t)n < c->outlen)
                memmove(c->out, c->out + n, c->outlen - (uint32_t)n);
            c->outlen -= (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return; /* EAGAIN, or an error that the reader will see as EOF/reset */
        }
    }
}

static int queue_out(struct client *c, const char *data, size_t len) {
    if (c->outlen + len > c->outcap)
        return 0;
    memcpy(c->out + c->outlen, data, len);
    c->outlen += (uint32_t)len;
    return 1;
}

static void send_line(struct client *c, const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || n > (int)sizeof line - 3)
        return;
    line[n++] = '\r';
    line[n++] = '\n';
    queue_out(c, line, (size_t)n);
    flush_client(c);
}

static void channel_name(int chan, char *out, size_t cap) {
    if (opt_channels == 1)
        snprintf(out, cap, "#bench");
    else
        snprintf(out, cap, "#bench%d", chan);
}

static void kill_client(struct client *c, const char *why) {
    if (c->state == S_DEAD)
        return;
    if (c->state == S_JOINED)
        chan_members[c->chan]--;
    if (why)
        note(c->idx, why, strlen(why));
    c->state = S_DEAD;
    st.disconnects++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

/* -- incoming lines ------------------------------------------------------------------ */

static inline uint64_t parse_digits(const char *p, int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    return v;
}

static inline void put_digits(char *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static inline void record_latency(uint64_t lat_ns) {
    uint64_t us = lat_ns / 1000;
    size_t b;
    if (us < (uint64_t)FINE_US * FINE_N)
        b = us / FINE_US;
    else if (us / 1000 < COARSE_N)
        b = FINE_N + us / 1000;
    else
        b = HIST_N - 1;
    hist[b]++;
    if (lat_ns > st.max_ns)
        st.max_ns = lat_ns;
}

/* Offsets inside the 100-byte text. */
#define OFF_STEP 2
#define OFF_SENDER 6
#define OFF_SEQ 12
#define OFF_TS 22
#define W_STEP 3
#define W_SENDER 5
#define W_SEQ 9
#define W_TS 19

/* A bench message? Then count it and return 1. */
static inline int bench_line(struct client *c, const char *line, size_t len, uint64_t now) {
    if (len < TEXT_LEN + 2)
        return 0;
    const char *t = line + len - TEXT_LEN;
    if (t[0] != 'B' || t[1] != 'M' || t[-1] != ':')
        return 0;
    if ((int)parse_digits(t + OFF_STEP, W_STEP) != step_no % 1000) {
        st.stale++;
        return 1;
    }
    int sender = (int)parse_digits(t + OFF_SENDER, W_SENDER);
    if (sender < 0 || sender >= opt_senders)
        return 1;
    if (sender == c->sender) {
        st.echoes++;
        return 1;
    }
    uint32_t seq = (uint32_t)parse_digits(t + OFF_SEQ, W_SEQ);
    uint64_t ts = parse_digits(t + OFF_TS, W_TS);
    uint32_t *next = &next_seq[(size_t)c->idx * (size_t)opt_senders + (size_t)sender];
    if (seq == *next) {
        (*next)++;
    } else if (seq > *next) {
        st.gaps += seq - *next;
        *next = seq + 1;
    } else {
        st.reordered++;
    }
    st.delivered++;
    st.last_delivery_ns = now;
    record_latency(now > ts ? now - ts : 0);
    return 1;
}

/* The command word of an IRC line (after an optional :prefix). */
static const char *irc_command(const char *line, size_t len, size_t *cmdlen) {
    const char *p = line, *end = line + len;
    if (p < end && *p == ':') {
        p = memchr(p, ' ', (size_t)(end - p));
        if (!p)
            return NULL;
        while (p < end && *p == ' ')
            p++;
    }
    const char *q = memchr(p, ' ', (size_t)(end - p));
    *cmdlen = (size_t)((q ? q : end) - p);
    return p;
}

static int starts(const char *line, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

static void control_line_flack(struct client *c, const char *line, size_t len) {
    char chan[48];
    if (starts(line, len, "PING")) {
        send_line(c, "PONG%.*s", (int)(len - 4), line + 4);
        return;
    }
    if (starts(line, len, "NOTE FLOOD")) {
        st.flood_notes++;
        note(c->idx, line, len);
        return;
    }
    if (starts(line, len, "BYE")) {
        note(c->idx, line, len);
        return;
    }
    switch (c->state) {
    case S_WAIT_HELLO:
        if (starts(line, len, "HELLO")) {
            send_line(c, "NICK %s%d", opt_prefix, c->idx);
            c->state = S_WAIT_NICK;
        }
        return;
    case S_WAIT_NICK:
        if (starts(line, len, "OK NICK")) {
            channel_name(c->chan, chan, sizeof chan);
            send_line(c, "JOIN %s", chan);
            c->state = S_WAIT_JOIN;
        } else if (starts(line, len, "ERR")) {
            note(c->idx, line, len);
            kill_client(c, NULL);
        }
        return;
    case S_WAIT_JOIN:
        if (starts(line, len, "END HISTORY")) {
            c->state = S_JOINED;
            chan_members[c->chan]++;
        } else if (starts(line, len, "ERR")) {
            note(c->idx, line, len);
            kill_client(c, NULL);
        }
        return;
    default:
        if (starts(line, len, "ERR")) {
            note(c->idx, line, len);
            st.other_lines++;
        }
        return;
    }
}

/* Numerics that mean registration or JOIN failed (RFC 2812 5.2). */
static int fatal_numeric(int n) {
    static const int fatal[] = {403, 405, 431, 432, 433, 436, 437, 451, 461, 462, 463,
                                464, 465, 471, 473, 474, 475, 476, 477, 479};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (fatal[i] == n)
            return 1;
    return 0;
}

static void control_line_irc(struct client *c, const char *line, size_t len) {
    char chan[48];
    size_t cl;
    const char *cmd = irc_command(line, len, &cl);
    if (!cmd)
        return;
    if (cl == 4 && memcmp(cmd, "PING", 4) == 0) {
        send_line(c, "PONG%.*s", (int)(len - (size_t)(cmd + 4 - line)), cmd + 4);
        return;
    }
    if (cl == 5 && memcmp(cmd, "ERROR", 5) == 0) {
        note(c->idx, line, len);
        return;
    }
    int numeric = (cl == 3 && cmd[0] >= '0' && cmd[0] <= '9') ? atoi(cmd) : 0;
    if (numeric >= 400 && numeric < 600 && numeric != 422 /* no MOTD */) {
        note(c->idx, line, len);
        if (fatal_numeric(numeric) && (c->state == S_WAIT_NICK || c->state == S_WAIT_JOIN))
            kill_client(c, NULL);
        else
            st.other_lines++;
        return;
    }
    if (c->state == S_WAIT_NICK && numeric == 1) {
        channel_name(c->chan, chan, sizeof chan);
        send_line(c, "JOIN %s", chan);
        c->state = S_WAIT_JOIN;
    } else if (c->state == S_WAIT_JOIN && numeric == 366) {
        c->state = S_JOINED;
        chan_members[c->chan]++;
    }
}

static void on_readable(struct client *c, uint64_t now) {
    size_t keep = c->inlen;
    memcpy(rbuf, c->in, keep);
    ssize_t n = read(c->fd, rbuf + keep, READ_CHUNK);
    if (n == 0) {
        kill_client(c, "connection closed by the server");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            kill_client(c, strerror(errno));
        return;
    }
    bytes_in += (uint64_t)n;
    if (opt_quickack) {
        /* Acknowledge at once instead of delaying the ACK (Linux leaves quick-ack mode on
           its own, so it is re-armed after each read): a server that does not set
           TCP_NODELAY is then not held back by Nagle waiting for our delayed ACK. */
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    last_rx_ns = now;
    char *p = rbuf, *end = rbuf + keep + (size_t)n;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        size_t len = (size_t)(nl - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (!bench_line(c, p, len, now)) {
            if (opt_proto == P_FLACK)
                control_line_flack(c, p, len);
            else
                control_line_irc(c, p, len);
            if (c->state == S_DEAD)
                return;
        }
        p = nl + 1;
    }
    size_t rest = (size_t)(end - p);
    if (rest > LINE_MAX_IN)
        rest = 0; /* an absurd line: drop it rather than grow */
    memcpy(c->in, p, rest);
    c->inlen = (uint16_t)rest;
}

/* -- connections --------------------------------------------------------------------- */

static void start_connect(struct client *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = fd;
    c->state = S_CONNECTING;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        note(c->idx, strerror(errno), strlen(strerror(errno)));
        close(fd);
        c->fd = -1;
        c->state = S_DEAD;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->idx};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void on_connected(struct client *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        kill_client(c, strerror(err));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)c->idx};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    if (opt_proto == P_FLACK) {
        c->state = S_WAIT_HELLO;
    } else {
        c->state = S_WAIT_NICK;
        send_line(c, "NICK %s%d\r\nUSER %s%d 0 * :bench", opt_prefix, c->idx, opt_prefix,
                  c->idx);
    }
}

static struct epoll_event events[1024];

/* One round of the event loop: wait at most timeout_ns, handle what is ready. */
static void poll_ns(uint64_t timeout_ns, int *stdin_ready) {
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000ull),
                          .tv_nsec = (long)(timeout_ns % 1000000000ull)};
    int n = epoll_pwait2(epfd, events, 1024, &ts, NULL);
    if (n < 0) {
        if (errno == EINTR)
            return;
        die("epoll_wait: %s", strerror(errno));
    }
    uint64_t now = now_ns();
    for (int i = 0; i < n; i++) {
        uint32_t id = events[i].data.u32;
        if (id == UINT32_MAX) {
            if (stdin_ready)
                *stdin_ready = 1;
            continue;
        }
        struct client *c = &clients[id];
        if (c->state == S_DEAD)
            continue;
        if (c->state == S_CONNECTING) {
            if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                on_connected(c);
            if (c->state == S_DEAD)
                continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(c, now);
    }
}

static void poll_once(int timeout_ms, int *stdin_ready) {
    poll_ns((uint64_t)timeout_ms * 1000000ull, stdin_ready);
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double seconds_since(uint64_t t0) { return (double)(now_ns() - t0) / 1e9; }

static int count_state(int s) {
    int n = 0;
    for (int i = 0; i < opt_clients; i++)
        n += clients[i].state == s;
    return n;
}

static void print_notes(void) {
    printf(",\"notes\":[");
    for (int i = 0; i < nnotes; i++)
        printf("%s\"%s\"", i ? "," : "", notes[i]);
    printf("]");
}

static void setup(void) {
    uint64_t t0 = now_ns();
    int opened = 0;
    for (;;) {
        int registering = 0, done = 0;
        for (int i = 0; i < opened; i++) {
            int s = clients[i].state;
            if (s == S_JOINED || s == S_DEAD)
                done++;
            else
                registering++;
        }
        if (done == opt_clients)
            break;
        double elapsed = seconds_since(t0);
        if (elapsed > opt_setup_timeout)
            break;
        int allowed = opt_clients;
        if (opt_connect_rate > 0) {
            allowed = (int)(elapsed * opt_connect_rate) + 1;
            if (allowed > opt_clients)
                allowed = opt_clients;
        }
        while (opened < allowed && registering < opt_connect_window) {
            start_connect(&clients[opened++]);
            registering++;
        }
        poll_once(1, NULL);
    }
    double setup_s = seconds_since(t0);
    int joined = count_state(S_JOINED);
    printf("{\"event\":\"ready\",\"clients\":%d,\"joined\":%d,\"failed\":%d,\"setup_s\":%.4f,"
           "\"stuck\":{\"connecting\":%d,\"greeting\":%d,\"registering\":%d,\"joining\":%d,"
           "\"closed\":%d}",
           opt_clients, joined, opt_clients - joined, setup_s, count_state(S_CONNECTING),
           count_state(S_WAIT_HELLO), count_state(S_WAIT_NICK), count_state(S_WAIT_JOIN),
           count_state(S_DEAD));
    print_notes();
    printf("}\n");
    fflush(stdout);
}

/* Wait until nothing has arrived for quiet_ms, at most max_s. Returns the seconds taken. */
static double settle(double max_s, int quiet_ms) {
    uint64_t t0 = now_ns();
    uint64_t quiet_ns = (uint64_t)quiet_ms * 1000000ull;
    last_rx_ns = t0;
    while (seconds_since(t0) < max_s) {
        poll_once(20, NULL);
        if (now_ns() - last_rx_ns >= quiet_ns)
            break;
    }
    return seconds_since(t0);
}

static double percentile(uint64_t total, double q) {
    if (total == 0)
        return 0;
    uint64_t target = (uint64_t)((double)total * q);
    if (target >= total)
        target = total - 1;
    uint64_t acc = 0;
    for (size_t b = 0; b < HIST_N; b++) {
        acc += hist[b];
        if (acc > target) {
            if (b < FINE_N)
                return ((double)b + 0.5) * FINE_US / 1000.0;
            if (b < HIST_N - 1)
                return (double)(b - FINE_N) + 0.5;
            return (double)st.max_ns / 1e6;
        }
    }
    return (double)st.max_ns / 1e6;
}

static char msg_template[512];
static size_t msg_len, text_off;

static void build_template(void) {
    char chan[48];
    channel_name(0, chan, sizeof chan);
    const char *head = opt_proto == P_FLACK ? "MSG " : "PRIVMSG ";
    const char *colon = opt_proto == P_FLACK ? " " : " :";
    int n = snprintf(msg_template, sizeof msg_template, "%s%s%s", head, chan, colon);
    text_off = (size_t)n;
    char *t = msg_template + text_off;
    memset(t, 'x', TEXT_LEN);
    memcpy(t, "BM000 00000 000000000 0000000000000000000 ", 42);
    for (int i = 42; i < TEXT_LEN; i++)
        t[i] = (char)('a' + i % 26);
    t[TEXT_LEN] = '\r';
    t[TEXT_LEN + 1] = '\n';
    msg_len = text_off + TEXT_LEN + 2;
}

static void compose(struct client *c, uint64_t now) {
    char buf[512];
    size_t off = text_off, len = msg_len;
    if (opt_channels == 1) {
        memcpy(buf, msg_template, msg_len);
    } else {
        char chan[48];
        channel_name(c->chan, chan, sizeof chan);
        const char *head = opt_proto == P_FLACK ? "MSG " : "PRIVMSG ";
        const char *colon = opt_proto == P_FLACK ? " " : " :";
        off = (size_t)snprintf(buf, sizeof buf, "%s%s%s", head, chan, colon);
        memcpy(buf + off, msg_template + text_off, TEXT_LEN + 2);
        len = off + TEXT_LEN + 2;
    }
    char *t = buf + off;
    int s = c->sender;
    put_digits(t + OFF_STEP, (uint64_t)(step_no % 1000), W_STEP);
    put_digits(t + OFF_SENDER, (uint64_t)s, W_SENDER);
    put_digits(t + OFF_SEQ, sender_seq[s], W_SEQ);
    put_digits(t + OFF_TS, now, W_TS);
    if (c->state == S_JOINED && queue_out(c, buf, len)) {
        sender_seq[s]++;
        st.sent++;
        st.expected += (uint64_t)(chan_members[c->chan] - 1);
    } else {
        st.unsent++;
    }
}

static void run_step(double rate, double seconds, double drain_max) {
    step_no++;
    memset(&st, 0, sizeof st);
    memset(hist, 0, sizeof hist);
    nnotes = 0;
    memset(next_seq, 0, sizeof(uint32_t) * (size_t)opt_clients * (size_t)opt_senders);
    memset(sender_seq, 0, sizeof(uint64_t) * (size_t)opt_senders);
    int senders_alive = 0;
    for (int i = 0; i < opt_clients; i++)
        senders_alive += clients[i].sender >= 0 && clients[i].state == S_JOINED;
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL); /* pending commands must not wake us */
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    uint64_t end = t0 + (uint64_t)(seconds * 1e9);
    uint64_t generated = 0;
    int next_sender = 0;
    st.first_send_ns = t0;
    sending = 1;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        uint64_t due = (uint64_t)((double)(now - t0) / 1e9 * rate) + 1;
        while (generated < due) {
            compose(&clients[next_sender], now);
            generated++;
            next_sender = (next_sender + 1) % opt_senders;
        }
        for (int s = 0; s < opt_senders; s++)
            if (clients[s].outlen)
                flush_client(&clients[s]);
        /* Sleep until the next message is due (at most 1 ms), or until input arrives. */
        uint64_t next_due = t0 + (uint64_t)((double)generated / rate * 1e9);
        uint64_t after = now_ns();
        uint64_t wait = next_due > after ? next_due - after : 0;
        poll_ns(wait < 1000000ull ? wait : 1000000ull, NULL);
    }
    sending = 0;
    uint64_t send_end = now_ns();
    /* Drain: until everything expected arrived, 1 s of silence, or drain_max. */
    uint64_t drain_end = send_end + (uint64_t)(drain_max * 1e9);
    last_rx_ns = send_end;
    for (;;) {
        int pending = 0;
        for (int s = 0; s < opt_senders; s++)
            if (clients[s].outlen && clients[s].state != S_DEAD) {
                flush_client(&clients[s]);
                pending += clients[s].outlen > 0;
            }
        uint64_t now = now_ns();
        if (!pending && st.delivered >= st.expected)
            break;
        if (now >= drain_end || now - last_rx_ns > 1000000000ull)
            break;
        poll_once(5, NULL);
    }
    uint64_t backlog = 0;
    for (int s = 0; s < opt_senders; s++)
        if (clients[s].state != S_DEAD)
            backlog += clients[s].outlen;
    double drain_s = (double)(now_ns() - send_end) / 1e9;
    double busy = (cpu_seconds() - cpu0) / ((double)(now_ns() - t0) / 1e9);
    uint64_t lost = st.expected > st.delivered ? st.expected - st.delivered : 0;
    uint64_t span_end = st.last_delivery_ns > send_end ? st.last_delivery_ns : send_end;
    double span = (double)(span_end - t0) / 1e9;
    double send_s = (double)(send_end - t0) / 1e9;
    int members = 0;
    for (int ch = 0; ch < opt_channels; ch++)
        members += chan_members[ch];
    printf("{\"event\":\"step\",\"step\":%d,\"rate\":%.1f,\"seconds\":%.3f,\"senders\":%d,"
           "\"members\":%d,\"sent\":%llu,\"unsent\":%llu,\"backlog_bytes\":%llu,"
           "\"expected\":%llu,\"delivered\":%llu,\"lost\":%llu,\"gaps\":%llu,"
           "\"reordered\":%llu,\"echoes\":%llu,\"stale\":%llu,\"disconnects\":%llu,"
           "\"flood_notes\":%llu,\"error_lines\":%llu,"
           "\"offered_deliveries_per_s\":%.1f,\"deliveries_per_s\":%.1f,"
           "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"drain_s\":%.3f,\"loadgen_cpu\":%.3f",
           step_no, rate, send_s, senders_alive, members, (unsigned long long)st.sent,
           (unsigned long long)st.unsent, (unsigned long long)backlog,
           (unsigned long long)st.expected, (unsigned long long)st.delivered,
           (unsigned long long)lost, (unsigned long long)st.gaps,
           (unsigned long long)st.reordered, (unsigned long long)st.echoes,
           (unsigned long long)st.stale, (unsigned long long)st.disconnects,
           (unsigned long long)st.flood_notes, (unsigned long long)st.other_lines,
           send_s > 0 ? (double)st.expected / send_s : 0.0,
           span > 0 ? (double)st.delivered / span : 0.0, percentile(st.delivered, 0.50),
           percentile(st.delivered, 0.90), percentile(st.delivered, 0.99),
           (double)st.max_ns / 1e6, drain_s, busy);
    print_notes();
    printf("}\n");
    fflush(stdout);
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);
}

static void quit_all(void) {
    for (int i = 0; i < opt_clients; i++) {
        struct client *c = &clients[i];
        if (c->state == S_DEAD || c->fd < 0)
            continue;
        if (c->state != S_CONNECTING)
            send_line(c, "QUIT :done");
        shutdown(c->fd, SHUT_WR);
    }
    /* Let the server read the QUITs and close (at most 0.5 s), then close everything. */
    uint64_t t0 = now_ns();
    while (seconds_since(t0) < 0.5 && count_state(S_DEAD) < opt_clients)
        poll_once(10, NULL);
    for (int i = 0; i < opt_clients; i++)
        if (clients[i].fd >= 0)
            close(clients[i].fd);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "loadgen: --max-seconds reached, exiting\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(3);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P[,P...] [--proto flack|irc] [--clients N] [--senders S]\n"
            "               [--channels C] [--connect-rate R] [--connect-window W]\n"
            "               [--setup-timeout S] [--max-seconds S] [--nick-prefix P] [--quickack]\n"
            "then commands on stdin: settle [max_s] | run RATE SECONDS [DRAIN] | status | quit\n");
    exit(2);
}

int main(int argc, char **argv) {
    static struct option longopts[] = {
        {"port", required_argument, 0, 'p'},         {"proto", required_argument, 0, 'P'},
        {"clients", required_argument, 0, 'n'},      {"senders", required_argument, 0, 's'},
        {"channels", required_argument, 0, 'c'},     {"connect-rate", required_argument, 0, 'r'},
        {"connect-window", required_argument, 0, 'w'},
        {"setup-timeout", required_argument, 0, 't'},
        {"max-seconds", required_argument, 0, 'm'}, {"nick-prefix", required_argument, 0, 'x'},
        {"quickack", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': /* one port, or several separated by commas */
            opt_nports = 0;
            for (const char *p = optarg; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
                int port = atoi(p);
                if (port <= 0 || port > 65535 || opt_nports == MAX_PORTS)
                    usage();
                opt_ports[opt_nports++] = port;
            }
            break;
        case 'P':
            if (strcmp(optarg, "flack") == 0)
                opt_proto = P_FLACK;
            else if (strcmp(optarg, "irc") == 0)
                opt_proto = P_IRC;
            else
                usage();
            break;
        case 'n': opt_clients = atoi(optarg); break;
        case 's': opt_senders = atoi(optarg); break;
        case 'c': opt_channels = atoi(optarg); break;
        case 'r': opt_connect_rate = atof(optarg); break;
        case 'w': opt_connect_window = atoi(optarg); break;
        case 't': opt_setup_timeout = atof(optarg); break;
        case 'm': opt_max_seconds = atof(optarg); break;
        case 'x': opt_prefix = optarg; break;
        case 'q': opt_quickack = 1; break;
        default: usage();
        }
    }
    if (opt_nports < 1 || opt_clients < 1 || opt_channels < 1 ||
        opt_senders < 0 || opt_senders > opt_clients || opt_senders > 99999 ||
        opt_connect_window < 1 || strlen(opt_prefix) > 8)
        usage();

    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)opt_max_seconds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    rbuf = malloc(LINE_MAX_IN + READ_CHUNK);
    clients = calloc((size_t)opt_clients, sizeof *clients);
    chan_members = calloc((size_t)opt_channels, sizeof *chan_members);
    next_seq = calloc((size_t)opt_clients * (size_t)(opt_senders ? opt_senders : 1), 4);
    sender_seq = calloc((size_t)(opt_senders ? opt_senders : 1), 8);
    if (!rbuf || !clients || !chan_members || !next_seq || !sender_seq)
        die("out of memory");
    int per_port[MAX_PORTS] = {0};
    for (int i = 0; i < opt_clients; i++) {
        struct client *c = &clients[i];
        c->idx = i;
        c->fd = -1;
        c->chan = i % opt_channels;
        c->sender = i < opt_senders ? i : -1;
        int slot = 0;
        for (int k = 1; c->sender < 0 && k < opt_nports; k++)
            if (per_port[k] < per_port[slot])
                slot = k;
        per_port[slot]++;
        c->port = opt_ports[slot];
        c->outcap = c->sender >= 0 ? SENDER_OUT : OTHER_OUT;
        c->out = malloc(c->outcap);
        if (!c->out)
            die("out of memory");
    }
    build_template();
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);

    setup();

    /* Command loop: serve the connections (PINGs) while waiting for stdin. */
    char cmd[256];
    size_t cmdlen = 0;
    for (;;) {
        int ready = 0;
        poll_once(100, &ready);
        if (!ready)
            continue;
        ssize_t n = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
        if (n <= 0)
            break;
        cmdlen += (size_t)n;
        cmd[cmdlen] = 0;
        char *nl;
        int stop = 0;
        while ((nl = strchr(cmd, '\n')) != NULL) {
            *nl = 0;
            double a = 0, b = 0, c = 5;
            if (sscanf(cmd, "run %lf %lf %lf", &a, &b, &c) >= 2 && a > 0 && b > 0 &&
                opt_senders > 0) {
                run_step(a, b, c);
            } else if (strncmp(cmd, "settle", 6) == 0) {
                double max_s = 10;
                sscanf(cmd, "settle %lf", &max_s);
                double took = settle(max_s, 200);
                printf("{\"event\":\"settled\",\"seconds\":%.3f}\n", took);
                fflush(stdout);
            } else if (strcmp(cmd, "status") == 0) {
                printf("{\"event\":\"status\",\"joined\":%d,\"dead\":%d,\"bytes_in\":%llu}\n",
                       count_state(S_JOINED), count_state(S_DEAD),
                       (unsigned long long)bytes_in);
                fflush(stdout);
            } else if (strcmp(cmd, "quit") == 0) {
                stop = 1;
            } else if (cmd[0]) {
                printf("{\"event\":\"error\",\"error\":\"unknown command\"}\n");
                fflush(stdout);
            }
            size_t used = (size_t)(nl + 1 - cmd);
            memmove(cmd, nl + 1, cmdlen - used + 1);
            cmdlen -= used;
        }
        if (stop)
            break;
        if (cmdlen >= sizeof cmd - 1)
            cmdlen = 0;
    }
    quit_all();
    return 0;
}
