#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mkcreds.sh DIR: test credentials for kmigctl's TLS (--tls-creds, QEMU's
# directory layout) and --tls-psk / --auth-key, made with certtool and
# psktool (gnutls-bin):
#
#   DIR/x509/        ca-cert.pem, server-cert.pem + server-key.pem (SANs:
#                    DNS localhost, IP 127.0.0.1, IP ::1), client-cert.pem +
#                    client-key.pem; ECDSA P-256 keys
#   DIR/x509-other/  the same five files from another CA (an attacker's)
#   DIR/psk.key      "kmig:HEX" (psktool's format, a 32-byte key)
#   DIR/psk-wrong.key  the same identity, another key
#   DIR/auth.key, DIR/auth-wrong.key  32 random bytes each (raw)
#
# Idempotent: a set whose files are all there is left alone, so the
# selftests and the demo may call it every time. Each set is made in a
# temporary directory and moved into place whole. Exit status 0, or 1 with
# the reason on stderr.

set -eu

die() {
	echo "mkcreds: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: mkcreds.sh DIR"
dir=$1
for tool in certtool od; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found: install gnutls-bin (scripts/install-deps.sh)"
done
mkdir -p "$dir" || die "cannot create $dir"
umask 077

tmp=$(mktemp -d "$dir/.mkcreds.XXXXXX") || die "cannot write in $dir"
trap 'rm -rf "$tmp"' EXIT

# run CMD...: runs a tool, showing its output only when it fails.
log=$tmp/log
run() {
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		die "$1 failed"
	fi
}

key() {
	run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--no-text --outfile "$1"
}

# x509_set NAME CA_CN: a CA and a server and a client certificate.
x509_set() {
	local d=$tmp/$1
	[ ! -e "$dir/$1/ca-cert.pem" ] || [ ! -e "$dir/$1/server-cert.pem" ] ||
		[ ! -e "$dir/$1/server-key.pem" ] ||
		[ ! -e "$dir/$1/client-cert.pem" ] ||
		[ ! -e "$dir/$1/client-key.pem" ] || return 0
	mkdir "$d"
	log=$tmp/$1.log
	cat >"$tmp/$1-ca.tmpl" <<-EOF
		cn = "$2"
		ca
		cert_signing_key
		expiration_days = 3650
	EOF
	cat >"$tmp/$1-server.tmpl" <<-EOF
		cn = "localhost"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		ip_address = "::1"
		tls_www_server
		signing_key
		expiration_days = 3650
	EOF
	cat >"$tmp/$1-client.tmpl" <<-EOF
		cn = "kmig client"
		tls_www_client
		signing_key
		expiration_days = 3650
	EOF
	key "$d/ca-key.pem"
	run certtool --generate-self-signed --no-text \
		--load-privkey "$d/ca-key.pem" --template "$tmp/$1-ca.tmpl" \
		--outfile "$d/ca-cert.pem"
	for who in server client; do
		key "$d/$who-key.pem"
		run certtool --generate-certificate --no-text \
			--load-privkey "$d/$who-key.pem" \
			--load-ca-certificate "$d/ca-cert.pem" \
			--load-ca-privkey "$d/ca-key.pem" \
			--template "$tmp/$1-$who.tmpl" --outfile "$d/$who-cert.pem"
	done
	# The CA's key signs nothing else; QEMU's layout has no place for it.
	rm -f "$d/ca-key.pem"
	chmod 644 "$d"/*-cert.pem
	chmod 755 "$d"
	rm -rf "${dir:?}/$1"
	mv "$d" "$dir/$1"
}

hex32() {
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# psk NAME: "kmig:HEX".
psk() {
	[ ! -s "$dir/$1" ] || return 0
	printf 'kmig:%s\n' "$(hex32)" >"$tmp/$1"
	[ "$(wc -c <"$tmp/$1")" -eq 70 ] || die "could not read /dev/urandom"
	mv "$tmp/$1" "$dir/$1"
}

rawkey() {
	[ ! -s "$dir/$1" ] || return 0
	head -c 32 /dev/urandom >"$tmp/$1"
	[ "$(wc -c <"$tmp/$1")" -eq 32 ] || die "could not read /dev/urandom"
	mv "$tmp/$1" "$dir/$1"
}

# The two sets at once: certtool's start-up is most of the time under TCG.
x509_set x509 "kmig test CA" &
p1=$!
x509_set x509-other "kmig other CA" &
p2=$!
ok=1
wait $p1 || ok=0
wait $p2 || ok=0
[ $ok = 1 ] || exit 1
psk psk.key
psk psk-wrong.key
rawkey auth.key
rawkey auth-wrong.key
