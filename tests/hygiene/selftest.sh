#!/bin/sh
# selftest.sh HYGIENE_DIR SHARED_LIBRARY
#
# Check that check-layering.sh and check-symbols.sh accept good input and
# reject broken input, on small trees made up here (nothing is written
# outside a temporary directory).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 HYGIENE_DIR SHARED_LIBRARY" >&2
	exit 2
fi
here=$1
lib=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hygiene-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

expect()
{
	want=$1
	what=$2
	shift 2
	if "$@" >"$tmp/out" 2>&1; then
		got=pass
	else
		got=fail
	fi
	if [ "$got" = "$want" ]; then
		echo "ok: $what ($got)"
	else
		echo "NOT OK: $what: expected $want, got $got; output:"
		sed 's/^/    /' "$tmp/out"
		failures=$((failures + 1))
	fi
}

# A clean two-layer tree.
mktree()
{
	t=$tmp/$1
	mkdir -p "$t/include/mpsafe/net" "$t/src/net"
	printf '#include <stdint.h>\n#include <mpsafe/export.h>\n' \
	    >"$t/include/mpsafe/pserialize.h"
	: >"$t/include/mpsafe/export.h"
	printf '#include <mpsafe/pserialize.h>\n' >"$t/include/mpsafe/net/if.h"
	printf '#include <pthread.h>\n#include "mpsafe_impl.h"\n#include <net/if.h>\n' \
	    >"$t/src/pserialize.c"
	: >"$t/src/mpsafe_impl.h"
	: >"$t/src/net/net_impl.h"
	printf '#include <net/if.h>\n#include <mpsafe/net/if.h>\n#include "net_impl.h"\n' \
	    >"$t/src/net/if.c"
	echo "$t"
}

layering()
{
	sh "$here/check-layering.sh" "$@"
}

t=$(mktree good)
expect pass "layering: clean tree" layering "$t"

t=$(mktree core-net)
echo '#include <mpsafe/net/if.h>' >>"$t/src/pserialize.c"
expect fail "layering: src/*.c includes <mpsafe/net/...>" layering "$t"

t=$(mktree core-net-quoted)
echo '#include "net/if.h"' >>"$t/include/mpsafe/pserialize.h"
expect fail "layering: public header includes \"net/...\"" layering "$t"

t=$(mktree net-impl)
echo '#include "mpsafe_impl.h"' >>"$t/src/net/if.c"
expect fail "layering: src/net includes \"mpsafe_impl.h\"" layering "$t"

t=$(mktree net-impl-angle)
echo '#include <mpsafe_impl.h>' >>"$t/include/mpsafe/net/if.h"
expect fail "layering: net header includes <mpsafe_impl.h>" layering "$t"

t=$(mktree net-dotdot)
echo '#include "../thread.h"' >>"$t/src/net/if.c"
expect fail "layering: src/net includes \"../...\"" layering "$t"

t=$(mktree net-nonpublic)
echo '#include <mpsafe/private.h>' >>"$t/src/net/if.c"
expect fail "layering: src/net includes a non-public <mpsafe/...>" layering "$t"

symbols()
{
	sh "$here/check-symbols.sh" "$@"
}
expect pass "symbols: $lib against symbols.allow" \
    symbols "$here/symbols.allow" "$lib"
printf '# nothing of ours\nzzz_\n' >"$tmp/none.allow"
expect fail "symbols: $lib against an allowlist that fits nothing" \
    symbols "$tmp/none.allow" "$lib"
: >"$tmp/empty.allow"
expect fail "symbols: empty allowlist is an error" \
    symbols "$tmp/empty.allow" "$lib"

if [ "$failures" -ne 0 ]; then
	echo "selftest: $failures check(s) misbehaved"
	exit 1
fi
echo "selftest: all checks behave"
