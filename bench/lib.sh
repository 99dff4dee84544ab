# SPDX-License-Identifier: GPL-2.0
#
# Shell helpers shared by the kmig benchmarks that run inside the sandbox
# (bench/migrate.sh, bench/secure.sh). Source it.

calc() { awk "BEGIN { print $* }"; }

# CPU seconds (user + system) of kmig's worker kthreads, summed over the
# largest value seen for each: they exit with their session.
sample_kthreads() {
	local f=$1
	while :; do
		for s in /proc/[0-9]*/stat; do
			read -r line 2>/dev/null <"$s" || continue
			case $line in
			*"(kmig/"*) echo "$line" ;;
			esac
		done | awk '{ print $1, $14 + $15 }' >>"$f"
		sleep 0.2
	done
}

# First "key": number in a JSON document (kmigctl --json output); empty
# when there is none.
json_num() {
	{ grep -o "\"$1\": *[0-9.]*" "$2" || true; } | head -n 1 |
		sed 's/.*: *//'
}
