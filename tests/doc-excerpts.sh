#!/bin/sh
# doc-excerpts.sh DOCDIR EXAMPLEDIR: every ```c block of DOCDIR/*.md must
# appear, as consecutive lines, in one of EXAMPLEDIR's .c or .h files, so
# that a page never shows code that the tests do not compile and run.
set -eu
status=0
for page in "$1"/*.md; do
	LC_ALL=C awk -v page="$page" '
	BEGIN {
		for (i = 1; i < ARGC; i++) {
			text = ""
			while ((getline line < ARGV[i]) > 0)
				text = text line "\n"
			close(ARGV[i])
			corpus[ARGV[i]] = text
		}
		inblock = 0; n = 0; bad = 0
		while ((getline line < page) > 0) {
			if (!inblock && line ~ /^```c[ \t]*$/) {
				inblock = 1; block = ""
			} else if (inblock && line ~ /^```[ \t]*$/) {
				inblock = 0; n++; found = 0
				for (f in corpus)
					if (index(corpus[f], block) > 0)
						found = 1
				if (!found) {
					printf "%s: code block %d is in no example:\n%s",
					    page, n, block
					bad = 1
				}
			} else if (inblock) {
				block = block line "\n"
			}
		}
		exit bad
	}' "$2"/*.c "$2"/*.h || status=1
done
exit $status
