/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memnotify compatibility helpers.
 *
 * The shrinker API changed in 6.7: before it, callers embed a struct
 * shrinker and call register_shrinker(shrinker, fmt, ...) and
 * unregister_shrinker(); from 6.7 on, shrinkers are allocated by
 * shrinker_alloc(), published by shrinker_register() and released (after an
 * RCU grace period) by shrinker_free().  mn_shrinker_create() and
 * mn_shrinker_destroy() hide the difference: both return/take a pointer the
 * caller owns, and no callback runs after mn_shrinker_destroy() returns.
 *
 * Both register with seeks = DEFAULT_SEEKS and the caller's batch (see
 * memnotify_reclaim.c for why).
 *
 * The new API is detected by SHRINKER_ALLOCATED, which appeared with
 * shrinker_alloc() in 6.7, rather than by version number, so backports of
 * the new API are handled too.
 */
#ifndef _MEMNOTIFY_COMPAT_H
#define _MEMNOTIFY_COMPAT_H

#include <linux/err.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

struct mn_shrinker_ops {
	unsigned long (*count)(struct shrinker *s, struct shrink_control *sc);
	unsigned long (*scan)(struct shrinker *s, struct shrink_control *sc);
};

#ifdef SHRINKER_ALLOCATED

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	shrinker_register(s);
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}

#else /* !SHRINKER_ALLOCATED: before 6.7 */

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int err;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	err = register_shrinker(s, "%s", name);
	if (err) {
		kfree(s);
		return ERR_PTR(err);
	}
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}

#endif /* SHRINKER_ALLOCATED */

#endif /* _MEMNOTIFY_COMPAT_H */
