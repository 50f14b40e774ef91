/*
 * fuzz_redirect.c: libFuzzer harness of the redirect parsers
 * (mpsafe/net/redirect.h).
 *
 * The input's first byte picks the parser (even: ICMP, odd: ICMPv6); the
 * rest is the message, copied into a heap buffer of exactly its length
 * so that AddressSanitizer reports any read past the end.  A message a
 * parser accepts must survive a round trip: building a redirect from
 * the fields it returned and parsing that gives the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/redirect.h>

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
