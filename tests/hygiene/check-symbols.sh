#!/bin/sh
# check-symbols.sh ALLOW_FILE LIBRARY
#
# Fail, listing them, if LIBRARY (a shared object or a static archive)
# defines a global symbol whose name does not start with one of the
# prefixes in ALLOW_FILE (one per line; '#' starts a comment).
#
# Shared objects: the dynamic symbol table (nm -D --defined-only), i.e.
# what a program can bind to.  Archives: every global definition
# (nm -g --defined-only), hidden ones included, since they all share the
# namespace of a program that links the archive statically.
#
# Linker-made symbols (_init, _edata, ...), absolute symbols (version
# nodes) and sanitizer instrumentation are ignored.  NM names the nm to
# use (default: nm).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 ALLOW_FILE LIBRARY" >&2
	exit 2
fi
allow=$1
lib=$2
nm=${NM:-nm}

if [ ! -r "$allow" ]; then
	echo "check-symbols: cannot read allow file $allow" >&2
	exit 2
fi
if [ ! -r "$lib" ]; then
	echo "check-symbols: cannot read library $lib" >&2
	exit 2
fi

prefixes=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$allow" | grep -v '^$' || true)
if [ -z "$prefixes" ]; then
	echo "check-symbols: $allow lists no prefix" >&2
	exit 2
fi

case $lib in
*.a) opts="-g --defined-only" ;;
*) opts="-D --defined-only" ;;
esac

tmp=$(mktemp "${TMPDIR:-/tmp}/check-symbols.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
if ! "$nm" $opts "$lib" >"$tmp"; then
	echo "check-symbols: $nm $opts $lib failed" >&2
	exit 2
fi

# Lines "ADDRESS TYPE NAME"; archive member headers and blank lines have
# other shapes.  Print "TYPE NAME" for the symbols that count.
symbols=$(awk '
NF == 3 && length($2) == 1 {
	type = $2
	name = $3
	sub(/@.*/, "", name)            # version suffix: foo@@V1
	if (type == "A" || type == "N" || type == "U")
		next
	if (name ~ /^(_init|_fini|_edata|_end|__end__|__bss_start|__bss_start__|__bss_end__|_bss_end__|__data_start|data_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_|__dso_handle|__TMC_END__|_IO_stdin_used|__gmon_start__)$/)
		next
	if (name ~ /^__(asan|tsan|ubsan|lsan|msan|sanitizer|odr_asan)/)
		next
	print type, name
}' "$tmp" | sort -u -k2)

count=$(printf '%s\n' "$symbols" | grep -c . || true)
if [ "$count" -eq 0 ]; then
	echo "check-symbols: $lib defines no global symbol; wrong file?" >&2
	exit 1
fi

bad=$(printf '%s\n' "$symbols" | awk -v prefixes="$prefixes" '
BEGIN { n = split(prefixes, p, "\n") }
NF == 2 {
	ok = 0
	for (i = 1; i <= n; i++)
		if (index($2, p[i]) == 1) { ok = 1; break }
	if (!ok)
		print "  " $1 " " $2
}')

if [ -n "$bad" ]; then
	echo "check-symbols: $lib exports symbols outside $allow:"
	printf '%s\n' "$bad"
	echo "(give them a listed prefix, make them static, or drop MPSAFE_API)"
	exit 1
fi
echo "check-symbols: $lib: $count symbols, all with allowed prefixes"
