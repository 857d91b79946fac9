/* Size classes and per-page block management: lazy free-list carving,
 * collection of remote frees, and the lock-free stacks of pages abandoned by
 * exited threads (adopted later, a whole class at a time, by a thread
 * allocating that class; reaped into the pool once their blocks are all
 * freed). */
#include "internal.h"
#include "vg.h"

uint32_t la_class_size[LA_NCLASSES];
uint64_t la_class_divm[LA_NCLASSES];
uint8_t la_class_of_granule[LA_DIRECT];
la_page_t la_page_empty; /* never has a free block: forces the slow path */

/* Classes: 8, 16..128 step 16, then 4 per doubling up to 64 KiB. Every class
 * but 8 is a multiple of 16, so malloc(n > 8) is 16-byte aligned; every power
 * of two is a class, which aligned allocation relies on. */
void la_classes_init(void)
{
	unsigned c = 0;
	la_class_size[c++] = 8;
	for (uint32_t s = 16; s <= 128; s += 16)
		la_class_size[c++] = s;
	for (uint32_t p = 128; p < LA_MEDIUM_MAX; p *= 2)
		for (uint32_t q = 1; q <= 4; q++)
			la_class_size[c++] = p + p * q / 4;
	for (c = 0; c < LA_NCLASSES; c++)
		la_class_divm[c] = UINT64_MAX / la_class_size[c] + 1;
	unsigned k = 0;
	for (unsigned g = 0; g < LA_DIRECT; g++) {
		while (la_class_size[k] < g * 8)
			k++;
		la_class_of_granule[g] = (uint8_t)k;
	}
}

/* Carve up to LA_EXTEND_BYTES more blocks (at least one) onto the free list.
 * Only called when pg->free is empty. */
void la_page_extend(la_page_t *pg)
{
	uint32_t bs = pg->block_size;
	uint32_t n = LA_EXTEND_BYTES / bs;
	if (n == 0)
		n = 1;
	uint32_t left = (uint32_t)pg->reserved - pg->capacity;
	if (n > left)
		n = left;
	LA_ASSERT(n > 0 && pg->kind == LA_PAGE_SMALL);
	uint8_t *start = la_page_start(pg);
	uint8_t *p = start + (size_t)pg->capacity * bs;
	LA_VG_UNDEFINED(p, (size_t)n * bs);
	for (uint32_t i = 0; i + 1 < n; i++, p += bs)
		la_link_set(pg, (la_block_t *)p, (la_block_t *)(p + bs));
	la_link_set(pg, (la_block_t *)p, pg->free);
	pg->free = (la_block_t *)(start + (size_t)pg->capacity * bs);
	pg->capacity = (uint16_t)(pg->capacity + n);
}

/* Take the first block of pg->free (owner; the list is not empty). The next
 * link is checked to stay inside the page's carved blocks: a link overwritten after free
 * aborts here instead of handing out an address of the attacker's choice.
 * The block's first word is cleared, so a live block never looks free. */
la_block_t *la_page_pop(la_page_t *pg)
{
	la_block_t *b = pg->free;
	LA_ASSERT(la_page_block_ok(pg, b));
	la_block_t *nx = la_link_dec(pg, b);
	if (LA_HARDEN && LA_UNLIKELY(nx != la_page_list_end(pg) &&
				     (uintptr_t)nx - (uintptr_t)la_page_start(pg) >=
					     (uintptr_t)pg->capacity * pg->block_size))
		la_fatal("malloc", "corrupted free list at", b, "(write after free?)");
	pg->free = nx;
	if (LA_HARDEN)
		b->link = 0;
	pg->used++;
	LA_ASSERT(pg->used <= pg->capacity);
	LA_ASSERT(((uintptr_t)b & LA_SEG_MASK) != 0); /* invariant 1 */
	return b;
}

/* Move remote frees onto the owner's free list (owner, or the thread that
 * took the page off an abandoned stack). Never called on a page with LA_TF_FULL set. Every link followed is
 * checked to stay inside the page's carved blocks, and there can be no more
 * blocks than blocks in use (invariant 3): a block freed twice from other threads, which
 * makes the list a cycle, aborts here instead of looping. */
void la_page_collect(la_page_t *pg)
{
	if (!atomic_load_explicit(&pg->thread_free, memory_order_relaxed))
		return;
	uintptr_t w = atomic_exchange_explicit(&pg->thread_free, 0, memory_order_acquire);
	la_block_t *b = (la_block_t *)(w & ~LA_TF_FULL);
	if (!b)
		return;
	LA_ASSERT(!(w & LA_TF_FULL));
	/* free() checked b; each decoded link must stay inside the page */
	uintptr_t start = (uintptr_t)la_page_start(pg);
	uintptr_t span = (uintptr_t)pg->capacity * pg->block_size;
	uint32_t n = 0, used = pg->used;
	la_block_t *t = b, *prev = b;
	for (;;) {
		if (LA_HARDEN && LA_UNLIKELY((uintptr_t)t - start >= span))
			la_fatal(NULL, "corrupted remote-free list at", prev, "(write after free?)");
		LA_ASSERT(la_page_block_ok(pg, t));
		if (LA_UNLIKELY(++n > used) && LA_HARDEN)
			la_fatal("free", "double free of", t, "(freed twice by other threads)");
		la_block_t *nx = la_link_dec(pg, t);
		if (la_list_end(nx))
			break;
		prev = t;
		t = nx;
	}
	la_link_set(pg, t, pg->free);
	pg->free = b;
	pg->used = (uint16_t)(pg->used - n);
}

/* Abort if b is on pg's free list or its remote-free list; the lists are
 * walked at most capacity steps each and every link is checked, so a
 * corrupted list cannot make this loop. Owner only: nobody else takes
 * blocks off these lists meanwhile. */
static void find_on_list(la_page_t *pg, la_block_t *t, la_block_t *b, const char *who,
			 const char *what)
{
	for (unsigned steps = pg->capacity + 1u; !la_list_end(t); t = la_link_dec(pg, t)) {
		if (t == b)
			la_fatal(who, what, b, NULL);
		if (LA_UNLIKELY(!steps-- || !la_page_block_ok(pg, t)))
			la_fatal(who, "corrupted free list near", t, "(write after free?)");
		/* t is a block of pg: its link may be read */
	}
}

void la_page_check_double_free(la_page_t *pg, la_block_t *b, const char *who, const char *what)
{
	find_on_list(pg, pg->free, b, who, what);
	uintptr_t w = atomic_load_explicit(&pg->thread_free, memory_order_acquire);
	find_on_list(pg, (la_block_t *)(w & ~LA_TF_FULL), b, who, what);
}

/* A free into an abandoned page (heap NULL, read before the push: after it
 * the page may be gone): count it in the freeing thread's heap, whose
 * allocation slow path reaps emptied abandoned pages (heap.c). */
static LA_COLD void count_abandoned_free(void)
{
	la_heap_t *h = la_tl_heap;
	if (h != &la_heap_empty)
		h->abandoned_frees++;
}

/* Free from a thread that does not own the page: one CAS push, which also
 * claims LA_TF_FULL if the page sat on its owner's full list. The claimer
 * hands the page to the owner's delayed list; the owner cannot release the
 * page before it arrives there, so the page is still valid for that push. */
void la_page_remote_free(la_page_t *pg, la_block_t *b, const char *who)
{
	bool abandoned = !atomic_load_explicit(&pg->heap, memory_order_relaxed);
	uintptr_t old = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
	do {
		la_block_t *head = (la_block_t *)(old & ~LA_TF_FULL);
		if (LA_UNLIKELY(head == b))
			la_fatal(who, "double free of", b, "(from another thread)");
		/* the hardened build ends the list in the segment base, so the
		 * owner's double-free test (la_link_plausible) sees its last
		 * block too; NULL is an end as well (la_list_end) */
		la_link_set(pg, b, (LA_HARDEN && !head) ? la_page_list_end(pg) : head);
	} while (!atomic_compare_exchange_weak_explicit(&pg->thread_free, &old, (uintptr_t)b,
							 memory_order_acq_rel,
							 memory_order_relaxed));
	if (old & LA_TF_FULL) {
		/* even if the page looked abandoned: it may have been adopted
		 * and found full since */
		la_heap_t *h = atomic_load_explicit(&pg->heap, memory_order_acquire);
		la_page_t *d = atomic_load_explicit(&h->delayed, memory_order_relaxed);
		la_page_t **link = la_page_delayed_link(pg);
		do {
			*link = d;
		} while (!atomic_compare_exchange_weak_explicit(&h->delayed, &d, pg,
								 memory_order_release,
								 memory_order_relaxed));
	} else if (LA_UNLIKELY(abandoned)) {
		count_abandoned_free(); /* a tail call: nothing to save on the way */
	}
}

unsigned la_page_remote_count(la_page_t *pg)
{
	uintptr_t w = atomic_load_explicit(&pg->thread_free, memory_order_acquire);
	unsigned n = 0;
	/* bounded: a list longer than the blocks in use is corrupt (double
	 * free) and counts as "not empty"; la_page_collect reports it */
	for (la_block_t *b = (la_block_t *)(w & ~LA_TF_FULL); !la_list_end(b) && n <= pg->used;
	     b = la_link_dec(pg, b))
		n++;
	return n;
}

/* Owner: clear LA_TF_FULL. Returns false if a remote free already claimed it
 * (the page is then on its way to the heap's delayed list). */
bool la_page_unfull(la_page_t *pg)
{
	uintptr_t old = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
	while (old & LA_TF_FULL)
		if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &old, old & ~LA_TF_FULL,
							  memory_order_acq_rel, memory_order_relaxed))
			return true;
	return false;
}

/* Owner: set LA_TF_FULL if no remote free is pending. Returns false if blocks
 * are waiting on thread_free (the caller collects and uses the page). */
bool la_page_set_full(la_page_t *pg)
{
	uintptr_t zero = 0;
	return atomic_compare_exchange_strong_explicit(&pg->thread_free, &zero, LA_TF_FULL,
						       memory_order_acq_rel, memory_order_relaxed);
}

/* ---- abandoned pages ------------------------------------------------------
 * Pages whose heap exited with blocks still in use: heap == NULL, qstate
 * LA_Q_ABANDONED, on a lock-free stack per class, abandoned[cls], linked
 * through next. Frees only push onto thread_free (la_page_remote_free).
 *
 * No ABA: a stack is never popped one page at a time. Pushers CAS a whole
 * chain onto the head (a push only needs the head it links to to be the
 * head it replaces, whatever happened to that page meanwhile), and every
 * taker detaches the whole stack with one exchange. So a page adopted,
 * emptied, freed to the pool, handed out again and re-abandoned while some
 * thread still holds a stale pointer to it can never make a stale link the
 * head: no CAS ever installs a value read from a page on the stack.
 *
 * Ownership: nobody touches a page on a stack except remote freers (CAS on
 * thread_free); the thread that took it by the exchange owns it alone until
 * it adopts it, frees it or pushes it back. So used and capacity do not
 * change while a page is on a stack, and la_abandoned_cached_bytes is added
 * at push and subtracted at take with the same values.
 *
 * Fork: every push and take happens with a heap lock held (thread exit,
 * adoption and the reap in the allocation slow path) or la_abandoned_lock
 * (sweeps by releases); fork holds them all, so the child never finds a
 * chain taken and not yet put back. */
pthread_mutex_t la_abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(la_page_t *) abandoned[LA_NCLASSES];
_Atomic(uint64_t) la_abandoned_pages;
_Atomic(uint64_t) la_abandoned_cached_bytes[LA_TIER_COUNT];

/* Free carved bytes of an abandoned page (its taker or pusher owns it). */
static int64_t abandoned_bytes(const la_page_t *pg)
{
	return ((int64_t)pg->capacity - pg->used) * pg->block_size;
}

static void abandoned_count(const la_page_t *pg, int sign)
{
	la_count(&la_abandoned_cached_bytes[la_tier_of_size(pg->block_size)],
		 sign * abandoned_bytes(pg));
}

void la_abandoned_push_chain(la_page_t *first)
{
	if (!first)
		return;
	unsigned cls = first->cls;
	uint64_t n = 0;
	la_page_t *last = first;
	for (la_page_t *pg = first; pg; pg = pg->next) {
		/* a page with no live block never goes on a stack: it is free */
		LA_ASSERT(pg->cls == cls && pg->kind == LA_PAGE_SMALL && pg->used > 0);
		LA_ASSERT(atomic_load_explicit(&pg->heap, memory_order_relaxed) == NULL);
		pg->qstate = LA_Q_ABANDONED;
		*la_page_prev(pg) = NULL;
		abandoned_count(pg, 1);
		n++;
		last = pg;
	}
	atomic_fetch_add_explicit(&la_abandoned_pages, n, memory_order_relaxed);
	la_page_t *head = atomic_load_explicit(&abandoned[cls], memory_order_relaxed);
	do {
		last->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&abandoned[cls], &head, first,
							 memory_order_release,
							 memory_order_relaxed));
}

la_page_t *la_abandoned_take(unsigned cls)
{
	if (!atomic_load_explicit(&abandoned[cls], memory_order_relaxed))
		return NULL;
	la_page_t *first = atomic_exchange_explicit(&abandoned[cls], NULL, memory_order_acquire);
	uint64_t n = 0;
	for (la_page_t *pg = first; pg; pg = pg->next) {
		LA_ASSERT(pg->qstate == LA_Q_ABANDONED && pg->cls == cls && pg->used > 0);
		LA_ASSERT(atomic_load_explicit(&pg->heap, memory_order_relaxed) == NULL);
		abandoned_count(pg, -1);
		n++;
	}
	uint64_t was = atomic_fetch_sub_explicit(&la_abandoned_pages, n, memory_order_relaxed);
	LA_ASSERT(was >= n); /* pushed pages are counted before they are visible */
	(void)was;
	return first;
}

/* Collect remote frees on every abandoned page; pages with no live block
 * left go back to the pool as free spans (any class may take them), the
 * others back on their stacks. Caller holds a heap lock or
 * la_abandoned_lock (fork, see above). Returns the bytes freed. */
size_t la_abandoned_reap(void)
{
	la_page_t *empty = NULL;
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		la_page_t *pg = la_abandoned_take(c), *nx, *keep = NULL, **tail = &keep;
		for (; pg; pg = nx) {
			nx = pg->next;
			la_page_collect(pg);
			if (pg->used == 0) {
				pg->qstate = LA_Q_NONE;
				pg->next = empty;
				empty = pg;
			} else { /* the kept ones in their order */
				*tail = pg;
				tail = &pg->next;
			}
		}
		*tail = NULL;
		la_abandoned_push_chain(keep);
	}
	return la_span_free_list(empty);
}

size_t la_abandoned_collect(void)
{
	pthread_mutex_lock(&la_abandoned_lock);
	size_t bytes = la_abandoned_reap();
	pthread_mutex_unlock(&la_abandoned_lock);
	return bytes;
}
