/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Include this instead of kselftest_harness.h.  The tests are built with
 * -Wall -Wextra -Werror, but the 6.1 harness itself has unused parameters
 * (its timeout handler, the variant argument of every TEST wrapper) and its
 * EXPECT_*() macros compare typeof(expected) with typeof(seen), which
 * -Wsign-compare flags for every literal checked against a __u32/__u64
 * field.  Those two warnings are switched off for the test programs only.
 */
#ifndef MEMNOTIFY_TEST_H
#define MEMNOTIFY_TEST_H

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"

#include "kselftest_harness.h"
#include "mn_common.h"

#endif /* MEMNOTIFY_TEST_H */
