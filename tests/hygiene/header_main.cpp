/*
 * header_main.cpp: the program around the generated C++ header-check
 * units.  The check is that the units compiled; running it proves they
 * linked.
 */
int
main()
{
	return 0;
}
