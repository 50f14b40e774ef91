/* Stand-in for <criterion/logging.h>: see criterion.h beside it. */
#include <criterion/criterion.h>
