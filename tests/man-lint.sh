#!/bin/sh
# man-lint.sh MANDIR: lint every mdoc page with mandoc at warning level.
# The CONTEXT section the project's pages carry (as NetBSD's section 9
# pages do) draws mandoc's "for 9 only" warning, which is expected.
set -eu
status=0
for page in "$1"/*.3; do
	out=$(mandoc -Tlint -Wwarning "$page" 2>&1 |
	    grep -v -e 'Sh CONTEXT for 9 only' -e 'mandoc.db' || true)
	if [ -n "$out" ]; then
		echo "$out"
		status=1
	fi
done
exit $status
