#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Documentation/netlink/specs/kmig.yaml against uapi/linux/kmig.h: every
# name the YNL spec implies (family, version, attributes, commands, enum
# entries) has the same value in the header, as the C compiler sees it.

. "$(dirname "$0")/tap.sh"
: "${O:?set O to the build directory}"
top=$(cd "$(dirname "$0")/../.." && pwd)
spec=$top/Documentation/netlink/specs/kmig.yaml

if ! python3 -c 'import yaml' 2>/dev/null; then
	skip "spec matches uapi/linux/kmig.h" "python3 yaml module not found"
	tap_done
	exit
fi

mkdir -p "$O/tests"
# The spec as "C expression<TAB>expected value" lines, per YNL's rules:
# values count up from 1 (or value-start) unless an entry gives its own.
generate() {
python3 - "$spec" "$O/tests/spec_values" <<'PY'
import sys, yaml

spec = yaml.safe_load(open(sys.argv[1]))
lines = []
def print(line):
    lines.append(line)
def c(name):
    return name.upper().replace('-', '_')

# Keys YNL's genetlink-legacy schema knows, so a typo cannot pass silently.
top = {'name', 'doc', 'protocol', 'uapi-header', 'c-family-name',
       'c-version-name', 'max-by-define', 'kernel-policy', 'version',
       'definitions', 'attribute-sets', 'operations', 'mcast-groups'}
attr_keys = {'name', 'type', 'doc', 'value', 'enum', 'checks', 'byte-order',
             'multi-attr', 'nested-attributes', 'display-hint'}
for k in spec:
    assert k in top, 'unknown top-level key ' + k
assert spec['protocol'] == 'genetlink-legacy'

print('KMIG_GENL_NAME\t"%s"' % spec['name'])
print('KMIG_GENL_VERSION\t%d' % spec['version'])
assert c(spec['c-family-name']) == 'KMIG_GENL_NAME'
assert c(spec['c-version-name']) == 'KMIG_GENL_VERSION'

for d in spec['definitions']:
    val = d.get('value-start', 0)
    for e in d['entries']:
        e = e if isinstance(e, dict) else {'name': e}
        val = e.get('value', val)
        print('%s%s\t%d' % (c(d['name-prefix']), c(e['name']), val))
        val += 1

for s in spec['attribute-sets']:
    val = 1
    for a in s['attributes']:
        for k in a:
            assert k in attr_keys, 'unknown attribute key ' + k
        assert a['type'] in ('unused', 'pad', 'u32', 'u64')
        val = a.get('value', val)
        print('%s%s\t%d' % (c(s['name-prefix']), c(a['name']), val))
        if 'enum' in a:
            assert a['enum'] in [d['name'] for d in spec['definitions']]
        val += 1
    print('%s\t%d' % (c(s['attr-max-name']), val - 1))
    print('%s\t%d' % (c(s['attr-cnt-name']), val))

ops = spec['operations']
val = 1
names = [a['name'] for s in spec['attribute-sets'] for a in s['attributes']]
for op in ops['list']:
    val = op.get('value', val)
    print('%s%s\t%d' % (c(ops['name-prefix']), c(op['name']), val))
    for kind in ('do', 'dump'):
        for part in ('request', 'reply'):
            for a in op.get(kind, {}).get(part, {}).get('attributes', []):
                assert a in names, 'unknown attribute ' + a
    val += 1
print('KMIG_NL_CMD_MAX\t%d' % (val - 1))

# The expected values, and a C program that prints the header's.
out = sys.argv[2]
with open(out + '.txt', 'w') as f:
    f.write(''.join(l + '\n' for l in lines))
with open(out + '.c', 'w') as f:
    f.write('#include <stdio.h>\n#include <linux/kmig.h>\nint main(void)\n{\n')
    for l in lines:
        expr, want = l.split('\t')
        if want.startswith('"'):
            f.write('\tprintf("%%s\\t\\"%%s\\"\\n", "%s", %s);\n' % (expr, expr))
        else:
            f.write('\tprintf("%%s\\t%%d\\n", "%s", (int)(%s));\n' % (expr, expr))
    f.write('\treturn 0;\n}\n')
PY
}

compiled() {
	${CC:-cc} -Wall -Werror -I"$top/uapi" -o "$O/tests/spec_values" \
		"$O/tests/spec_values.c"
}

values_match() {
	"$O/tests/spec_values" >"$O/tests/spec_values.got" || return 1
	diff -u "$O/tests/spec_values.txt" "$O/tests/spec_values.got" >"$O/tests/spec_values.diff"
	rc=$?
	sed 's/^/# /' "$O/tests/spec_values.diff"
	return $rc
}

if ! generate; then
	check "spec is well-formed" false
	tap_done
	exit
fi
check "every spec name exists in uapi/linux/kmig.h" compiled
check "spec values equal the header's ($(wc -l <"$O/tests/spec_values.txt") names)" values_match
tap_done
