// SPDX-License-Identifier: GPL-2.0
/*
 * fault_proxy: sits between `kmigctl migrate` and `kmigctl incoming`,
 * forwards the migration stream (Documentation/stream-format.md) frame by
 * frame in both directions of every connection, and injects one fault at
 * a chosen protocol step: the Nth frame of one type on one kind of channel
 * is dropped, delayed, cut, damaged, or the whole migration goes silent;
 * cut-all cuts every connection at once (a network that breaks), and
 * the ones that come after it too.
 *
 *   fault_proxy --listen ADDR --to ADDR --fault ACTION@FRAME[#N]
 *               [--channel main|data] [--log FILE] [--record FILE]
 *   fault_proxy --raw --listen ADDR --to ADDR --fault flip-byte=N|none
 *               [--conn K] [--log FILE] [--record FILE]
 *
 * It prints "fault_proxy: listening on ADDR" once it accepts connections
 * and "fault_proxy: fired ACTION at FRAME#N on CHANNEL (DIRECTION)" when
 * the fault happens, each one line on stdout, flushed: the selftests wait
 * for those lines. Errors go to stderr. It runs until killed.
 *
 * Two threads per connection, one per direction. Each reads a whole frame
 * before it forwards it, so a fault always applies to exactly one frame.
 *
 * --raw is for streams it cannot parse (TLS): bytes go through as they
 * come, and flip-byte=N flips the lowest bit of the byte at offset N (0:
 * the first) of the source->destination direction of connection K
 * (--conn, default 2: the first data channel; connections are numbered
 * from 1 in the order they were accepted). It says "fired flip-byte=N at
 * byte N on conn K (source->destination)".
 *
 * --record FILE writes the source->destination bytes of the first
 * connection (the main channel) to FILE exactly as they arrived, before
 * any fault: a test replays them later as an attacker who listened in.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PREAMBLE_LEN	16
#define HDR_LEN		8
/* DEVICE_STATE's 16 MiB bound, and room for anything a little larger. */
#define MAX_FRAME	(17U << 20)
#define CONNECT_MS	30000
#define RETRY_MS	50
#define GPA_OUTSIDE	0xfff0000000ULL
#define LENGTH_HUGE	0x7fffffffU
#define RAW_CHUNK	(64U << 10)

enum { HELLO = 1, RAM = 4, SYNC = 5, AUTH_INIT = 14 };
/* AUTH_INIT: Ns (32 bytes), session id (u64), then the channel (u32). */
#define AUTH_INIT_CHANNEL	40

/* Where a frame type may travel. */
#define ON_MAIN		0x1
#define ON_DATA		0x2
#define ON_BOTH		(ON_MAIN | ON_DATA)

static const struct frame_type {
	const char *name;
	unsigned int where;
	bool empty;		/* always len 0: nothing to flip */
} frame_types[] = {
	[1] = { "HELLO", ON_BOTH, false },
	[2] = { "ACCEPT", ON_BOTH, true },
	[3] = { "REJECT", ON_BOTH, false },
	[4] = { "RAM", ON_DATA, false },
	[5] = { "SYNC", ON_DATA, false },
	[6] = { "END", ON_BOTH, true },
	[7] = { "DEVICE_STATE", ON_MAIN, false },
	[8] = { "READY", ON_MAIN, true },
	[9] = { "GO", ON_MAIN, true },
	[10] = { "ACK", ON_MAIN, false },
	[11] = { "ABORT", ON_MAIN, false },
	[12] = { "LOADED", ON_MAIN, false },
	[13] = { "KEEPALIVE", ON_MAIN, true },
	/* --auth-key: between the preamble and HELLO, on every channel */
	[14] = { "AUTH_INIT", ON_BOTH, false },
	[15] = { "AUTH_CHALLENGE", ON_BOTH, false },
	[16] = { "AUTH_PROOF", ON_BOTH, false },
	[17] = { "AUTH_OK", ON_BOTH, true },
	[18] = { "DISCARD", ON_MAIN, false },
	[19] = { "POSTCOPY", ON_MAIN, false },
	[20] = { "REQUEST", ON_DATA, false },
	[21] = { "DONE", ON_MAIN, true },
};

#define NR_TYPES	(sizeof(frame_types) / sizeof(frame_types[0]))

enum action {
	ACT_NONE,
	ACT_DROP,
	ACT_DELAY,
	ACT_CUT,
	ACT_CUT_ALL,
	ACT_SILENCE,
	ACT_CORRUPT_GPA,
	ACT_CORRUPT_LENGTH,
	ACT_TRUNCATE,
	ACT_FLIP,
	ACT_FLIP_BYTE,
};

static const char *const action_names[] = {
	[ACT_NONE] = "none",
	[ACT_DROP] = "drop",
	[ACT_DELAY] = "delay",
	[ACT_CUT] = "cut",
	[ACT_CUT_ALL] = "cut-all",
	[ACT_SILENCE] = "silence",
	[ACT_CORRUPT_GPA] = "corrupt-gpa",
	[ACT_CORRUPT_LENGTH] = "corrupt-length",
	[ACT_TRUNCATE] = "truncate",
	[ACT_FLIP] = "flip",
	[ACT_FLIP_BYTE] = "flip-byte",
};

enum kind { KIND_UNKNOWN, KIND_MAIN, KIND_DATA, KIND_NONE };

/* The fault, from --fault and --channel. */
static struct {
	enum action act;
	char text[32];		/* the ACTION as given, for the fired line */
	unsigned int delay_ms;
	uint32_t type;
	unsigned long nth;
	enum kind kind;
	unsigned long long byte;	/* flip-byte=N */
	int conn;			/* --conn K */
} fault = { .conn = 2 };

/* --raw: bytes are forwarded as they come, no frame is parsed. */
static bool raw;

struct addr {
	int family;
	struct sockaddr_storage sa;
	socklen_t len;
	char text[160];
};

static struct addr to_addr;

/* Guards everything below, and each connection's kind. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kind_known = PTHREAD_COND_INITIALIZER;
static unsigned long seen;	/* frames that matched the fault so far */
static bool fired;
static bool silent;		/* silence fired: nothing moves any more */
static FILE *log_file;
static FILE *record_file;	/* --record; written by conn 1's source side */
static uint64_t start_ms;

struct conn {
	struct conn *next;	/* every live connection; under lock */
	int id;
	int src_fd, dst_fd;
	enum kind kind;		/* from HELLO or AUTH_INIT; under lock */
	int channel;		/* the channel number they carry */
	int refs;		/* pumps still running; under lock */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fault_proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* One line on stdout, flushed at once: tests poll the file for it. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	flockfile(stdout);
	fputs("fault_proxy: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
	va_end(ap);
}

static const char *type_name(uint32_t type, char *buf, size_t n)
{
	if (type < NR_TYPES && frame_types[type].name)
		return frame_types[type].name;
	snprintf(buf, n, "TYPE%u", type);
	return buf;
}

static const char *dir_name(bool up)
{
	return up ? "source->destination" : "destination->source";
}

static const char *kind_name(enum kind k)
{
	return k == KIND_MAIN ? "main" : k == KIND_DATA ? "data" : "unknown";
}

/* --log: one line per frame that went through, and what was done to it. */
static void log_frame(struct conn *c, bool up, uint32_t type, uint32_t len,
		      const char *what)
{
	uint64_t t = now_ms() - start_ms;
	char tn[16];

	if (!log_file)
		return;
	flockfile(log_file);
	fprintf(log_file, "%llu.%03llu conn %d %s %d %s %s len %u%s%s\n",
		(unsigned long long)(t / 1000), (unsigned long long)(t % 1000),
		c->id, kind_name(c->kind), c->channel, dir_name(up),
		type_name(type, tn, sizeof(tn)), len, what ? ": " : "",
		what ? what : "");
	fflush(log_file);
	funlockfile(log_file);
}

/* --log in --raw mode: one line per chunk forwarded. */
static void log_chunk(struct conn *c, bool up, unsigned long long off,
		      size_t len, const char *what)
{
	uint64_t t = now_ms() - start_ms;

	if (!log_file)
		return;
	flockfile(log_file);
	fprintf(log_file, "%llu.%03llu conn %d raw %s bytes %llu..%llu%s%s\n",
		(unsigned long long)(t / 1000), (unsigned long long)(t % 1000),
		c->id, dir_name(up), off, off + len, what ? ": " : "",
		what ? what : "");
	fflush(log_file);
	funlockfile(log_file);
}

/* --record: what the source sent on the first connection, as it came. */
static void record(struct conn *c, bool up, const void *buf, size_t len)
{
	if (!record_file || !up || c->id != 1 || !len)
		return;
	flockfile(record_file);
	if (fwrite(buf, 1, len, record_file) != len || fflush(record_file))
		err("--record: %s", strerror(errno));
	funlockfile(record_file);
}

/*
 * A silenced proxy keeps every socket open and reads nothing more: the
 * thread that gets here stays until the process is killed.
 */
static void __attribute__((noreturn)) park(void)
{
	for (;;)
		pause();
}

static void park_if_silent(void)
{
	bool s;

	pthread_mutex_lock(&lock);
	s = silent;
	pthread_mutex_unlock(&lock);
	if (s)
		park();
}

static bool read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

/* Header and payload in one send: no Nagle wait between the two. */
static bool send_full(int fd, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	struct iovec iov[2] = {
		{ (void *)a, alen },
		{ (void *)b, blen },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	while (iov[0].iov_len + iov[1].iov_len) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		size_t k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		for (k = 0; k < 2; k++) {
			size_t step = (size_t)n < iov[k].iov_len ?
				      (size_t)n : iov[k].iov_len;

			iov[k].iov_base = (char *)iov[k].iov_base + step;
			iov[k].iov_len -= step;
			n -= step;
		}
		if (!iov[0].iov_len) {
			msg.msg_iov = &iov[1];
			msg.msg_iovlen = 1;
		}
	}
	return true;
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, v);
	put_le32(p + 4, v >> 32);
}

static void set_kind(struct conn *c, enum kind k, int channel)
{
	pthread_mutex_lock(&lock);
	if (c->kind == KIND_UNKNOWN) {
		c->kind = k;
		c->channel = channel;
		pthread_cond_broadcast(&kind_known);
	}
	pthread_mutex_unlock(&lock);
}

/*
 * The destination speaks only after the source's HELLO went through, but
 * its thread may read that answer before the other thread noted the
 * HELLO's channel: wait for it. Bounded: the source's thread sets the
 * kind on its first frame or when it ends.
 */
static enum kind wait_kind(struct conn *c)
{
	enum kind k;

	pthread_mutex_lock(&lock);
	while (c->kind == KIND_UNKNOWN)
		pthread_cond_wait(&kind_known, &lock);
	k = c->kind;
	pthread_mutex_unlock(&lock);
	return k;
}

/*
 * Whether this frame is the one: the Nth of the fault's type on its kind
 * of channel, counted over all connections, either direction. A silence
 * takes effect here, before the line is printed, so that nothing else
 * moves once the test can see it fired.
 */
static bool is_the_frame(struct conn *c, bool up, uint32_t type)
{
	unsigned long n;
	char tn[16];

	pthread_mutex_lock(&lock);
	if (fault.act == ACT_NONE || fired || type != fault.type ||
	    c->kind != fault.kind || ++seen < fault.nth) {
		pthread_mutex_unlock(&lock);
		return false;
	}
	fired = true;
	n = seen;
	if (fault.act == ACT_SILENCE)
		silent = true;
	pthread_mutex_unlock(&lock);
	say("fired %s at %s#%lu on %s (%s)", fault.text,
	    type_name(type, tn, sizeof(tn)), n, kind_name(c->kind),
	    dir_name(up));
	return true;
}

/* Either side gone (or cut): both connections go, in both directions. */
static void shut_both(struct conn *c)
{
	shutdown(c->src_fd, SHUT_RDWR);
	shutdown(c->dst_fd, SHUT_RDWR);
}

static struct conn *live;	/* under lock */
static bool all_cut;		/* cut-all fired: newcomers are cut too */

/* cut-all: the network between the two sides is gone. */
static void shut_all(void)
{
	pthread_mutex_lock(&lock);
	all_cut = true;
	for (struct conn *c = live; c; c = c->next)
		shut_both(c);
	pthread_mutex_unlock(&lock);
}

static void conn_put(struct conn *c)
{
	bool last;

	pthread_mutex_lock(&lock);
	last = !--c->refs;
	if (last) {
		struct conn **pp = &live;

		while (*pp && *pp != c)
			pp = &(*pp)->next;
		if (*pp)
			*pp = c->next;
	}
	pthread_mutex_unlock(&lock);
	if (last) {
		close(c->src_fd);
		close(c->dst_fd);
		free(c);
	}
}

/* Grows *@buf to @len bytes; false when out of memory. */
static bool reserve(uint8_t **buf, size_t *cap, size_t len)
{
	uint8_t *b;

	if (len <= *cap)
		return true;
	b = realloc(*buf, len);
	if (!b)
		return false;
	*buf = b;
	*cap = len;
	return true;
}

/* CRC-32C, bit by bit: the proxy reseals only the frames it damages. */
static uint32_t crc32c_bits(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;
	}
	return ~crc;
}

/*
 * A RAM frame's checksum (stream format 3) over its count, records and
 * data: recomputed after corrupt-gpa, which plays a hostile source whose
 * frames are well-formed, not a damaged wire (flip stays unsealed).
 */
static void reseal_ram(uint8_t *buf, uint32_t len)
{
	if (len < 8)
		return;
	put_le32(buf + 4, crc32c_bits(crc32c_bits(0, buf, 4), buf + 8, len - 8));
}

/*
 * Applies the fault to the frame in @hdr/@buf and forwards what is left.
 * Returns false when this direction must end (the connection goes).
 */
static bool fault_frame(struct conn *c, bool up, int to, uint8_t *hdr,
			uint8_t *buf, uint32_t len)
{
	uint32_t type = get_le32(hdr);

	switch (fault.act) {
	case ACT_DROP:
		log_frame(c, up, type, len, "dropped");
		return true;
	case ACT_DELAY:
		log_frame(c, up, type, len, "delayed");
		sleep_ms(fault.delay_ms);
		return send_full(to, hdr, HDR_LEN, buf, len);
	case ACT_CUT:
		log_frame(c, up, type, len, "cut");
		shut_both(c);
		return false;
	case ACT_CUT_ALL:
		log_frame(c, up, type, len, "cut with every connection");
		shut_all();
		return false;
	case ACT_SILENCE:
		log_frame(c, up, type, len, "silence");
		park();
	case ACT_CORRUPT_GPA:
		/* Record 0's gpa, after the n/reserved words. */
		if (len >= 16) {
			put_le64(buf + 8, GPA_OUTSIDE);
			if (type == RAM)
				reseal_ram(buf, len);
		}
		log_frame(c, up, type, len, "gpa corrupted");
		return send_full(to, hdr, HDR_LEN, buf, len);
	case ACT_CORRUPT_LENGTH:
		put_le32(hdr + 4, LENGTH_HUGE);
		log_frame(c, up, type, len, "length corrupted");
		return send_full(to, hdr, HDR_LEN, buf, len);
	case ACT_TRUNCATE:
		log_frame(c, up, type, len, "truncated");
		send_full(to, hdr, HDR_LEN, buf, len / 2);
		shut_both(c);
		return false;
	case ACT_FLIP:
		if (len)
			buf[len - 1] ^= 0x01;
		log_frame(c, up, type, len, "bit flipped");
		return send_full(to, hdr, HDR_LEN, buf, len);
	case ACT_NONE:
	case ACT_FLIP_BYTE:	/* --raw only */
		break;
	}
	return send_full(to, hdr, HDR_LEN, buf, len);
}

/* One direction of one connection: preamble, then frame after frame. */
static void pump(struct conn *c, bool up)
{
	int from = up ? c->src_fd : c->dst_fd;
	int to = up ? c->dst_fd : c->src_fd;
	uint8_t pre[PREAMBLE_LEN], hdr[HDR_LEN], *buf = NULL;
	size_t cap = 0;
	char tn[16];

	if (!read_full(from, pre, sizeof(pre)))
		goto out;
	record(c, up, pre, sizeof(pre));
	park_if_silent();
	if (!send_full(to, pre, sizeof(pre), NULL, 0))
		goto out;
	while (read_full(from, hdr, sizeof(hdr))) {
		uint32_t type = get_le32(hdr), len = get_le32(hdr + 4);

		if (len > MAX_FRAME) {
			err("conn %d %s: %s frame of %u bytes (more than %u): closing",
			    c->id, dir_name(up), type_name(type, tn, sizeof(tn)),
			    len, MAX_FRAME);
			break;
		}
		if (!reserve(&buf, &cap, len)) {
			err("conn %d: no memory for a %u-byte frame", c->id, len);
			break;
		}
		if (!read_full(from, buf, len))
			break;
		record(c, up, hdr, sizeof(hdr));
		record(c, up, buf, len);
		if (up && type == HELLO && len >= 12) {
			int ch = get_le32(buf + 8);

			set_kind(c, ch ? KIND_DATA : KIND_MAIN, ch);
		} else if (up && type == AUTH_INIT &&
			   len >= AUTH_INIT_CHANNEL + 4) {
			/* --auth-key: the channel is known before HELLO. */
			int ch = get_le32(buf + AUTH_INIT_CHANNEL);

			set_kind(c, ch ? KIND_DATA : KIND_MAIN, ch);
		} else if (up) {
			set_kind(c, KIND_NONE, -1);
		} else {
			wait_kind(c);
		}
		park_if_silent();
		if (is_the_frame(c, up, type)) {
			if (!fault_frame(c, up, to, hdr, buf, len))
				break;
			continue;
		}
		log_frame(c, up, type, len, NULL);
		if (!send_full(to, hdr, sizeof(hdr), buf, len))
			break;
	}
out:
	free(buf);
	if (up)
		set_kind(c, KIND_NONE, -1);	/* no HELLO is coming */
	/* A silent proxy closes nothing: a partition, not a reset. */
	park_if_silent();
	shut_both(c);
}

/*
 * --raw: one direction of one connection, chunk by chunk as read; the
 * flip-byte fault, if this is its connection and direction, on the way.
 */
static void pump_raw(struct conn *c, bool up)
{
	int from = up ? c->src_fd : c->dst_fd;
	int to = up ? c->dst_fd : c->src_fd;
	bool mine = up && fault.act == ACT_FLIP_BYTE && c->id == fault.conn;
	unsigned long long off = 0;
	uint8_t *buf = malloc(RAW_CHUNK);

	if (!buf) {
		err("conn %d: no memory", c->id);
		shut_both(c);
		return;
	}
	for (;;) {
		ssize_t n = read(from, buf, RAW_CHUNK);
		const char *what = NULL;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		record(c, up, buf, n);
		if (mine && fault.byte >= off && fault.byte < off + n) {
			buf[fault.byte - off] ^= 0x01;
			what = "bit flipped";
			pthread_mutex_lock(&lock);
			fired = true;
			pthread_mutex_unlock(&lock);
			say("fired %s at byte %llu on conn %d (%s)", fault.text,
			    fault.byte, c->id, dir_name(up));
		}
		log_chunk(c, up, off, n, what);
		if (!send_full(to, buf, n, NULL, 0))
			break;
		off += n;
	}
	free(buf);
	shut_both(c);
}

static void *down_main(void *arg)
{
	struct conn *c = arg;

	if (raw)
		pump_raw(c, false);
	else
		pump(c, false);
	conn_put(c);
	return NULL;
}

static int try_connect(const struct addr *a)
{
	int fd, one = 1, ret;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* kmigctl's small switchover frames must not wait for Nagle. */
	if (a->family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Retries while nobody listens yet, as kmigctl migrate does. */
static int connect_retry(const struct addr *a)
{
	uint64_t end = now_ms() + CONNECT_MS;
	int fd;

	for (;;) {
		fd = try_connect(a);
		if (fd >= 0 || (fd != -ECONNREFUSED && fd != -ENOENT &&
				fd != -EINTR) || now_ms() >= end)
			return fd;
		sleep_ms(RETRY_MS);
	}
}

/* A new connection from the source: connect onwards, then pump both ways. */
static void *conn_main(void *arg)
{
	struct conn *c = arg;
	pthread_t t;
	int ret;

	park_if_silent();
	c->dst_fd = connect_retry(&to_addr);
	if (c->dst_fd < 0) {
		err("conn %d: cannot connect to %s: %s", c->id, to_addr.text,
		    strerror(-c->dst_fd));
		close(c->src_fd);
		free(c);
		return NULL;
	}
	c->refs = 2;
	pthread_mutex_lock(&lock);
	c->next = live;
	live = c;
	if (all_cut)
		shut_both(c);
	pthread_mutex_unlock(&lock);
	ret = pthread_create(&t, NULL, down_main, c);
	if (ret) {
		err("conn %d: pthread_create: %s", c->id, strerror(ret));
		c->refs = 1;
		conn_put(c);
		return NULL;
	}
	pthread_detach(t);
	if (raw)
		pump_raw(c, true);
	else
		pump(c, true);
	conn_put(c);
	return NULL;
}

static int addr_parse(const char *spec, struct addr *a, bool passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char host[128];
	const char *h, *port;
	size_t hlen;
	char *end;
	long pn;
	int ret;

	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", spec);
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;

		if (!spec[5] || strlen(spec + 5) >= sizeof(un->sun_path)) {
			err("'%s': unix:PATH needs a path of 1..%zu bytes", spec,
			    sizeof(un->sun_path) - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, spec + 5);
		a->family = AF_UNIX;
		a->len = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4)) {
		err("'%s': expected unix:PATH or tcp:HOST:PORT", spec);
		return -1;
	}
	h = spec + 4;
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (!close || close[1] != ':') {
			err("'%s': expected tcp:[ADDRESS]:PORT", spec);
			return -1;
		}
		h++;
		hlen = close - h;
		port = close + 2;
	} else {
		port = strrchr(h, ':');
		if (!port) {
			err("'%s': expected tcp:HOST:PORT", spec);
			return -1;
		}
		hlen = port - h;
		port++;
	}
	errno = 0;
	pn = strtol(port, &end, 10);
	if (!hlen || hlen >= sizeof(host) || !*port || *end || errno ||
	    pn < 0 || pn > 65535 || (!passive && !pn)) {
		err("'%s': bad host or port", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		err("'%s': cannot resolve '%s': %s", spec, host,
		    gai_strerror(ret));
		return -1;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

static int listen_on(struct addr *a)
{
	int fd, one = 1;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (a->family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&a->sa)->sun_path;
		struct stat st;

		/* A stale socket from an earlier run; never another file. */
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&a->sa, a->len) || listen(fd, 64)) {
		close(fd);
		return -1;
	}
	if (a->family != AF_UNIX) {
		char host[INET6_ADDRSTRLEN], port[8];
		socklen_t len = sizeof(a->sa);

		/* Port 0: say which one the kernel picked. */
		if (!getsockname(fd, (struct sockaddr *)&a->sa, &len) &&
		    !getnameinfo((struct sockaddr *)&a->sa, len, host,
				 sizeof(host), port, sizeof(port),
				 NI_NUMERICHOST | NI_NUMERICSERV))
			snprintf(a->text, sizeof(a->text),
				 a->family == AF_INET6 ? "tcp:[%s]:%s" :
				 "tcp:%s:%s", host, port);
	}
	return fd;
}

static void __attribute__((noreturn)) serve(int lfd, bool tcp)
{
	int next_id = 1;

	for (;;) {
		struct conn *c;
		pthread_t t;
		int fd, one = 1, ret;

		park_if_silent();
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED) {
				/* EMFILE and the like: let it pass, slowly. */
				err("accept: %s", strerror(errno));
				sleep_ms(100);
			}
			continue;
		}
		park_if_silent();	/* the new one stays open, unanswered */
		if (tcp)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			err("no memory for a connection");
			close(fd);
			continue;
		}
		c->id = next_id++;
		c->src_fd = fd;
		c->dst_fd = -1;
		c->channel = -1;
		if (all_cut) {	/* the network is gone for newcomers too */
			close(fd);
			free(c);
			continue;
		}
		ret = pthread_create(&t, NULL, conn_main, c);
		if (ret) {
			err("pthread_create: %s", strerror(ret));
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

static void __attribute__((noreturn)) usage(const char *fmt, ...)
{
	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		fputs("fault_proxy: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	fputs("usage: fault_proxy --listen ADDR --to ADDR --fault ACTION@FRAME[#N]\n"
	      "                   [--channel main|data] [--log FILE] [--record FILE]\n"
	      "       fault_proxy --raw --listen ADDR --to ADDR --fault flip-byte=N|none\n"
	      "                   [--conn K] [--log FILE] [--record FILE]\n"
	      "  ADDR    unix:PATH or tcp:HOST:PORT\n"
	      "  ACTION  drop, delay=MS, cut, silence, corrupt-gpa, corrupt-length,\n"
	      "          truncate, flip, none (none needs no @FRAME)\n"
	      "  FRAME   HELLO ACCEPT REJECT RAM SYNC END DEVICE_STATE READY GO ACK\n"
	      "          ABORT LOADED KEEPALIVE AUTH_INIT AUTH_CHALLENGE AUTH_PROOF\n"
	      "          AUTH_OK; #N: the Nth such frame (1)\n"
	      "  --channel  which connections count (default main; data for RAM, SYNC)\n"
	      "  --raw      forward bytes unparsed; flip-byte=N flips a bit of the\n"
	      "             byte at offset N, source->destination, of connection K\n"
	      "  --conn K   flip-byte's connection, in accept order from 1 (2)\n"
	      "  --record   the first connection's source->destination bytes to FILE\n",
	      stderr);
	exit(2);
}

/* Decimal digits only (strtoul alone takes "-1", " 7" and "+7"). */
static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && !errno && *out <= max;
}

static void parse_frame(const char *spec)
{
	const char *hash = strchr(spec, '#');
	size_t n = hash ? (size_t)(hash - spec) : strlen(spec);
	uint32_t t;

	for (t = 1; t < NR_TYPES; t++)
		if (strlen(frame_types[t].name) == n &&
		    !strncasecmp(frame_types[t].name, spec, n))
			break;
	if (t == NR_TYPES)
		usage("unknown frame '%.*s'", (int)n, spec);
	fault.type = t;
	fault.nth = 1;
	if (hash && (!parse_num(hash + 1, ULONG_MAX, &fault.nth) ||
		     !fault.nth))
		usage("'%s': #N must be a number from 1", spec);
}

static void parse_fault(char *spec)
{
	char *at = strchr(spec, '@');
	unsigned int a;

	if (at)
		*at = 0;
	snprintf(fault.text, sizeof(fault.text), "%s", spec);
	if (!strncmp(spec, "flip-byte=", 10)) {
		if (at || !parse_num(spec + 10, ULONG_MAX, &fault.nth))
			usage("'%s': flip-byte=N needs a byte offset N and no @FRAME",
			      spec);
		fault.act = ACT_FLIP_BYTE;
		fault.byte = fault.nth;
		return;
	}
	if (!strncmp(spec, "delay=", 6)) {
		unsigned long ms;

		if (!parse_num(spec + 6, 3600 * 1000, &ms))
			usage("'%s': delay=MS needs MS from 0 to 3600000", spec);
		fault.act = ACT_DELAY;
		fault.delay_ms = ms;
	} else {
		for (a = 0; a < sizeof(action_names) / sizeof(action_names[0]); a++)
			if (a != ACT_DELAY && a != ACT_FLIP_BYTE &&
			    !strcmp(spec, action_names[a]))
				break;
		if (a == sizeof(action_names) / sizeof(action_names[0]))
			usage("unknown fault action '%s'", spec);
		fault.act = a;
	}
	if (!at) {
		if (fault.act != ACT_NONE)
			usage("--fault %s needs @FRAME", spec);
		return;
	}
	parse_frame(at + 1);
	if (fault.act == ACT_CORRUPT_GPA && fault.type != RAM)
		usage("corrupt-gpa applies to RAM frames only");
	if (fault.act == ACT_FLIP && frame_types[fault.type].empty)
		usage("%s frames have no payload to flip",
		      frame_types[fault.type].name);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "fault", required_argument, NULL, 'f' },
		{ "channel", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'L' },
		{ "record", required_argument, NULL, 'R' },
		{ "raw", no_argument, NULL, 'r' },
		{ "conn", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *listen_spec = NULL, *to_spec = NULL, *channel = NULL;
	const char *log_path = NULL, *record_path = NULL, *conn = NULL;
	char *fault_spec = NULL;
	struct addr listen_addr;
	int o, lfd;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			listen_spec = optarg;
			break;
		case 't':
			to_spec = optarg;
			break;
		case 'f':
			fault_spec = optarg;
			break;
		case 'c':
			channel = optarg;
			break;
		case 'L':
			log_path = optarg;
			break;
		case 'R':
			record_path = optarg;
			break;
		case 'r':
			raw = true;
			break;
		case 'k':
			conn = optarg;
			break;
		case 'h':
		default:
			usage(NULL);
		}
	}
	if (optind < argc)
		usage("unexpected argument '%s'", argv[optind]);
	if (!listen_spec || !to_spec || !fault_spec)
		usage("--listen, --to and --fault are required");
	parse_fault(fault_spec);
	if (raw && fault.act != ACT_NONE && fault.act != ACT_FLIP_BYTE)
		usage("--raw takes --fault flip-byte=N or none: it sees no frames");
	if (raw && channel)
		usage("--raw sees no channels: --conn K chooses the connection");
	if (!raw && fault.act == ACT_FLIP_BYTE)
		usage("flip-byte=N needs --raw");
	if (conn) {
		unsigned long k;

		if (fault.act != ACT_FLIP_BYTE)
			usage("--conn goes with --fault flip-byte=N");
		if (!parse_num(conn, INT_MAX, &k) || !k)
			usage("--conn K: a connection number from 1, not '%s'", conn);
		fault.conn = k;
	}

	fault.kind = fault.type == RAM || fault.type == SYNC ? KIND_DATA :
		     KIND_MAIN;
	if (channel) {
		if (!strcmp(channel, "main"))
			fault.kind = KIND_MAIN;
		else if (!strcmp(channel, "data"))
			fault.kind = KIND_DATA;
		else
			usage("--channel must be main or data, not '%s'", channel);
		if (fault.type && !(frame_types[fault.type].where &
				    (fault.kind == KIND_MAIN ? ON_MAIN : ON_DATA)))
			usage("%s frames never travel on a %s channel",
			      frame_types[fault.type].name, channel);
	}
	if (addr_parse(listen_spec, &listen_addr, true) ||
	    addr_parse(to_spec, &to_addr, false))
		usage(NULL);

	if (log_path) {
		log_file = fopen(log_path, "w");
		if (!log_file) {
			err("%s: %s", log_path, strerror(errno));
			return 1;
		}
	}
	if (record_path) {
		record_file = fopen(record_path, "w");
		if (!record_file) {
			err("%s: %s", record_path, strerror(errno));
			return 1;
		}
	}
	/* A peer gone mid-send is an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);
	start_ms = now_ms();
	lfd = listen_on(&listen_addr);
	if (lfd < 0) {
		err("cannot listen on %s: %s", listen_addr.text, strerror(errno));
		return 1;
	}
	say("listening on %s", listen_addr.text);
	serve(lfd, listen_addr.family != AF_UNIX);
}
