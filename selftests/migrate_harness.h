/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the migrate_*_test.c selftests: run real live migrations
 * between two kmig-vmm processes (build/vmm/kmig-vmm) with two kmigctl
 * processes (build/user/kmigctl), all as separate programs, and look at
 * what they report: exit statuses, the --json reports, and each VMM's own
 * memory checker (VMM_CHECK on its control socket).
 *
 * Header-only (static functions) so that every migrate_*_test.c stays a
 * single translation unit, as the selftests Makefile builds them.
 * Everything waits with a bound; a process still running at the end of a
 * test is killed.
 */
#ifndef KMIG_MIGRATE_HARNESS_H
#define KMIG_MIGRATE_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "kmig_vmm.h"

#define MH_VMM		"build/vmm/kmig-vmm"
#define MH_KMIGCTL	"build/user/kmigctl"
#define MH_PROXY	"build/selftests/fault_proxy"
#define MH_MAX_ARGS	40

static inline uint64_t mh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static inline void mh_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Why the environment cannot run these tests, or NULL. */
static inline const char *mh_unavailable(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		return "no /dev/kvm";
	if (access("/dev/kmig", R_OK | W_OK))
		return "no /dev/kmig (kmig.ko not loaded)";
	if (access(MH_VMM, X_OK))
		return MH_VMM " not built (make vmm)";
	if (access(MH_KMIGCTL, X_OK))
		return MH_KMIGCTL " not built (make user)";
	return NULL;
}

/* One program the test started; its output goes to files in the test dir. */
struct mh_proc {
	pid_t pid;
	int status;		/* exit status once reaped; -1 before */
	char out[PATH_MAX];
	char err[PATH_MAX];
};

/* Starts @argv (NULL-terminated) with @env_extra ("NAME=value", NULL-ended). */
static inline int mh_spawn(struct mh_proc *p, const char *dir, const char *name,
			   char *const argv[], char *const env_extra[])
{
	snprintf(p->out, sizeof(p->out), "%s/%s.out", dir, name);
	snprintf(p->err, sizeof(p->err), "%s/%s.err", dir, name);
	p->status = -1;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		int o = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_RDONLY);

		if (o < 0 || e < 0 || n < 0)
			_exit(126);
		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		/* Its own process group: a signal for it reaches only it. */
		setpgid(0, 0);
		for (; env_extra && *env_extra; env_extra++)
			putenv(*env_extra);
		execv(argv[0], argv);
		_exit(127);
	}
	return 0;
}

/*
 * Waits up to @timeout_ms for @p to exit; returns its exit status (128+N
 * for a signal), or -ETIMEDOUT, after which it is still running.
 */
static inline int mh_wait(struct mh_proc *p, unsigned int timeout_ms)
{
	uint64_t end = mh_now_ms() + timeout_ms;
	int st;

	if (p->pid <= 0)
		return p->status;
	for (;;) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			p->status = WIFEXITED(st) ? WEXITSTATUS(st) :
				    128 + WTERMSIG(st);
			p->pid = 0;
			return p->status;
		}
		if (r < 0)
			return -errno;
		if (mh_now_ms() >= end)
			return -ETIMEDOUT;
		mh_sleep_ms(20);
	}
}

static inline bool mh_running(struct mh_proc *p)
{
	return p->pid > 0 && mh_wait(p, 0) == -ETIMEDOUT;
}

static inline void mh_kill(struct mh_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		mh_wait(p, 10000);
	}
}

/* The whole file, NUL-terminated (free() it); "" if unreadable. */
static inline char *mh_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f) {
		do {
			if (len + 4096 + 1 > cap) {
				char *b = realloc(buf, cap = cap * 2 + 8192);

				if (!b)
					break;
				buf = b;
			}
			n = fread(buf + len, 1, 4096, f);
			len += n;
		} while (n);
		fclose(f);
	}
	if (!buf)
		buf = malloc(1);
	if (buf)
		buf[len] = 0;
	return buf;
}

/*
 * The value at @path in @doc, one of kmigctl's --json documents: the whole
 * document is parsed, strictly, and the path followed from its top
 * (include/json.h): "pages.normal" is the top-level object's "pages"
 * member's "normal", "round_stats.0.pages" the first round's. NULL when
 * the document does not parse or holds no such value; *@root is the tree
 * to json_free() either way.
 */
static inline const struct json_value *mh_json_at(const char *doc,
						  const char *path,
						  struct json_value **root)
{
	struct json_error err;

	*root = NULL;
	if (!doc)
		return NULL;
	if (json_parse(doc, strlen(doc), root, &err)) {
		/*
		 * No report is a kmigctl that died early, which the test sees
		 * by itself; a report that is not JSON would only read as
		 * absent fields.
		 */
		if (doc[strspn(doc, " \t\r\n")])
			fprintf(stderr, "# not a JSON document (%s at byte %zu): %.200s\n",
				err.msg, err.offset, doc);
		return NULL;
	}
	return json_get(*root, path);
}

/* The number at @path in @doc; NaN when absent, null or not a number. */
static inline double mh_json_num(const char *doc, const char *path)
{
	struct json_value *root;
	const struct json_value *v = mh_json_at(doc, path, &root);
	double num = v && v->type == JSON_NUMBER ? v->number : NAN;

	json_free(root);
	return num;
}

/* The string at @path, decoded, into @out; "" when absent or no string. */
static inline const char *mh_json_str(const char *doc, const char *path,
				      char *out, size_t n)
{
	struct json_value *root;
	const struct json_value *v = mh_json_at(doc, path, &root);

	if (n)
		snprintf(out, n, "%s", v && v->type == JSON_STRING ? v->string : "");
	json_free(root);
	return out;
}

/* The length of the array at @path ("" for the document); -1 if none. */
static inline int mh_json_len(const char *doc, const char *path)
{
	struct json_value *root;
	const struct json_value *v = mh_json_at(doc, path, &root);
	int len = v && v->type == JSON_ARRAY ? (int)v->count : -1;

	json_free(root);
	return len;
}

/* The type (enum json_type) of the value at @path; -1 if there is none. */
static inline int mh_json_type(const char *doc, const char *path)
{
	struct json_value *root;
	const struct json_value *v = mh_json_at(doc, path, &root);
	int type = v ? (int)v->type : -1;

	json_free(root);
	return type;
}

/* The boolean at @path: 1 true, 0 false, -1 absent or not a boolean. */
static inline int mh_json_bool(const char *doc, const char *path)
{
	struct json_value *root;
	const struct json_value *v = mh_json_at(doc, path, &root);
	int b = v && v->type == JSON_BOOL ? v->boolean : -1;

	json_free(root);
	return b;
}

/* A kmig-vmm and its control socket. */
struct mh_vmm {
	struct mh_proc proc;
	char sock[108];
};

/* One request on a fresh control connection; the reply payload to @out. */
static inline int mh_vmm_request(const char *sock, uint32_t type, void *out,
				 size_t out_len, char *msg, size_t msg_len)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 120 };
	struct vmm_msg m = { .type = type };
	uint8_t buf[sizeof(m) + 512];
	ssize_t n;
	int fd, ret;

	if (msg && msg_len)
		msg[0] = 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", sock);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) ||
	    send(fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < (ssize_t)sizeof(m))
		return n < 0 ? -errno : -EPIPE;
	memcpy(&m, buf, sizeof(m));
	if (m.status) {
		if (msg && msg_len)
			snprintf(msg, msg_len, "%.*s", (int)(n - sizeof(m)),
				 (char *)buf + sizeof(m));
		return m.status;
	}
	if (out)
		memcpy(out, buf + sizeof(m),
		       out_len < n - sizeof(m) ? out_len : n - sizeof(m));
	return 0;
}

/*
 * Starts a VMM: kmig-vmm --control DIR/NAME.sock ARGS..., and waits until
 * its control socket answers (a VMM_CHECK-free probe: connect only).
 */
static inline int mh_vmm_start(struct mh_vmm *v, const char *dir,
			       const char *name, const char *const args[])
{
	char *argv[MH_MAX_ARGS];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint64_t end;
	int i = 0, ret;

	snprintf(v->sock, sizeof(v->sock), "%s/%s.sock", dir, name);
	argv[i++] = MH_VMM;
	argv[i++] = "--control";
	argv[i++] = v->sock;
	for (; args && *args && i < MH_MAX_ARGS - 1; args++)
		argv[i++] = (char *)*args;
	argv[i] = NULL;
	ret = mh_spawn(&v->proc, dir, name, argv, NULL);
	if (ret)
		return ret;

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", v->sock);
	for (end = mh_now_ms() + 60000; mh_now_ms() < end; mh_sleep_ms(50)) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		ret = connect(fd, (struct sockaddr *)&un, sizeof(un));
		close(fd);
		if (!ret)
			return 0;
		if (!mh_running(&v->proc))
			return -ECHILD;
	}
	return -ETIMEDOUT;
}

/* The VMM's workload checker: 1 passed, 0 failed, -errno no answer. */
static inline int mh_vmm_check(struct mh_vmm *v, char *verdict, size_t n)
{
	struct vmm_check c;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = mh_vmm_request(v->sock, VMM_CHECK, &c, sizeof(c), verdict, n);
	if (ret)
		return ret;
	c.verdict[sizeof(c.verdict) - 1] = 0;
	snprintf(verdict, n, "%s", c.verdict);
	return c.ok == 1;
}

static inline void mh_vmm_stop(struct mh_vmm *v)
{
	if (!mh_running(&v->proc))
		return;
	mh_vmm_request(v->sock, VMM_QUIT, NULL, 0, NULL, 0);
	if (mh_wait(&v->proc, 10000) == -ETIMEDOUT)
		mh_kill(&v->proc);
}

/* Runs kmigctl with @args to completion; its stdout in *@out (free it). */
static inline int mh_kmigctl(const char *dir, const char *name,
			     const char *const args[], char **out,
			     unsigned int timeout_ms)
{
	char *argv[MH_MAX_ARGS];
	struct mh_proc p;
	int i = 0, ret;

	argv[i++] = MH_KMIGCTL;
	for (; args && *args && i < MH_MAX_ARGS - 1; args++)
		argv[i++] = (char *)*args;
	argv[i] = NULL;
	ret = mh_spawn(&p, dir, name, argv, NULL);
	if (ret)
		return ret;
	ret = mh_wait(&p, timeout_ms);
	if (ret == -ETIMEDOUT)
		mh_kill(&p);
	if (out)
		*out = mh_slurp(p.out);
	return ret;
}

/*
 * Waits up to @timeout_ms for a line containing @what in the file @path
 * (a kmigctl's stderr); copies the line to @line. False on timeout.
 */
static inline bool mh_wait_line(const char *path, const char *what,
				char *line, size_t n, unsigned int timeout_ms)
{
	uint64_t end = mh_now_ms() + timeout_ms;

	do {
		char *s = mh_slurp(path);
		const char *p = s ? strstr(s, what) : NULL;

		if (p) {
			const char *b = p, *e = strchr(p, '\n');

			while (b > s && b[-1] != '\n')
				b--;
			snprintf(line, n, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
			free(s);
			return true;
		}
		free(s);
		mh_sleep_ms(50);
	} while (mh_now_ms() < end);
	return false;
}

/*
 * Starts fault_proxy (selftests/fault_proxy.c) between @listen, where the
 * source connects, and @to, the destination's address, injecting @fault
 * ("drop@GO", "corrupt-gpa@RAM", ...); its frame log goes to DIR/proxy.log.
 * Returns once it listens, or -errno (killed again if it never does).
 * It says "fault_proxy: fired ..." in @p->out when the fault happened.
 */
static inline int mh_start_proxy(struct mh_proc *p, const char *dir,
				 const char *listen, const char *to,
				 const char *fault)
{
	char log[PATH_MAX], line[256];
	char *argv[] = { MH_PROXY, "--listen", (char *)listen, "--to",
			 (char *)to, "--fault", (char *)fault, "--log", log,
			 NULL };
	int ret;

	if (access(MH_PROXY, X_OK))
		return -ENOENT;
	snprintf(log, sizeof(log), "%s/proxy.log", dir);
	ret = mh_spawn(p, dir, "proxy", argv, NULL);
	if (ret)
		return ret;
	if (!mh_wait_line(p->out, "fault_proxy: listening on ", line,
			  sizeof(line), 10000)) {
		mh_kill(p);
		return -ETIMEDOUT;
	}
	return 0;
}

/*
 * The kmig session id a kmigctl announced on stderr ("kmig session N"),
 * waiting up to @timeout_ms; 0 if none. Unlike `kmigctl status`, this does
 * not wait for a round in progress to end.
 */
static inline unsigned int mh_announced_session(const char *path,
						unsigned int timeout_ms)
{
	char line[256];
	const char *p;

	if (!mh_wait_line(path, "kmig session ", line, sizeof(line), timeout_ms))
		return 0;
	p = strstr(line, "kmig session ");
	return strtoul(p + strlen("kmig session "), NULL, 10);
}

/*
 * `kmigctl status --json` into *@doc (free it): an array of session
 * objects (user/kmigctl/control/status.c). Returns the index there of the first
 * session whose "state" is @state ("tracking": a source, "attached": a
 * destination), or -1 if none.
 */
static inline int mh_session(const char *dir, const char *state, char **doc)
{
	const char *const args[] = { "status", "--json", NULL };
	char path[32], st[32];
	int i, n;

	*doc = NULL;
	if (mh_kmigctl(dir, "status", args, doc, 30000) != 0 || !*doc)
		return -1;
	n = mh_json_len(*doc, "");
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%d.state", i);
		if (!strcmp(mh_json_str(*doc, path, st, sizeof(st)), state))
			return i;
	}
	return -1;
}

/*
 * The number at @path ("id", "syncs") in that session's object; NaN if
 * there is no such session.
 */
static inline double mh_session_num(const char *dir, const char *state,
				    const char *path)
{
	char *doc, at[96];
	int i = mh_session(dir, state, &doc);
	double v = NAN;

	if (i >= 0) {
		snprintf(at, sizeof(at), "%d.%s", i, path);
		v = mh_json_num(doc, at);
	}
	free(doc);
	return v;
}

/*
 * Waits until a session in @state has at least @min of @key (a source in
 * its bulk round: "syncs" >= 1). False after @timeout_ms.
 */
static inline bool mh_wait_session(const char *dir, const char *state,
				   const char *key, double min,
				   unsigned int timeout_ms)
{
	uint64_t end = mh_now_ms() + timeout_ms;

	do {
		double v = mh_session_num(dir, state, key);

		if (!isnan(v) && v >= min)
			return true;
		mh_sleep_ms(200);
	} while (mh_now_ms() < end);
	return false;
}

/*
 * One migration: a source VMM, a destination VMM, `kmigctl incoming` and
 * `kmigctl migrate`, all in a fresh directory under /tmp.
 */
struct mh_mig {
	char dir[64];
	char addr[160];
	char key[96];		/* dir/auth.key: TCP migrations use it */
	struct mh_vmm src, dst;
	struct mh_proc in, mig;
	char *in_json, *mig_json;
};

/* @n random bytes into @path, readable by its owner only. */
static inline int mh_write_key(const char *path, size_t n)
{
	uint8_t b[64];
	int fd, ret = 0;

	if (n > sizeof(b) || getrandom(b, n, 0) != (ssize_t)n)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, b, n) != (ssize_t)n)
		ret = -EIO;
	close(fd);
	return ret;
}

static inline int mh_setup(struct mh_mig *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/kmig-migrate-XXXXXX");
	if (!mkdtemp(m->dir))
		return -errno;
	snprintf(m->key, sizeof(m->key), "%s/auth.key", m->dir);
	return mh_write_key(m->key, 32);
}

/*
 * Does @extra choose how the peers authenticate? If not, a TCP migration
 * gets the harness's --auth-key on both sides: the secure mode is what
 * every test runs unless it asks for another. Unix sockets need nothing
 * (the peers' credentials; everything runs as root).
 */
static inline bool mh_chooses_security(const char *const extra[])
{
	for (; extra && *extra; extra++)
		if (!strcmp(*extra, "--insecure") || !strcmp(*extra, "--auth-key") ||
		    !strncmp(*extra, "--tls-", 6))
			return true;
	return false;
}

static inline int mh_add_security(struct mh_mig *m, char *argv[], int i,
				  const char *const extra[])
{
	if (!strncmp(m->addr, "tcp:", 4) && !mh_chooses_security(extra)) {
		argv[i++] = "--auth-key";
		argv[i++] = m->key;
	}
	return i;
}

/* tcp: a port from the test's pid (tests run one at a time); or unix. */
static inline void mh_set_addr(struct mh_mig *m, bool unix_socket)
{
	if (unix_socket)
		snprintf(m->addr, sizeof(m->addr), "unix:%s/mig.sock", m->dir);
	else
		snprintf(m->addr, sizeof(m->addr), "tcp:127.0.0.1:%d",
			 20000 + getpid() % 20000);
}

static inline int mh_start_incoming_env(struct mh_mig *m,
					const char *const extra[],
					char *const env[])
{
	char *argv[MH_MAX_ARGS];
	int i = 0;

	argv[i++] = MH_KMIGCTL;
	argv[i++] = "incoming";
	argv[i++] = "--vmm";
	argv[i++] = m->dst.sock;
	argv[i++] = "--listen";
	argv[i++] = m->addr;
	argv[i++] = "--json";
	i = mh_add_security(m, argv, i, extra);
	for (; extra && *extra && i < MH_MAX_ARGS - 1; extra++)
		argv[i++] = (char *)*extra;
	argv[i] = NULL;
	return mh_spawn(&m->in, m->dir, "incoming", argv, env);
}

static inline int mh_start_incoming(struct mh_mig *m, const char *const extra[])
{
	return mh_start_incoming_env(m, extra, NULL);
}

static inline int mh_start_migrate(struct mh_mig *m, const char *const extra[],
				   char *const env[])
{
	char *argv[MH_MAX_ARGS];
	int i = 0;

	argv[i++] = MH_KMIGCTL;
	argv[i++] = "migrate";
	argv[i++] = "--vmm";
	argv[i++] = m->src.sock;
	argv[i++] = "--to";
	argv[i++] = m->addr;
	argv[i++] = "--json";
	i = mh_add_security(m, argv, i, extra);
	for (; extra && *extra && i < MH_MAX_ARGS - 1; extra++)
		argv[i++] = (char *)*extra;
	argv[i] = NULL;
	return mh_spawn(&m->mig, m->dir, "migrate", argv, env);
}

/* Waits for both kmigctls and reads their reports. */
static inline void mh_wait_both(struct mh_mig *m, unsigned int timeout_ms)
{
	uint64_t end = mh_now_ms() + timeout_ms;

	mh_wait(&m->mig, timeout_ms);
	mh_wait(&m->in, end > mh_now_ms() ? end - mh_now_ms() : 1);
	free(m->mig_json);
	free(m->in_json);
	m->mig_json = mh_slurp(m->mig.out);
	m->in_json = mh_slurp(m->in.out);
}

/* Everything the test started goes away; the directory too. */
static inline void mh_teardown(struct mh_mig *m)
{
	char cmd[256];

	mh_kill(&m->mig);
	mh_kill(&m->in);
	mh_vmm_stop(&m->src);
	mh_vmm_stop(&m->dst);
	free(m->mig_json);
	free(m->in_json);
	m->mig_json = m->in_json = NULL;
	/* The logs are small: keep them where the sandbox brings them back. */
	if (m->dir[0] && getenv("KMIG_OUT")) {
		snprintf(cmd, sizeof(cmd),
			 "mkdir -p \"$KMIG_OUT/migrate-logs\" && cp -r '%s' \"$KMIG_OUT/migrate-logs/\" 2>/dev/null; rm -f \"$KMIG_OUT\"/migrate-logs/*/*.sock",
			 m->dir);
		if (system(cmd))
			fprintf(stderr, "# could not keep the logs of %s\n", m->dir);
	}
	if (m->dir[0] && !getenv("KMIG_KEEP_LOGS")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
		if (system(cmd))
			fprintf(stderr, "# could not remove %s\n", m->dir);
	}
}

/* The last @n bytes of a log, for a failing test's diagnostics. */
static inline void mh_log_tail(const char *path, size_t n)
{
	char *s = mh_slurp(path);
	size_t len = s ? strlen(s) : 0;
	const char *p = s + (len > n ? len - n : 0);

	fprintf(stderr, "# ---- %s ----\n", path);
	for (; s && *p; p++) {
		fputc(*p, stderr);
		if (*p == '\n' && p[1])
			fputs("# ", stderr);
	}
	fputc('\n', stderr);
	free(s);
}

static inline void mh_dump(struct mh_mig *m)
{
	mh_log_tail(m->mig.err, 1500);
	mh_log_tail(m->mig.out, 3000);
	mh_log_tail(m->in.err, 1500);
	mh_log_tail(m->in.out, 1500);
	mh_log_tail(m->src.proc.err, 800);
	mh_log_tail(m->dst.proc.err, 800);
}

/* Does the string at @path of a report (its "error") contain @what? */
static inline bool mh_json_has(const char *doc, const char *path,
			       const char *what)
{
	char buf[1024];

	return strstr(mh_json_str(doc, path, buf, sizeof(buf)), what) != NULL;
}

/* VMM_STATUS: 0 and *@st, or -errno (the VMM is gone). */
static inline int mh_vmm_status(struct mh_vmm *v, struct vmm_status *st)
{
	memset(st, 0, sizeof(*st));
	return mh_vmm_request(v->sock, VMM_STATUS, st, sizeof(*st), NULL, 0);
}

/*
 * Does the guest run? What a user would look at: the counter the guest
 * keeps in its own memory advances across two looks a second apart
 * (VMM_STATUS reads it without pausing the guest). 1 runs, 0 does not
 * (paused, never started, or its VMM gone).
 */
static inline int mh_guest_runs(struct mh_vmm *v)
{
	struct vmm_status a, b;

	if (!mh_running(&v->proc) || mh_vmm_status(v, &a))
		return 0;
	mh_sleep_ms(1000);
	if (mh_vmm_status(v, &b))
		return 0;
	return b.guest_progress > a.guest_progress;
}

/*
 * kmig.ko's live-object counters: its debugfs file, one "NAME COUNT" per
 * line (KMIG_OBJECTS overrides the path, as for run_tests.sh). Waits up to
 * @timeout_ms for every count to read 0 (files close and work drains
 * after the last process exits): 0 then; 1 and the lines that are not 0
 * in @left when they never do; -ENOENT without the file (an older module).
 */
static inline int mh_objects_zero(char *left, size_t n, unsigned int timeout_ms)
{
	const char *path = getenv("KMIG_OBJECTS") ?:
			   "/sys/kernel/debug/kmig/objects";
	uint64_t end = mh_now_ms() + timeout_ms;

	if (access(path, F_OK))
		return -ENOENT;
	for (;;) {
		char *s = mh_slurp(path), *line, *save = NULL;
		size_t len = 0;

		left[0] = 0;
		for (line = strtok_r(s, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[64], count[32];

			if (sscanf(line, "%63s %31s", name, count) == 2 &&
			    !strcmp(count, "0"))
				continue;
			if (line[strspn(line, " \t")] && len < n)
				len += snprintf(left + len, n - len, "%s%s",
						len ? ", " : "", line);
		}
		/* mh_slurp() reads an unreadable file as "": not as zeros. */
		if (access(path, R_OK))
			snprintf(left, n, "%s: %s", path, strerror(errno));
		free(s);
		if (!left[0])
			return 0;
		if (mh_now_ms() >= end)
			return 1;
		mh_sleep_ms(200);
	}
}

/* How many files this process has open (/proc/self/fd). */
static inline int mh_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	/* Less the directory's own. */
	return n - 1;
}

/*
 * The children of this process, reaped or not yet (zombies count: a
 * child nobody waits for is a leak too); their pids in @pids (up to @max).
 */
static inline int mh_children(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[300], *s, *p;
		int ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		s = mh_slurp(path);
		/* pid (comm) state ppid ...: comm may hold anything but ')'. */
		p = s ? strrchr(s, ')') : NULL;
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 &&
		    ppid == getpid()) {
			if (n < max)
				pids[n] = atoi(e->d_name);
			n++;
		}
		free(s);
	}
	closedir(d);
	return n;
}

#endif /* KMIG_MIGRATE_HARNESS_H */
