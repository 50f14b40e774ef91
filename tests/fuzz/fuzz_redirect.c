/*
 * fuzz_redirect.c: libFuzzer harness of the redirect parsers
 * (mpsafe/net/redirect.h).
 *
 * The input's first byte picks the parser (even: ICMP, odd: ICMPv6); the
 * rest is the message, copied into a heap buffer of exactly its length
 * so that AddressSanitizer reports any read past the end.  A message a
 * parser accepts must survive a round trip: building a redirect from
 * the fields it returned and parsing that gives the same fields.
 *
 * With bit 1 of the first byte set, an ICMP input is also handed to
 * ip_redirect_input() on a small routing table: once as a whole IPv4
 * packet (the outer header's checks), and once behind a valid 20-byte
 * header from one of four sources (bits 2-3: the table's two routers,
 * a stranger, a host with no route), with the ICMP checksum fixed when
 * bit 4 is set, so the route rules are reached.  Each call must return
 * one of the documented errors, and a refusal must leave the table's
 * generation as it was.  The table is rebuilt when it grows past a few
 * dozen routes (host redirects add one each).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/redirect.h>
#include <mpsafe/net/route.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fields that a rebuilt message must reproduce. */
static int
same(const struct redirect_info *a, const struct redirect_info *b)
{
	if (a->ri_af != b->ri_af || a->ri_code != b->ri_code)
		return 0;
	if (a->ri_af == AF_INET)
		return memcmp(&a->ri_dst.ri_dst4, &b->ri_dst.ri_dst4, 4) == 0 &&
		       memcmp(&a->ri_gw.ri_gw4, &b->ri_gw.ri_gw4, 4) == 0;
	return memcmp(&a->ri_dst.ri_dst6, &b->ri_dst.ri_dst6, 16) == 0 &&
	       memcmp(&a->ri_gw.ri_gw6, &b->ri_gw.ri_gw6, 16) == 0 &&
	       a->ri_lladdr_len == b->ri_lladdr_len &&
	       memcmp(a->ri_lladdr, b->ri_lladdr, a->ri_lladdr_len) == 0;
}

static struct rt_table *tbl;

static int
add4(const char *dst, int plen, const char *gw, unsigned ifindex)
{
	union rt_sockaddr d, g;
	struct rt_addrinfo info;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	memset(&info, 0, sizeof(info));
	d.sin.sin_family = AF_INET;
	inet_pton(AF_INET, dst, &d.sin.sin_addr);
	info.rti_dst = &d.sa;
	info.rti_plen = plen;
	info.rti_ifindex = ifindex;
	if (gw != NULL) {
		g.sin.sin_family = AF_INET;
		inet_pton(AF_INET, gw, &g.sin.sin_addr);
		info.rti_gateway = &g.sa;
		info.rti_flags = MPSAFE_RTF_GATEWAY;
	}
	return rtrequest(tbl, MPSAFE_RTM_ADD, &info, NULL);
}

/* The table: 10/8 and 172.16/12 via two routers, 192.0.2/24 direct. */
static void
table_reset(void)
{
	if (tbl != NULL)
		rt_table_destroy(tbl);
	if (rt_table_create(&tbl, NULL) != 0 ||
	    add4("10.0.0.0", 8, "192.0.2.1", 1) != 0 ||
	    add4("172.16.0.0", 12, "192.0.2.2", 2) != 0 ||
	    add4("192.0.2.0", 24, NULL, 1) != 0)
		abort();
}

/* ip_redirect_input() on an exact copy; checks the result's contract. */
static void
apply(const uint8_t *pkt, size_t len)
{
	struct rt_table_stats before, after;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int error;

	if (copy == NULL)
		return;
	memcpy(copy, pkt, len);
	rt_table_stats(tbl, &before);
	error = ip_redirect_input(tbl, copy, len);
	free(copy);
	rt_table_stats(tbl, &after);
	switch (error) {
	case 0:
		if (after.rts_generation_inet == before.rts_generation_inet)
			abort(); /* success that changed nothing */
		break;
	case EMSGSIZE:
	case EPROTO:
	case EBADMSG:
	case EPERM:
	case EHOSTUNREACH:
	case EALREADY:
	case ENOMEM:
		if (after.rts_generation_inet != before.rts_generation_inet ||
		    after.rts_entries_inet != before.rts_entries_inet)
			abort(); /* a refusal changed the table */
		break;
	default:
		abort(); /* an undocumented error */
	}
	if (after.rts_entries_inet > 64)
		table_reset();
}

/* The ICMP message msg (n bytes) behind a valid IPv4 header. */
static void
apply_wrapped(const uint8_t *msg, size_t n, unsigned mode)
{
	static const uint8_t srcs[4][4] = {
	    {192, 0, 2, 1}, {192, 0, 2, 2}, {192, 0, 2, 9}, {198, 51, 100, 1}};
	uint8_t *pkt;
	uint16_t sum;

	if (n > 65535 - 20)
		return;
	pkt = calloc(1, 20 + n);
	if (pkt == NULL)
		return;
	memcpy(pkt + 20, msg, n);
	if ((mode & 0x10) && n >= 4) {
		pkt[22] = pkt[23] = 0;
		sum = inet_cksum(pkt + 20, n);
		pkt[22] = (uint8_t)(sum >> 8);
		pkt[23] = (uint8_t)sum;
	}
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((20 + n) >> 8);
	pkt[3] = (uint8_t)(20 + n);
	pkt[8] = 64;
	pkt[9] = 1;
	memcpy(pkt + 12, srcs[(mode >> 2) & 3], 4);
	pkt[16] = 192;
	pkt[18] = 2;
	pkt[19] = 100;
	sum = inet_cksum(pkt, 20);
	pkt[10] = (uint8_t)(sum >> 8);
	pkt[11] = (uint8_t)sum;
	apply(pkt, 20 + n);
	free(pkt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redirect_info ri, again;
	uint8_t rebuilt[128];
	uint8_t *msg;
	size_t len, n;
	int v6, error;

	if (size == 0)
		return 0;
	v6 = data[0] & 1;
	n = size - 1;
	msg = malloc(n > 0 ? n : 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data + 1, n);
	error = v6 ? icmp6_redirect_parse(msg, n, &ri)
	           : icmp_redirect_parse(msg, n, &ri);
	free(msg);
	if (!v6 && (data[0] & 2)) {
		if (tbl == NULL)
			table_reset();
		apply(data + 1, n);
		apply_wrapped(data + 1, n, data[0]);
	}
	if (error != 0)
		return 0;

	if (v6)
		len = icmp6_redirect_build(rebuilt, sizeof(rebuilt),
		    &ri.ri_gw.ri_gw6, &ri.ri_dst.ri_dst6, ri.ri_lladdr,
		    ri.ri_lladdr_len);
	else
		len = icmp_redirect_build(rebuilt, sizeof(rebuilt), ri.ri_code,
		    &ri.ri_gw.ri_gw4, &ri.ri_dst.ri_dst4);
	if (len == 0)
		abort(); /* accepted fields that cannot be rebuilt */
	error = v6 ? icmp6_redirect_parse(rebuilt, len, &again)
	           : icmp_redirect_parse(rebuilt, len, &again);
	if (error != 0 || !same(&ri, &again))
		abort(); /* the round trip changed the message */
	return 0;
}
