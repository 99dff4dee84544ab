// SPDX-License-Identifier: GPL-2.0
/*
 * qmp SOCKET COMMAND...: send QMP commands to a QEMU and print the replies,
 * one JSON line each, for bench/peer/run.sh. Each COMMAND is a JSON object
 * ({"execute": ...}). Events QEMU sends meanwhile are skipped. Exit status
 * 1 when a command returns an error (its reply still printed), 2 when
 * QEMU cannot be reached or hangs up. Waits up to 30 s for the socket to
 * appear, as a QEMU just started has not created it yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

static char buf[1 << 20];
static size_t have;

static void die(const char *what)
{
	fprintf(stderr, "qmp: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* The next line from QEMU, NUL-terminated, without its line end. */
static char *read_line(int fd, char *line, size_t max)
{
	char *nl;
	ssize_t n;
	size_t len;

	while (!(nl = memchr(buf, '\n', have))) {
		if (have == sizeof(buf)) {
			errno = EMSGSIZE;
			die("reply");
		}
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0) {
			errno = n ? errno : ECONNRESET;
			die("read");
		}
		have += n;
	}
	len = nl - buf;
	if (len >= max)
		len = max - 1;
	memcpy(line, buf, len);
	line[len] = '\0';
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	have -= nl + 1 - buf;
	memmove(buf, nl + 1, have);
	return line;
}

/* Send one command; print its reply; 0, or 1 for an error reply. */
static int command(int fd, const char *cmd, int print)
{
	static char line[sizeof(buf)];
	size_t len = strlen(cmd);

	if (write(fd, cmd, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		die("write");
	for (;;) {
		/* A reply starts with "return" or "error"; the rest are events. */
		read_line(fd, line, sizeof(line));
		if (strncmp(line, "{\"return\"", 9) &&
		    strncmp(line, "{\"error\"", 8))
			continue;
		if (print)
			puts(line);
		return line[2] == 'e';
	}
}

static int connect_qmp(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int fd, tries;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		die(path);
	}
	strcpy(sa.sun_path, path);
	for (tries = 0;; tries++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if ((errno != ENOENT && errno != ECONNREFUSED) || tries >= 300)
			die(path);
		nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	char greeting[4096];
	int fd, i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: qmp SOCKET COMMAND...\n");
		return 2;
	}
	fd = connect_qmp(argv[1]);
	read_line(fd, greeting, sizeof(greeting));
	if (command(fd, "{\"execute\": \"qmp_capabilities\"}", 0)) {
		fprintf(stderr, "qmp: qmp_capabilities refused\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		rc |= command(fd, argv[i], 1);
	close(fd);
	return rc;
}
