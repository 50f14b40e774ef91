/*
 * src/net/redirect.c: parsing and building ICMP and ICMPv6 redirects (see
 * mpsafe/net/redirect.h).
 *
 * The one rule: a length read from the message is checked against the
 * bytes left before anything it describes is read.  Each parser keeps
 * (p, left), the read position and the bytes after it, and reads only
 * through red_need(), which refuses a read of more than left.  Fields are
 * copied out with memcpy, so no unaligned access happens whatever buf's
 * alignment.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <mpsafe/net/redirect.h>

#define ICMP_TYPE_REDIRECT 5
#define ICMP6_TYPE_REDIRECT 137
#define ICMP_HDRLEN 8
#define IP_MINHLEN 20
#define ICMP_INNER_PAYLOAD 8 /* bytes of the original payload required */
#define ND_OPT_TARGET_LLADDR 2
#define ND_OPT_UNIT 8

/* A cursor over the message: never reads past p + left. */
struct red_cursor {
	const uint8_t *p;
	size_t left;
};

/* Whether n more bytes are there to read. */
static bool
red_need(const struct red_cursor *c, size_t n)
{
	return n <= c->left;
}

static void
red_skip(struct red_cursor *c, size_t n)
{
	c->p += n;
	c->left -= n;
}

uint16_t
inet_cksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/*
	 * 64 bits: each word adds at most 0xffff, so the sum cannot wrap
	 * before 2^48 words (a 32-bit sum wraps at 128 KiB of 0xff).
	 */
	uint64_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len == 1)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int
icmp_redirect_parse(const void *buf, size_t len, struct redirect_info *ri)
{
	struct red_cursor c = {buf, len};
	struct redirect_info out;
	size_t ihl;

	if (buf == NULL || ri == NULL)
		return EINVAL;
	if (!red_need(&c, ICMP_HDRLEN))
		return EMSGSIZE;
	if (c.p[0] != ICMP_TYPE_REDIRECT)
		return EPROTO;
	if (c.p[1] > 3)
		return EPROTO;
	/* Over the whole message, stored checksum included: 0 if right. */
	if (inet_cksum(c.p, c.left) != 0)
		return EBADMSG;
	memset(&out, 0, sizeof(out));
	out.ri_af = AF_INET;
	out.ri_code = c.p[1];
	memcpy(&out.ri_gw.ri_gw4, c.p + 4, 4);
	red_skip(&c, ICMP_HDRLEN);

	/* The inner IP header: its IHL is a claim, checked before use. */
	if (!red_need(&c, IP_MINHLEN))
		return EMSGSIZE;
	if ((c.p[0] >> 4) != 4)
		return EPROTO;
	ihl = (size_t)(c.p[0] & 0x0f) * 4;
	if (ihl < IP_MINHLEN)
		return EPROTO;
	if (!red_need(&c, ihl + ICMP_INNER_PAYLOAD))
		return EMSGSIZE;
	memcpy(&out.ri_dst.ri_dst4, c.p + 16, 4);
	*ri = out;
	return 0;
}

int
icmp6_redirect_parse(const void *buf, size_t len, struct redirect_info *ri)
{
	struct red_cursor c = {buf, len};
	struct redirect_info out;

	if (buf == NULL || ri == NULL)
		return EINVAL;
	if (!red_need(&c, ICMP6_REDIRECT_MINLEN))
		return EMSGSIZE;
	if (c.p[0] != ICMP6_TYPE_REDIRECT || c.p[1] != 0)
		return EPROTO;
	memset(&out, 0, sizeof(out));
	out.ri_af = AF_INET6;
	memcpy(&out.ri_gw.ri_gw6, c.p + 8, 16);
	memcpy(&out.ri_dst.ri_dst6, c.p + 24, 16);
	if (IN6_IS_ADDR_MULTICAST(&out.ri_dst.ri_dst6))
		return EPROTO;
	red_skip(&c, ICMP6_REDIRECT_MINLEN);

	/* Options: each states its length; 0 would never advance. */
	while (c.left > 0) {
		size_t olen;

		if (!red_need(&c, 2))
			return EMSGSIZE;
		olen = (size_t)c.p[1] * ND_OPT_UNIT;
		if (olen == 0)
			return EPROTO;
		if (!red_need(&c, olen))
			return EMSGSIZE;
		if (c.p[0] == ND_OPT_TARGET_LLADDR) {
			size_t lllen = olen - 2;

			/* Ethernet's 6 bytes come padded to 8 with the header.
			 */
			if (lllen > REDIRECT_LLADDR_MAX)
				return EPROTO;
			memcpy(out.ri_lladdr, c.p + 2, lllen);
			out.ri_lladdr_len = (uint8_t)lllen;
		}
		red_skip(&c, olen);
	}
	*ri = out;
	return 0;
}

size_t
icmp_redirect_build(void *buf, size_t cap, uint8_t code,
    const struct in_addr *gw, const struct in_addr *dst)
{
	const size_t len = ICMP_HDRLEN + IP_MINHLEN + ICMP_INNER_PAYLOAD;
	uint8_t *p = buf;
	uint16_t sum;

	if (buf == NULL || gw == NULL || dst == NULL || code > 3 || cap < len)
		return 0;
	memset(p, 0, len);
	p[0] = ICMP_TYPE_REDIRECT;
	p[1] = code;
	memcpy(p + 4, gw, 4);
	/* The inner header: version 4, IHL 5, length 28, protocol UDP. */
	p[8] = 0x45;
	p[8 + 3] = IP_MINHLEN + ICMP_INNER_PAYLOAD;
	p[8 + 8] = 64;
	p[8 + 9] = 17;
	memcpy(p + 8 + 16, dst, 4);
	sum = inet_cksum(p, len);
	p[2] = (uint8_t)(sum >> 8);
	p[3] = (uint8_t)sum;
	return len;
}

size_t
icmp6_redirect_build(void *buf, size_t cap, const struct in6_addr *gw,
    const struct in6_addr *dst, const void *lladdr, size_t lladdr_len)
{
	size_t optlen = 0, len;
	uint8_t *p = buf;

	if (buf == NULL || gw == NULL || dst == NULL ||
	    lladdr_len > REDIRECT_LLADDR_MAX || (lladdr_len > 0 && !lladdr))
		return 0;
	if (lladdr_len > 0)
		optlen = (2 + lladdr_len + ND_OPT_UNIT - 1) / ND_OPT_UNIT *
		         ND_OPT_UNIT;
	/*
	 * The option carries the address padded to its 8-byte units, and
	 * the parser reports (and bounds) the padded length: refuse what it
	 * would refuse (15 or 16 bytes pad to 22).
	 */
	if (optlen > 0 && optlen - 2 > REDIRECT_LLADDR_MAX)
		return 0;
	len = ICMP6_REDIRECT_MINLEN + optlen;
	if (cap < len)
		return 0;
	memset(p, 0, len);
	p[0] = ICMP6_TYPE_REDIRECT;
	memcpy(p + 8, gw, 16);
	memcpy(p + 24, dst, 16);
	if (optlen > 0) {
		p[40] = ND_OPT_TARGET_LLADDR;
		p[41] = (uint8_t)(optlen / ND_OPT_UNIT);
		memcpy(p + 42, lladdr, lladdr_len);
	}
	return len;
}
