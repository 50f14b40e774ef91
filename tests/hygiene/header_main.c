/*
 * header_main.c: the program around the generated header-check units.
 * The check is that the units compiled; running it proves they linked.
 */
int
main(void)
{
	return 0;
}
