// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify admission: who may hold how many of the open files.
 *
 * Privileged openers have CAP_SYS_RESOURCE in the initial user namespace
 * (checked without an audit record, so unprivileged opens log nothing).
 * They may use all max_subscribers slots; everyone else together stops
 * reserved_subscribers short of it, so the system's memory daemon can
 * always subscribe.
 *
 * Per-user limits follow user namespaces the way the kernel's ucounts do
 * (inc_ucount() is not exported to modules, so this is the module's own):
 * an open file is charged to the opener's effective uid and to the owner
 * of every user namespace between the opener's and the initial one, each
 * distinct uid once.  An unprivileged open is refused when any of those
 * users already holds max_subscribers_per_user charges, so a container's
 * root (uid 0 inside, another kuid outside) shares the limit of the user
 * who owns the container, and nested namespaces add no slots.  Privileged
 * opens are charged too but never refused for it.
 *
 * Locking: mn_users and every mn_user are under mn_subs_lock, like mn_subs
 * and the subscribers gauge, so the checks and the charges are one atomic
 * step.  Entries are allocated before the lock is taken and freed after it
 * is dropped: nothing allocates or frees under mn_subs_lock.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>

#include "memnotify.h"

/*
 * The opener's uid plus the owners of at most 33 nested user namespaces
 * (create_user_ns() refuses a namespace below level 33).
 */
#define MN_CHAIN_MAX	34

/* The distinct users one open file is charged to. */
struct mn_chain {
	unsigned int n;
	kuid_t uid[MN_CHAIN_MAX];
};

/**
 * struct mn_user - charges of one user (kuid), under mn_subs_lock
 * @node:	entry in mn_users, present while @subs > 0
 * @uid:	the user
 * @subs:	open files charged to @uid
 */
struct mn_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int subs;
};

static DEFINE_HASHTABLE(mn_users, 6);

static void mn_chain_add(struct mn_chain *c, kuid_t uid)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (uid_eq(c->uid[i], uid))
			return;
	if (!WARN_ON_ONCE(c->n == MN_CHAIN_MAX))
		c->uid[c->n++] = uid;
}

/*
 * @cred's effective uid, then the owner of each user namespace up to the
 * initial one.  A cred's namespace chain never changes, so open and
 * release build the same chain from the file's f_cred.
 */
static void mn_chain_build(const struct cred *cred, struct mn_chain *c)
{
	const struct user_namespace *ns;

	c->n = 0;
	mn_chain_add(c, cred->euid);
	for (ns = cred->user_ns; ns != &init_user_ns; ns = ns->parent)
		mn_chain_add(c, ns->owner);
}

static struct mn_user *mn_user_find(kuid_t uid)
{
	struct mn_user *u;

	lockdep_assert_held(&mn_subs_lock);
	hash_for_each_possible(mn_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Would one more file exceed the per-user limit of anyone in @c? */
static bool mn_chain_full(const struct mn_chain *c)
{
	unsigned int max = mn_param(MN_PARAM_MAX_SUBSCRIBERS_PER_USER);
	struct mn_user *u;
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		u = mn_user_find(c->uid[i]);
		if (u && u->subs >= max)
			return true;
	}
	return false;
}

/*
 * Charge everyone in @c, taking new entries from @spare (one per user in
 * @c, allocated by the caller); entries used are set to NULL.
 */
static void mn_chain_charge(const struct mn_chain *c, struct mn_user **spare)
{
	struct mn_user *u;
	unsigned int i;

	lockdep_assert_held(&mn_subs_lock);
	for (i = 0; i < c->n; i++) {
		u = mn_user_find(c->uid[i]);
		if (!u) {
			u = spare[i];
			spare[i] = NULL;
			u->uid = c->uid[i];
			u->subs = 0;
			hash_add(mn_users, &u->node, __kuid_val(u->uid));
			atomic_long_inc(&mn_gauges[MN_GAUGE_USERS]);
		}
		u->subs++;
	}
}

/*
 * Take one charge off everyone in @c; entries left without charges are
 * unhashed into @gone for the caller to free after dropping the lock.
 */
static void mn_chain_uncharge(const struct mn_chain *c, struct mn_user **gone)
{
	struct mn_user *u;
	unsigned int i;

	lockdep_assert_held(&mn_subs_lock);
	for (i = 0; i < c->n; i++) {
		gone[i] = NULL;
		u = mn_user_find(c->uid[i]);
		if (WARN_ON_ONCE(!u || !u->subs))
			continue;
		if (--u->subs)
			continue;
		hash_del(&u->node);
		atomic_long_dec(&mn_gauges[MN_GAUGE_USERS]);
		gone[i] = u;
	}
}

/* Slots unprivileged openers may fill together. */
static long mn_unprivileged_slots(long max)
{
	return max - min_t(long, mn_param(MN_PARAM_RESERVED_SUBSCRIBERS), max);
}

/**
 * mn_admit - admit a new subscriber, from open()
 * @sub:	the subscriber, not yet on mn_subs
 * @cred:	the opener's credentials (the file's f_cred, current's)
 *
 * Return: 0 with @sub on mn_subs and charged to its users; -EMFILE when
 * the caller's share is used up (for a privileged caller: every one of
 * max_subscribers slots is taken); -ENOMEM.
 */
int mn_admit(struct mn_sub *sub, const struct cred *cred)
{
	bool priv = ns_capable_noaudit(&init_user_ns, CAP_SYS_RESOURCE);
	atomic_long_t *nr = &mn_gauges[MN_GAUGE_SUBSCRIBERS];
	struct mn_user *spare[MN_CHAIN_MAX] = { NULL };
	struct mn_chain chain;
	unsigned int i;
	long max, n;
	int err = 0;

	mn_chain_build(cred, &chain);
	for (i = 0; i < chain.n; i++) {
		spare[i] = kmalloc(sizeof(*spare[i]), GFP_KERNEL_ACCOUNT);
		if (!spare[i]) {
			err = -ENOMEM;
			goto out;
		}
	}

	mutex_lock(&mn_subs_lock);
	max = mn_param(MN_PARAM_MAX_SUBSCRIBERS);
	n = atomic_long_read(nr);
	if (n >= max || (!priv && (n >= mn_unprivileged_slots(max) ||
				   mn_chain_full(&chain)))) {
		mutex_unlock(&mn_subs_lock);
		err = -EMFILE;
		goto out;
	}
	mn_chain_charge(&chain, spare);
	n = atomic_long_inc_return(nr);
	if (n > atomic_long_read(&mn_gauges[MN_GAUGE_SUBSCRIBERS_PEAK]))
		atomic_long_set(&mn_gauges[MN_GAUGE_SUBSCRIBERS_PEAK], n);
	list_add_tail_rcu(&sub->node, &mn_subs);
	if (n == 1)
		mn_pressure_sampler_start();
	mutex_unlock(&mn_subs_lock);
out:
	for (i = 0; i < chain.n; i++)
		kfree(spare[i]);
	return err;
}

/**
 * mn_leave - take a subscriber off mn_subs and its charges off its users,
 * from release()
 * @sub:	the subscriber mn_admit() admitted
 * @cred:	the credentials it was admitted with
 */
void mn_leave(struct mn_sub *sub, const struct cred *cred)
{
	struct mn_user *gone[MN_CHAIN_MAX];
	struct mn_chain chain;
	unsigned int i;

	mn_chain_build(cred, &chain);
	mutex_lock(&mn_subs_lock);
	list_del_rcu(&sub->node);
	if (!atomic_long_dec_return(&mn_gauges[MN_GAUGE_SUBSCRIBERS]))
		mn_pressure_sampler_stop();
	mn_chain_uncharge(&chain, gone);
	mutex_unlock(&mn_subs_lock);
	for (i = 0; i < chain.n; i++)
		kfree(gone[i]);
}
