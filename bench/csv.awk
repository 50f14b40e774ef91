# bench/csv.awk: csvsplit(), shared by summarize.awk and plotdata.awk.
# Plain POSIX awk (mawk).

# Split one CSV line (RFC 4180 quoting, no embedded newlines) into f[1..n].
function csvsplit(line, f,    n, i, c, field, inq, len) {
	n = 0; field = ""; inq = 0; len = length(line)
	for (i = 1; i <= len; i++) {
		c = substr(line, i, 1)
		if (inq) {
			if (c == "\"") {
				if (substr(line, i + 1, 1) == "\"") {
					field = field "\""; i++
				} else
					inq = 0
			} else
				field = field c
		} else if (c == "\"")
			inq = 1
		else if (c == ",") {
			f[++n] = field; field = ""
		} else
			field = field c
	}
	f[++n] = field
	return n
}
