/*
 * test_redirect.c: the redirect parsers (mpsafe/net/redirect.h) on good
 * messages, on every truncation of them, and on headers that lie about
 * their lengths.  Each message is copied into a heap buffer of exactly
 * its length, so that under AddressSanitizer a read past the end is a
 * reported error, not a silent one.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/redirect.h>

TestSuite(redirect, .timeout = 60);

/* Parse a copy of exactly len bytes of msg. */
static int
parse_exact(int af, const uint8_t *msg, size_t len, struct redirect_info *ri)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int error;

	cr_assert_not_null(copy);
	memcpy(copy, msg, len);
	error = af == AF_INET ? icmp_redirect_parse(copy, len, ri)
	                      : icmp6_redirect_parse(copy, len, ri);
	free(copy);
	return error;
}

/* Recompute the ICMP checksum of msg after an edit. */
static void
fix_cksum(uint8_t *msg, size_t len)
{
	uint32_t sum = 0;

	msg[2] = msg[3] = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)msg[i] << 8 | msg[i + 1];
	if (len & 1)
		sum += (uint32_t)msg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	msg[2] = (uint8_t)(~sum >> 8);
	msg[3] = (uint8_t)~sum;
}

/* inet_cksum(): RFC 1071's worked example, an odd length, a whole header. */
Test(redirect, inet_cksum_known_values)
{
	/* RFC 1071 section 3: the sum of these words is 0xddf2. */
	static const uint8_t rfc[8] = {
	    0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	/* An IPv4 header whose checksum field (0xb861) is right. */
	static const uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
	    0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
	    0x00, 0xc7};
	uint8_t odd[3] = {0x12, 0x34, 0x56};

	cr_assert_eq(inet_cksum(rfc, sizeof(rfc)), (uint16_t)~0xddf2u);
	cr_assert_eq(inet_cksum(ip, sizeof(ip)), 0);
	/* An odd last byte counts as its word's high byte. */
	cr_assert_eq(inet_cksum(odd, 3), (uint16_t) ~(0x1234u + 0x5600u));
	cr_assert_eq(inet_cksum(odd, 0), 0xffff);
}

/* Past 128 KiB of 0xff a 32-bit sum would wrap: the sum is still 0. */
Test(redirect, inet_cksum_long_input)
{
	size_t len = 140000;
	uint8_t *buf = malloc(len);

	cr_assert_not_null(buf);
	memset(buf, 0xff, len);
	/* Every word is 0xffff, negative zero: the complement is 0. */
	cr_assert_eq(inet_cksum(buf, len), 0);
	buf[0] = 0xfe; /* one word 0xfeff: the sum is 0xfeff + k * 0xffff */
	cr_assert_eq(inet_cksum(buf, len), 0x0100);
	free(buf);
}

Test(redirect, icmp_good_message)
{
	struct in_addr gw, dst;
	struct redirect_info ri;
	uint8_t msg[128];
	size_t len;

	inet_pton(AF_INET, "192.0.2.254", &gw);
	inet_pton(AF_INET, "198.51.100.0", &dst);
	len = icmp_redirect_build(msg, sizeof(msg), 1, &gw, &dst);
	cr_assert_eq(len, ICMP_REDIRECT_MINLEN);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), 0);
	cr_assert_eq(ri.ri_af, AF_INET);
	cr_assert_eq(ri.ri_code, 1);
	cr_assert_eq(ri.ri_gw.ri_gw4.s_addr, gw.s_addr);
	cr_assert_eq(ri.ri_dst.ri_dst4.s_addr, dst.s_addr);
	cr_assert_eq(ri.ri_lladdr_len, 0);
	/* Trailing bytes (more of the original payload) are fine. */
	memset(msg + len, 0, 16);
	fix_cksum(msg, len + 16);
	cr_assert_eq(parse_exact(AF_INET, msg, len + 16, &ri), 0);
}

Test(redirect, icmp_every_truncation_is_refused)
{
	struct in_addr gw = {htonl(0x0a000001)}, dst = {htonl(0x0a000100)};
	struct redirect_info ri;
	uint8_t msg[64];
	size_t len = icmp_redirect_build(msg, sizeof(msg), 0, &gw, &dst);

	for (size_t n = 0; n < len; n++) {
		int error;

		memset(&ri, 0x5a, sizeof(ri));
		error = parse_exact(AF_INET, msg, n, &ri);
		cr_assert(error == EMSGSIZE || error == EBADMSG,
		    "truncated to %zu bytes: error %d", n, error);
		cr_assert_eq(ri.ri_af, 0x5a5a5a5a, "output written on error");
	}
}

Test(redirect, icmp_lying_header_length)
{
	struct in_addr gw = {htonl(0x0a000001)}, dst = {htonl(0x0a000100)};
	struct redirect_info ri;
	uint8_t msg[64];
	size_t len = icmp_redirect_build(msg, sizeof(msg), 0, &gw, &dst);

	/* IHL 15 claims a 60-byte inner header; 28 bytes follow. */
	msg[8] = 0x4f;
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EMSGSIZE);
	/* IHL 6: 24 bytes of header and 8 of payload need 4 more. */
	msg[8] = 0x46;
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EMSGSIZE);
	/* IHL below the minimum. */
	msg[8] = 0x44;
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EPROTO);
	/* Not IPv4 inside. */
	msg[8] = 0x65;
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EPROTO);
}

Test(redirect, icmp_bad_type_code_checksum)
{
	struct in_addr gw = {htonl(0x0a000001)}, dst = {htonl(0x0a000100)};
	struct redirect_info ri;
	uint8_t msg[64];
	size_t len = icmp_redirect_build(msg, sizeof(msg), 0, &gw, &dst);

	msg[30] ^= 1; /* payload changed, checksum not */
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EBADMSG);
	msg[30] ^= 1;
	msg[0] = 3; /* unreachable, not redirect */
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EPROTO);
	msg[0] = 5;
	msg[1] = 4; /* no such code */
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EPROTO);
	cr_assert_eq(icmp_redirect_parse(NULL, len, &ri), EINVAL);
	cr_assert_eq(icmp_redirect_parse(msg, len, NULL), EINVAL);
	cr_assert_eq(icmp_redirect_build(msg, len - 1, 0, &gw, &dst), 0);
	cr_assert_eq(icmp_redirect_build(msg, sizeof(msg), 4, &gw, &dst), 0);
}

/*
 * ICMP limits at their bounds, both sides: code 3 (the highest) is
 * built and parsed, code 4 is refused by both; an inner header of IHL 15
 * (60 bytes, the longest) followed by its 8 bytes of payload parses, one
 * byte less is EMSGSIZE; the builders fit in a buffer of exactly the
 * message's length and refuse one byte less.
 */
Test(redirect, icmp_limits_at_their_bounds)
{
	struct in_addr gw = {htonl(0x0a000001)}, dst = {htonl(0x0a000100)};
	struct in6_addr gw6, dst6;
	const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
	struct redirect_info ri;
	uint8_t msg[128], big[128];
	size_t len;

	len = icmp_redirect_build(msg, sizeof(msg), 3, &gw, &dst);
	cr_assert_eq(len, ICMP_REDIRECT_MINLEN, "code 3 not built");
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), 0);
	cr_assert_eq(ri.ri_code, 3);
	msg[1] = 4;
	fix_cksum(msg, len);
	cr_assert_eq(parse_exact(AF_INET, msg, len, &ri), EPROTO);
	cr_assert_eq(icmp_redirect_build(msg, sizeof(msg), 4, &gw, &dst), 0);

	/* IHL 15: 40 bytes of options (end of list) in the inner header. */
	len = icmp_redirect_build(msg, sizeof(msg), 0, &gw, &dst);
	memset(big, 0, sizeof(big));
	memcpy(big, msg, 28);
	memcpy(big + 68, msg + 28, 8);
	big[8] = 0x4f;
	fix_cksum(big, 76);
	memset(&ri, 0, sizeof(ri));
	cr_assert_eq(parse_exact(AF_INET, big, 76, &ri), 0, "IHL 15 refused");
	cr_assert_eq(ri.ri_dst.ri_dst4.s_addr, dst.s_addr);
	cr_assert_eq(ri.ri_gw.ri_gw4.s_addr, gw.s_addr);
	fix_cksum(big, 75);
	cr_assert_eq(parse_exact(AF_INET, big, 75, &ri), EMSGSIZE);

	/* Builders: exact fit, one byte short. */
	cr_assert_eq(
	    icmp_redirect_build(msg, ICMP_REDIRECT_MINLEN, 0, &gw, &dst),
	    ICMP_REDIRECT_MINLEN);
	cr_assert_eq(
	    icmp_redirect_build(msg, ICMP_REDIRECT_MINLEN - 1, 0, &gw, &dst),
	    0);
	inet_pton(AF_INET6, "fe80::1", &gw6);
	inet_pton(AF_INET6, "2001:db8:1::", &dst6);
	cr_assert_eq(icmp6_redirect_build(
	                 msg, ICMP6_REDIRECT_MINLEN, &gw6, &dst6, NULL, 0),
	    ICMP6_REDIRECT_MINLEN);
	cr_assert_eq(icmp6_redirect_build(
	                 msg, ICMP6_REDIRECT_MINLEN + 8, &gw6, &dst6, mac, 6),
	    ICMP6_REDIRECT_MINLEN + 8);
	cr_assert_eq(
	    parse_exact(AF_INET6, msg, ICMP6_REDIRECT_MINLEN + 8, &ri), 0);
	cr_assert_eq(icmp6_redirect_build(
	                 msg, ICMP6_REDIRECT_MINLEN + 7, &gw6, &dst6, mac, 6),
	    0);
	/* The longest link-layer address the builder takes: 14 bytes. */
	cr_assert_eq(
	    icmp6_redirect_build(msg, sizeof(msg), &gw6, &dst6, big, 14),
	    ICMP6_REDIRECT_MINLEN + 16);
	cr_assert_eq(
	    icmp6_redirect_build(msg, sizeof(msg), &gw6, &dst6, big, 15), 0);
}

Test(redirect, icmp6_good_message_with_lladdr)
{
	struct in6_addr gw, dst;
	const uint8_t mac[6] = {0x02, 0, 0x5e, 0, 0x53, 0x01};
	struct redirect_info ri;
	uint8_t msg[128];
	size_t len;

	inet_pton(AF_INET6, "fe80::1", &gw);
	inet_pton(AF_INET6, "2001:db8:1::", &dst);
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, mac, 6);
	cr_assert_eq(len, ICMP6_REDIRECT_MINLEN + 8);
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), 0);
	cr_assert_eq(ri.ri_af, AF_INET6);
	cr_assert_eq(memcmp(&ri.ri_gw.ri_gw6, &gw, 16), 0);
	cr_assert_eq(memcmp(&ri.ri_dst.ri_dst6, &dst, 16), 0);
	cr_assert_eq(ri.ri_lladdr_len, 6);
	cr_assert_eq(memcmp(ri.ri_lladdr, mac, 6), 0);

	/* Without the option. */
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, NULL, 0);
	cr_assert_eq(len, ICMP6_REDIRECT_MINLEN);
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), 0);
	cr_assert_eq(ri.ri_lladdr_len, 0);
}

/*
 * Every link-layer length the builder accepts parses back; the ones whose
 * padded option would exceed REDIRECT_LLADDR_MAX are refused by both.
 */
Test(redirect, icmp6_build_parse_every_lladdr_len)
{
	uint8_t msg[ICMP6_REDIRECT_MINLEN + 32], ll[REDIRECT_LLADDR_MAX];
	struct in6_addr gw, dst;
	struct redirect_info ri;

	memset(&gw, 0, sizeof(gw));
	memset(&dst, 0, sizeof(dst));
	gw.s6_addr[0] = 0xfe;
	gw.s6_addr[1] = 0x80;
	gw.s6_addr[15] = 1;
	dst.s6_addr[0] = 0x20;
	dst.s6_addr[15] = 7;
	for (size_t i = 0; i < sizeof(ll); i++)
		ll[i] = (uint8_t)(0xa0 + i);
	for (size_t n = 0; n <= REDIRECT_LLADDR_MAX; n++) {
		size_t len =
		    icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, ll, n);

		if (n > 14) {
			cr_assert_eq(len, 0, "lladdr_len %zu built", n);
			continue;
		}
		cr_assert_gt(len, 0, "lladdr_len %zu refused", n);
		cr_assert_eq(icmp6_redirect_parse(msg, len, &ri), 0,
		    "lladdr_len %zu: built but not parsed", n);
		cr_assert_geq(ri.ri_lladdr_len, n);
		cr_assert_eq(memcmp(ri.ri_lladdr, ll, n), 0);
	}
}

Test(redirect, icmp6_every_truncation_is_refused)
{
	struct in6_addr gw, dst;
	const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
	struct redirect_info ri;
	uint8_t msg[128];
	size_t len;

	inet_pton(AF_INET6, "fe80::1", &gw);
	inet_pton(AF_INET6, "2001:db8:1::", &dst);
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, mac, 6);
	for (size_t n = 0; n < len; n++) {
		int error = parse_exact(AF_INET6, msg, n, &ri);

		/*
		 * Cut exactly after the fixed part, it is a valid message
		 * without options; anywhere else something is cut short.
		 */
		if (n == ICMP6_REDIRECT_MINLEN)
			cr_assert_eq(error, 0);
		else
			cr_assert_eq(
			    error, EMSGSIZE, "truncated to %zu: %d", n, error);
	}
}

Test(redirect, icmp6_lying_option_lengths)
{
	struct in6_addr gw, dst;
	const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
	struct redirect_info ri;
	uint8_t msg[128];
	size_t len;

	inet_pton(AF_INET6, "fe80::1", &gw);
	inet_pton(AF_INET6, "2001:db8:1::", &dst);
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, mac, 6);
	/* Length 0 would loop for ever. */
	msg[41] = 0;
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EPROTO);
	/* Length 2 (16 bytes) where 8 remain. */
	msg[41] = 2;
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EMSGSIZE);
	/* Length 255: far past the end. */
	msg[41] = 255;
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EMSGSIZE);
	/* A second option whose header is cut after its type byte. */
	msg[41] = 1;
	msg[len] = 1;
	cr_assert_eq(parse_exact(AF_INET6, msg, len + 1, &ri), EMSGSIZE);
	/* A link-layer option too long to keep (3 units: 22 bytes). */
	memset(msg + len, 0, 24);
	msg[41] = 4;
	cr_assert_eq(parse_exact(AF_INET6, msg, len + 24, &ri), EPROTO);
}

Test(redirect, icmp6_bad_type_code_destination)
{
	struct in6_addr gw, dst, mcast;
	struct redirect_info ri;
	uint8_t msg[128];
	size_t len;

	inet_pton(AF_INET6, "fe80::1", &gw);
	inet_pton(AF_INET6, "2001:db8:1::", &dst);
	inet_pton(AF_INET6, "ff02::1", &mcast);
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, NULL, 0);
	msg[0] = 136;
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EPROTO);
	msg[0] = 137;
	msg[1] = 1;
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EPROTO);
	len = icmp6_redirect_build(msg, sizeof(msg), &gw, &mcast, NULL, 0);
	cr_assert_eq(parse_exact(AF_INET6, msg, len, &ri), EPROTO);
	cr_assert_eq(icmp6_redirect_parse(NULL, len, &ri), EINVAL);
	cr_assert_eq(icmp6_redirect_build(msg, sizeof(msg), &gw, &dst, NULL,
	                 REDIRECT_LLADDR_MAX + 1),
	    0);
	cr_assert_eq(icmp6_redirect_build(msg, 39, &gw, &dst, NULL, 0), 0);
}

/* Random bytes never crash nor read past the end (ASan would say). */
Test(redirect, random_bytes)
{
	unsigned seed = 12345;
	uint8_t msg[96];
	struct redirect_info ri;
	unsigned accepted = 0;

	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)rand_r(&seed) % sizeof(msg);

		for (size_t j = 0; j < n; j++)
			msg[j] = (uint8_t)rand_r(&seed);
		if (n > 1 && (i & 1)) {
			msg[0] = (i & 2) ? 5 : 137;
			msg[1] = 0;
		}
		accepted += parse_exact(AF_INET, msg, n, &ri) == 0;
		accepted += parse_exact(AF_INET6, msg, n, &ri) == 0;
	}
	cr_log_info("random bytes: %u accepted", accepted);
}
