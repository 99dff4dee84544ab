#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kmigctl's command line on a host without kmig.ko: usage and exit codes,
# diagnostics on stderr only, and the message when the family is missing.

. "$(dirname "$0")/tap.sh"
: "${O:?set O to the build directory}"
kmigctl=$O/kmigctl
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# run EXPECTED_STATUS ARGS...: runs kmigctl, keeps stdout/stderr in files.
run() {
	want=$1
	shift
	"$kmigctl" "$@" >"$out" 2>"$err"
	got=$?
	[ "$got" = "$want" ] || { echo "# kmigctl $*: exit $got, want $want"; return 1; }
}

help_on_stdout() {
	run 0 --help && grep -q '^Usage: kmigctl' "$out" && [ ! -s "$err" ]
}

no_command_is_usage_error() {
	run 2 && grep -q '^Usage: kmigctl' "$err" && [ ! -s "$out" ]
}

unknown_command_is_usage_error() {
	run 2 frobnicate && grep -q "unknown command 'frobnicate'" "$err" &&
		grep -q '^Usage: kmigctl' "$err" && [ ! -s "$out" ]
}

unknown_option_is_usage_error() {
	run 2 status --bogus && grep -q "unknown option '--bogus'" "$err" &&
		[ ! -s "$out" ] && run 2 status -x && grep -q "'-x'" "$err"
}

status_help() {
	run 0 status --help && grep -q -- '--json' "$out"
}

version_works_without_module() {
	run 0 version && grep -q '^kmigctl 1\.2\.0 (kmig API 2)$' "$out"
}

family_missing() {
	run 1 status && [ ! -s "$out" ] &&
	[ "$(cat "$err")" = "kmig: generic netlink family 'kmig' not found (is kmig.ko loaded?)" ] &&
	run 1 status --json && [ ! -s "$out" ]
}

migrate_usage_errors() {
	run 2 migrate && grep -q -- '--vmm and --to are required' "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 --channels 0 &&
		grep -q "bad --channels '0' (a number from 1 to 16)" "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 --workers 17 &&
	run 2 migrate --vmm /x --to tcp:h:1 --max-bandwidth -5 &&
	run 2 migrate --vmm /x --to tcp:h:1 --timeout 0 &&
	run 2 migrate --vmm &&
		grep -q "option '--vmm' needs a value" "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 extra &&
		grep -q "unexpected argument 'extra'" "$err" && [ ! -s "$out" ]
}

compress_usage_errors() {
	run 2 migrate --vmm /x --to tcp:h:1 --compress lz4 &&
		grep -q "bad --compress 'lz4' (none, zstd or zstd:LEVEL)" "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 --compress zstd:0 &&
		grep -q "bad zstd level '0' (a number from 1 to 19)" "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 --compress zstd:20 &&
	run 2 migrate --vmm /x --to tcp:h:1 --compress zstd: &&
	run 2 migrate --vmm /x --to tcp:h:1 -z zstd:-1 && [ ! -s "$out" ] &&
	run 2 migrate --vmm /x --to tcp:h:1 --compress zstd-page:20 &&
		grep -q "bad zstd level '20' (a number from 1 to 19)" "$err" &&
	run 2 migrate --vmm /x --to tcp:h:1 --compress zstd-pages &&
		grep -q "bad --compress 'zstd-pages'" "$err"
}

# The report says what was asked for, also when the migration failed.
compress_in_report() {
	run 1 migrate --vmm /nonexistent/vmm.sock --to tcp:127.0.0.1:1 --json \
		--compress zstd:3 --insecure &&
	grep -q '"compression":{"algorithm":"zstd","level":3,"pages_compressed":0' "$out" &&
	run 1 migrate --vmm /nonexistent/vmm.sock --to tcp:127.0.0.1:1 --json \
		--compress zstd-page:2 --insecure &&
	grep -q '"compression":{"algorithm":"zstd","level":2,"pages_compressed":0' "$out" &&
	run 1 migrate --vmm /nonexistent/vmm.sock --to tcp:127.0.0.1:1 --insecure &&
	grep -q '^  compression:    none, 0 pages compressed' "$out"
}

incoming_usage_errors() {
	run 2 incoming --vmm /x && grep -q -- '--vmm and --listen are required' "$err" &&
	run 2 incoming --vmm /x --listen unix:/y --bogus &&
		grep -q "unknown option '--bogus'" "$err"
}

help_texts() {
	run 0 migrate --help && grep -q -- '--downtime-limit MS' "$out" &&
		grep -q -- '--max-bandwidth MIB' "$out" &&
		grep -q -- '--compress zstd\[:LEVEL\]' "$out" &&
	run 0 incoming --help && grep -q -- '--listen' "$out" &&
	run 0 cancel --help && grep -q 'SESSION_ID' "$out" &&
	run 0 --help && grep -q '^  migrate ' "$out" &&
		grep -q '^  incoming ' "$out" && grep -q '^  cancel ' "$out"
}

postcopy_usage() {
	run 2 migrate --vmm /x --to unix:/y --postcopy=sometimes &&
		grep -q -- "--postcopy takes no value but 'auto'" "$err" &&
	run 2 migrate --vmm /x --to unix:/y --postcopy-after 0 &&
	run 2 migrate --vmm /x --to unix:/y --resume --postcopy &&
		grep -q -- '--resume goes on with a postcopy' "$err" &&
	run 0 migrate --help && grep -q -- '--postcopy\[=auto\]' "$out" &&
		grep -q -- '--resume' "$out" &&
	run 0 postcopy-recover --help && grep -q 'Recover a postcopy' "$out" &&
	run 2 postcopy-recover --vmm /x &&
		grep -q -- '--vmm and --listen are required' "$err" &&
	run 0 --help && grep -q '^  postcopy-recover ' "$out"
}

# A failure after the command line was accepted: exit 1, the reason on
# stderr, and the report (result "failed") on stdout.
migrate_without_vmm() {
	run 1 migrate --vmm /nonexistent/vmm.sock --to tcp:127.0.0.1:1 --json \
		--insecure &&
	grep -q "kmig: migrate: cannot connect to the VMM at /nonexistent/vmm.sock" "$err" &&
	grep -q '"role":"source","result":"failed","error":"cannot connect to the VMM' "$out" &&
	{ ! command -v python3 >/dev/null || python3 -m json.tool "$out" >/dev/null; }
}

incoming_without_vmm() {
	run 1 incoming --vmm /nonexistent/vmm.sock --listen unix:/tmp/x --json &&
	grep -q '"role":"destination","result":"failed"' "$out"
}

# Who may take part: TCP needs a key, credentials or an explicit
# --insecure, on both sides, before anything is touched.
security_usage_errors() {
	key=$(mktemp) && head -c 32 /dev/urandom >"$key" && chmod 600 "$key" &&
	run 2 migrate --vmm /x --to tcp:127.0.0.1:1 &&
		grep -q 'refusing an unauthenticated migration over TCP' "$err" &&
		[ ! -s "$out" ] &&
	run 2 incoming --vmm /x --listen tcp:127.0.0.1:0 &&
		grep -q 'refusing an unauthenticated migration over TCP' "$err" &&
	run 2 migrate --vmm /x --to tcp:127.0.0.1:1 --insecure --auth-key "$key" &&
		grep -q 'drop --insecure' "$err" &&
	run 2 migrate --vmm /x --to tcp:127.0.0.1:1 --auth-key /nonexistent/key &&
		grep -q -- '--auth-key /nonexistent/key: No such file' "$err" &&
	head -c 8 /dev/urandom >"$key" &&
	run 2 incoming --vmm /x --listen tcp:127.0.0.1:0 --auth-key "$key" &&
		grep -q 'too short a key' "$err" &&
	head -c 32 /dev/urandom >"$key" && chmod 644 "$key" &&
	run 2 incoming --vmm /x --listen tcp:127.0.0.1:0 --auth-key "$key" &&
		grep -q 'readable by everyone' "$err" &&
	chmod 600 "$key" &&
	run 1 migrate --vmm /nonexistent/vmm.sock --to tcp:127.0.0.1:1 --auth-key "$key" --json &&
		grep -q '"result":"failed"' "$out" &&
	run 2 migrate --vmm /x --to tcp:127.0.0.1:1 --tls-creds /x --tls-psk /y &&
		grep -q 'one or the other' "$err" &&
	run 0 migrate --help && grep -q -- '--auth-key FILE' "$out" &&
		grep -q -- '--tls-creds DIR' "$out" && grep -q -- '--insecure' "$out" &&
	rm -f "$key"
}

# The commit protocol's knobs and its way out.
deadline_usage_errors() {
	run 2 migrate --vmm x --to unix:/x --peer-timeout 0 &&
		grep -q "bad --peer-timeout '0'" "$err" &&
	run 2 incoming --vmm x --listen unix:/x --step-timeout 99999999 &&
		grep -q "bad --step-timeout" "$err" &&
	run 0 migrate --help && grep -q -- '--peer-timeout SEC' "$out" &&
		grep -q '4 outcome unknown' "$out"
}

resume_usage_and_failure() {
	run 2 resume && grep -q -- '--vmm is required' "$err" &&
	run 0 resume --help && grep -q 'outcome unknown' "$out" &&
	run 0 --help && grep -q '^  resume ' "$out" &&
	run 1 resume --vmm /nonexistent/vmm.sock &&
		grep -q "kmig: resume: cannot connect to the VMM at /nonexistent/vmm.sock" "$err"
}

cancel_bad_ids() {
	run 2 cancel 12 13 && run 2 cancel abc
}

cancel_without_module() {
	run 1 cancel && grep -q "family 'kmig' not found" "$err"
}

check "--help prints usage on stdout, exit 0" help_on_stdout
check "no command: usage on stderr, exit 2" no_command_is_usage_error
check "unknown command: usage on stderr, exit 2" unknown_command_is_usage_error
check "unknown status option: exit 2" unknown_option_is_usage_error
check "status --help" status_help
check "version works without the module" version_works_without_module
check "migrate: usage errors exit 2" migrate_usage_errors
check "migrate --compress: usage errors exit 2" compress_usage_errors
check "migrate --compress: the report names it" compress_in_report
check "incoming: usage errors exit 2" incoming_usage_errors
check "postcopy options, postcopy-recover: usage and help" postcopy_usage
check "security: unauthenticated TCP refused, key files checked" security_usage_errors
check "migrate, incoming, cancel: --help" help_texts
check "migrate without a VMM: exit 1, report says failed" migrate_without_vmm
check "incoming without a VMM: exit 1, report says failed" incoming_without_vmm
check "cancel: bad session ids exit 2" cancel_bad_ids
check "--peer-timeout, --step-timeout: usage errors exit 2" deadline_usage_errors
check "resume: usage, and a VMM that is not there" resume_usage_and_failure
if [ -e /dev/kmig ]; then
	skip "cancel without the family: exit 1" "kmig.ko is loaded here"
else
	check "cancel without the family: exit 1" cancel_without_module
fi
if [ -e /dev/kmig ]; then
	skip "status without the family: exit 1, clear message" "kmig.ko is loaded here"
else
	check "status without the family: exit 1, clear message" family_missing
fi
tap_done
