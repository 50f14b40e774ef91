#!/bin/sh
# check-layering.sh ROOT
#
# Enforce the layering of docs (ARCHITECTURE.md, "Layers") on the source
# tree at ROOT:
#
# 1. Layer 1 (include/mpsafe/*.h, src/*.c, src/*.h; not src/net/) never
#    includes layer 2: no "mpsafe/net/..." in any form, no "net/..." in
#    quotes.  (<net/if.h> and friends are the system's, and allowed.)
# 2. Layer 2 (include/mpsafe/net/**, src/net/**) is written against the
#    public headers only: no "../", no header of the library's private
#    src/ directory (such as "mpsafe_impl.h"), and every <mpsafe/...> it
#    names must be a public header under include/.  Its own headers
#    (quoted, next to the includer) and system headers are fine.
#
# Prints every violation as FILE:LINE: message and exits 1 if there is one.
set -eu
set -f # include targets are not globs

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 SOURCE_ROOT" >&2
	exit 2
fi
root=$(cd "$1" && pwd)
violations=0

# Print "LINE TARGET" for each #include of FILE; TARGET keeps its <> or "".
includes()
{
	awk '
	/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
		s = $0
		sub(/^[ \t]*#[ \t]*include[ \t]*/, "", s)
		if (match(s, /^<[^>]*>/) || match(s, /^"[^"]*"/))
			print FNR, substr(s, RSTART, RLENGTH)
	}' "$1"
}

violation()
{
	echo "$1: $2"
	violations=$((violations + 1))
}

# Files of a layer, one per line (find so that subdirectories count).
layer1_files()
{
	if [ -d "$root/include/mpsafe" ]; then
		find "$root/include/mpsafe" -maxdepth 1 -type f -name '*.h'
	fi
	if [ -d "$root/src" ]; then
		find "$root/src" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \)
	fi
}

layer2_files()
{
	for d in "$root/include/mpsafe/net" "$root/src/net"; do
		if [ -d "$d" ]; then
			find "$d" -type f \( -name '*.c' -o -name '*.h' \)
		fi
	done
}

tmp=$(mktemp "${TMPDIR:-/tmp}/check-layering.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# --- rule 1 -----------------------------------------------------------------
layer1_files | sort >"$tmp.files"
while IFS= read -r f; do
	rel=${f#"$root"/}
	includes "$f" >"$tmp"
	while read -r line target; do
		case $target in
		*mpsafe/net/*)
			violation "$rel:$line" "layer 1 includes the network stack: $target" ;;
		\"net/* | \"*/net/*)
			violation "$rel:$line" "layer 1 includes the network stack: $target" ;;
		esac
	done <"$tmp"
done <"$tmp.files"

# --- rule 2 -----------------------------------------------------------------
layer2_files | sort >"$tmp.files"
while IFS= read -r f; do
	rel=${f#"$root"/}
	dir=$(dirname "$f")
	includes "$f" >"$tmp"
	while read -r line target; do
		path=${target#?}
		path=${path%?}
		case $path in
		../* | */../* | */.. | ..)
			violation "$rel:$line" "relative include out of the layer: $target"
			continue ;;
		src/*)
			violation "$rel:$line" "includes a library source path: $target"
			continue ;;
		esac
		case $target in
		\"*)
			# Its own header next to it is fine; a private header of
			# src/ is not.
			if [ -f "$dir/$path" ]; then
				continue
			fi
			if [ -f "$root/src/$path" ]; then
				violation "$rel:$line" "includes library-private header $target (use the public <mpsafe/...> API)"
				continue
			fi
			case $path in
			mpsafe/*)
				if [ ! -f "$root/include/$path" ]; then
					violation "$rel:$line" "$target is not a public header"
				fi ;;
			esac ;;
		\<*)
			if [ -f "$root/src/$path" ]; then
				violation "$rel:$line" "includes library-private header $target (use the public <mpsafe/...> API)"
				continue
			fi
			case $path in
			mpsafe/*)
				if [ ! -f "$root/include/$path" ]; then
					violation "$rel:$line" "$target is not a public header under include/"
				fi ;;
			esac ;;
		esac
		case $path in
		mpsafe_impl.h | */mpsafe_impl.h)
			violation "$rel:$line" "includes library-private header $target" ;;
		esac
	done <"$tmp"
done <"$tmp.files"
rm -f "$tmp.files"

if [ "$violations" -ne 0 ]; then
	echo "check-layering: $violations violation(s) of the layering rules (docs: ARCHITECTURE.md, Layers)"
	exit 1
fi
echo "check-layering: $root: layers are clean"
