/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Include this instead of kselftest_harness.h in the tools suite.  Like
 * selftests/memnotify/memnotify_test.h: the tests build with -Wall -Wextra
 * -Werror, but the 6.1 harness has unused parameters and its EXPECT_*()
 * macros compare mixed signedness, so those two warnings are off here.
 */
#ifndef TOOLS_TEST_H
#define TOOLS_TEST_H

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"

#include "kselftest_harness.h"

#endif /* TOOLS_TEST_H */
