/* Thread heaps (the per-thread cache): per-class page queues, the full list,
 * retained empty pages, delayed pages from remote frees, adoption of abandoned
 * pages, flush, hand-back at thread exit, and reclaim of pages with no live
 * block by other threads (releases).
 *
 * Invariant: h->direct[g] is the head of h->queue[class(g)] or &la_page_empty,
 * and a page reachable from direct[] is owned by h. Pages leave the queue only
 * in this file, and every such place re-points direct[] first (or leaves it at
 * &la_page_empty, which sends the owner to its slow path).
 *
 * Heap lock (h->cache_lock): the owner holds it whenever it touches its
 * queues, full list, delayed list, retained pages or large-span cache, i.e.
 * in every slow path; its fast paths take no lock. Another thread holding it
 * may take away retained pages and cached spans, and pages with no live block
 * (la_heap_reclaim states the protocol). Lock order: la_heaps_lock, heap
 * lock, la_abandoned_lock, la_pool_lock. Thread exit and adoption take no
 * lock but the heap's own (and the pool's once, for empty pages at exit):
 * the abandoned stacks are lock-free (page.c). */
#include <sched.h>
#include "internal.h"

__thread la_heap_t *la_tl_heap __attribute__((tls_model("initial-exec"))) = &la_heap_empty;
la_heap_t la_heap_empty = { .direct = { [0 ... LA_DIRECT - 1] = &la_page_empty } };
_Atomic(unsigned) la_flush_epoch;

pthread_mutex_t la_heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static la_heap_t *heap_free_list, *heap_all;
static la_heap_t *heap_chunk;
static unsigned heap_chunk_left;

_Atomic(uint32_t) la_class_refills[LA_NCLASSES];
_Atomic(uint16_t) la_tcache_cap[LA_NCLASSES];
_Atomic(uint64_t) la_thread_retained_bytes[LA_TIER_COUNT];
_Atomic(int) la_heaps_live;

/* After la_classes_init and la_options_init: the starting capacities.
 * Classes on 512 KiB pages retain none: their queue head already keeps one
 * page per class, and each extra one would pin half a MiB. */
void la_tcache_init(void)
{
	for (unsigned c = 0; c < LA_NCLASSES; c++)
		atomic_store_explicit(&la_tcache_cap[c],
				      (uint16_t)(la_class_size[c] <= LA_SMALL_PAGE_MAX ?
						 la_opt.tcache_pages : 0),
				      memory_order_relaxed);
}

/* ---- heap lock (la_heap_t.cache_lock): a spin flag, uncontended in
 * practice (a releaser holds it for a few pointer moves per page). ---- */
static inline void heap_lock(la_heap_t *h)
{
	while (atomic_exchange_explicit(&h->cache_lock, 1, memory_order_acquire))
		sched_yield();
}

/* Releasers only try: an owner holding its lock is running (no need to
 * take its pages now), and a lock left held by a thread that did not
 * survive fork must not hang the child's releases. */
static inline bool heap_trylock(la_heap_t *h)
{
	return !atomic_load_explicit(&h->cache_lock, memory_order_relaxed) &&
	       !atomic_exchange_explicit(&h->cache_lock, 1, memory_order_acquire);
}

static inline void heap_unlock(la_heap_t *h)
{
	atomic_store_explicit(&h->cache_lock, 0, memory_order_release);
}

#define HEAP_LOCKED(h) LA_ASSERT(atomic_load_explicit(&(h)->cache_lock, memory_order_relaxed))

/* ---- retained-byte accounting (cache lock held): what a retained empty
 * page or a cached large span counts in la_thread_retained_bytes. A page's
 * capacity does not change while it is retained. */
static uint64_t retained_bytes(const la_page_t *pg)
{
	return pg->kind == LA_PAGE_LARGE ? pg->block_size
					 : (uint64_t)pg->capacity * pg->block_size;
}

static void retained_count(la_heap_t *h, const la_page_t *pg, int sign)
{
	unsigned t = pg->kind == LA_PAGE_LARGE ? LA_TIER_LARGE : la_tier_of_size(pg->block_size);
	int64_t b = sign * (int64_t)retained_bytes(pg);
	la_count(&la_thread_retained_bytes[t], b);
	h->retained_bytes += (uint64_t)b;
}

#ifdef LA_DEBUG
/* Cache lock held: h's retained lists match its counter. */
static void retained_check(la_heap_t *h)
{
	uint64_t sum = 0;
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		unsigned n = 0;
		for (la_page_t *pg = h->empty[c]; pg; pg = pg->next, n++) {
			LA_ASSERT(pg->qstate == LA_Q_EMPTY && pg->cls == c && pg->used == 0);
			sum += retained_bytes(pg);
		}
		LA_ASSERT(n == h->empty_cnt[c]);
	}
	for (unsigned i = 0; i < h->large_n; i++) {
		LA_ASSERT(h->large[i]->qstate == LA_Q_CACHED);
		sum += retained_bytes(h->large[i]);
	}
	LA_ASSERT(sum == h->retained_bytes);
}
#else
static inline void retained_check(la_heap_t *h) { (void)h; }
#endif

/* ---- page lists (owner only) ---- */
/* Class queues keep qstate HEAD on their head and NONE elsewhere; the full
 * list marks FULL. */
static void q_remove(la_pqueue_t *q, la_page_t *pg)
{
	la_page_t **prev = la_page_prev(pg);
	if (*prev)
		(*prev)->next = pg->next;
	else
		q->head = pg->next;
	if (pg->next)
		*la_page_prev(pg->next) = *prev;
	else
		q->tail = *prev;
	pg->next = *prev = NULL;
	pg->qstate = LA_Q_NONE;
	if (q->head && q->head->qstate != LA_Q_FULL)
		q->head->qstate = LA_Q_HEAD;
}

static void q_push_head(la_pqueue_t *q, la_page_t *pg)
{
	*la_page_prev(pg) = NULL;
	pg->next = q->head;
	if (q->head) {
		*la_page_prev(q->head) = pg;
		q->head->qstate = LA_Q_NONE;
	} else {
		q->tail = pg;
	}
	q->head = pg;
	pg->qstate = LA_Q_HEAD;
}

static void q_push_tail(la_pqueue_t *q, la_page_t *pg)
{
	pg->next = NULL;
	*la_page_prev(pg) = q->tail;
	pg->qstate = q->tail ? LA_Q_NONE : LA_Q_HEAD;
	if (q->tail)
		q->tail->next = pg;
	else
		q->head = pg;
	q->tail = pg;
}

static void full_push(la_heap_t *h, la_page_t *pg)
{
	pg->next = NULL;
	*la_page_prev(pg) = h->full.tail;
	if (h->full.tail)
		h->full.tail->next = pg;
	else
		h->full.head = pg;
	h->full.tail = pg;
	pg->qstate = LA_Q_FULL;
}

static void full_remove(la_heap_t *h, la_page_t *pg)
{
	la_page_t **prev = la_page_prev(pg);
	if (*prev)
		(*prev)->next = pg->next;
	else
		h->full.head = pg->next;
	if (pg->next)
		*la_page_prev(pg->next) = *prev;
	else
		h->full.tail = *prev;
	pg->next = *prev = NULL;
	pg->qstate = LA_Q_NONE;
}

/* Re-point direct[] for cls at the queue head. */
static void set_direct(la_heap_t *h, unsigned cls)
{
	if (la_class_size[cls] > LA_SMALL_MAX)
		return;
	la_page_t *pg = h->queue[cls].head ? h->queue[cls].head : &la_page_empty;
	unsigned lo = cls ? la_class_size[cls - 1] / 8 + 1 : 0;
	unsigned hi = la_class_size[cls] / 8;
	for (unsigned g = lo; g <= hi; g++)
		h->direct[g] = pg;
}

static void page_release(la_page_t *pg)
{
	atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
	la_span_free(pg);
}

/* An empty page that is not a queue head: keep it in the thread cache if the
 * class's capacity allows, else give it back to the pool. */
static void page_retire(la_heap_t *h, la_page_t *pg)
{
	unsigned c = pg->cls;
	bool keep = false;
	HEAP_LOCKED(h);
	if (h->empty_cnt[c] < atomic_load_explicit(&la_tcache_cap[c], memory_order_relaxed)) {
		pg->next = h->empty[c];
		pg->qstate = LA_Q_EMPTY;
		h->empty[c] = pg;
		h->empty_cnt[c]++;
		retained_count(h, pg, 1);
		keep = true;
	}
	retained_check(h);
	if (!keep)
		page_release(pg);
}

/* Put pg (on no list) on the full list. Returns false if a remote free arrived
 * meanwhile and we took the page back (caller collects and uses it). */
static bool page_mark_full(la_heap_t *h, la_page_t *pg)
{
	if (!la_page_set_full(pg))
		return false;
	full_push(h, pg);
	return true;
}

/* Pages un-fulled by remote frees: back to their queues (or retired). */
static void drain_delayed(la_heap_t *h)
{
	if (!atomic_load_explicit(&h->delayed, memory_order_relaxed))
		return;
	la_page_t *pg = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
	while (pg) {
		la_page_t *nx = *la_page_delayed_link(pg);
		full_remove(h, pg);
		la_page_collect(pg);
		if (pg->used == 0)
			page_retire(h, pg);
		else
			q_push_tail(&h->queue[pg->cls], pg);
		pg = nx;
	}
}

/* Pages with free blocks one adoption keeps (full ones it meets go to the
 * full list and do not count); the rest of the stack goes back, so threads
 * allocating one class at once share what was abandoned. Keeping more costs
 * memory: with 2 or 8, `bench churn` peaks at 12.4 / 13.5 MiB against 9.1
 * MiB with 1 (the thread that took them fills them slowly while the others
 * take fresh spans). */
#ifndef LA_ADOPT_BATCH
#define LA_ADOPT_BATCH 1
#endif

/* Adopt from class cls's abandoned stack (heap lock held, cls's queue
 * empty): take the whole stack (one exchange), keep up to LA_ADOPT_BATCH
 * pages with free blocks and push the rest back (one CAS). Return one page
 * for the caller to make the head, preferably one with freed blocks (holes)
 * over one with only uncarved room; the others with free blocks or room
 * join the queue, full ones the full list, and those that have no live
 * block left are retired. */
static la_page_t *adopt(la_heap_t *h, unsigned cls)
{
	la_page_t *pg = la_abandoned_take(cls), *nx, *use = NULL;
	unsigned kept = 0;
	for (; pg && kept < LA_ADOPT_BATCH; pg = nx) {
		nx = pg->next;
		pg->next = NULL;
		pg->qstate = LA_Q_NONE;
		atomic_store_explicit(&pg->heap, h, memory_order_release);
		la_page_collect(pg);
		if (pg->used == 0 && use) {
			page_retire(h, pg);
			continue;
		}
		if (la_list_end(pg->free) && pg->capacity == pg->reserved) {
			if (page_mark_full(h, pg))
				continue; /* full pages do not count in the batch */
			la_page_collect(pg); /* a remote free came meanwhile */
		}
		kept++;
		if (!use) {
			use = pg;
		} else if (la_list_end(use->free) && !la_list_end(pg->free)) {
			q_push_tail(&h->queue[cls], use);
			use = pg;
		} else {
			q_push_tail(&h->queue[cls], pg);
		}
	}
	la_abandoned_push_chain(pg); /* the rest, untouched */
	return use;
}

/* Before taking a new span: if this thread's frees into abandoned pages
 * reached the number of such pages since its last reap, some of them may
 * have no live block left; give those to the pool, where a span of any
 * class can take them. */
static void maybe_reap(la_heap_t *h)
{
	if (LA_LIKELY(!h->abandoned_frees) ||
	    h->abandoned_frees < atomic_load_explicit(&la_abandoned_pages, memory_order_relaxed))
		return;
	h->abandoned_frees = 0;
	la_abandoned_reap();
}

/* Allocation slow path for a size class: find (or make) a page with a free
 * block, make it the queue head and direct[] target, pop a block. */
static void *alloc_cls_locked(la_heap_t *h, unsigned cls)
{
	la_pqueue_t *q = &h->queue[cls];
	la_page_t *pg;
	for (;;) {
		while ((pg = q->head) != NULL) {
			if (!la_list_end(pg->free))
				goto found;
			la_page_collect(pg);
			if (!la_list_end(pg->free))
				goto found;
			if (pg->capacity < pg->reserved) {
				la_page_extend(pg);
				goto found;
			}
			q_remove(q, pg);
			if (!page_mark_full(h, pg)) {
				la_page_collect(pg);
				q_push_head(q, pg);
				goto found;
			}
		}
		if (!atomic_load_explicit(&h->delayed, memory_order_relaxed))
			break;
		drain_delayed(h);
	}
	if ((pg = h->empty[cls]) != NULL) {
		h->empty[cls] = pg->next;
		h->empty_cnt[cls]--;
		retained_count(h, pg, -1);
		pg->qstate = LA_Q_NONE;
	}
	if (pg) {
		if (la_list_end(pg->free))
			la_page_extend(pg);
	} else if ((pg = adopt(h, cls)) != NULL) {
		if (la_list_end(pg->free))
			la_page_extend(pg);
	} else {
		maybe_reap(h);
		atomic_fetch_add_explicit(&la_class_refills[cls], 1, memory_order_relaxed);
		uint32_t bs = la_class_size[cls];
		unsigned slices = bs <= LA_SMALL_PAGE_MAX ? 1 : LA_MEDIUM_PAGE_SLICES;
		pg = la_span_alloc(slices, LA_PAGE_SMALL, bs, (uint8_t)cls);
		if (!pg) {
			set_direct(h, cls);
			return NULL;
		}
		atomic_store_explicit(&pg->heap, h, memory_order_release);
		la_page_extend(pg);
	}
	q_push_head(q, pg);
found:
	set_direct(h, cls);
	LA_ASSERT(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h); /* invariant 2 */
	return la_page_pop(pg);
}

void *la_heap_alloc_cls(la_heap_t *h, unsigned cls)
{
	heap_lock(h);
	void *p = alloc_cls_locked(h, cls);
	heap_unlock(h);
	return p;
}

/* Class cls's 512 KiB head page just emptied: remember it; if more than
 * LA_IDLE_HEADS are remembered, give back the oldest one that is still idle. */
static void idle_head(la_heap_t *h, unsigned cls)
{
	for (unsigned i = 0; i < h->idle_n; i++)
		if (h->idle_heads[i] == cls)
			return;
	if (h->idle_n == LA_IDLE_HEADS) {
		unsigned c = h->idle_heads[0];
		for (unsigned i = 1; i < LA_IDLE_HEADS; i++)
			h->idle_heads[i - 1] = h->idle_heads[i];
		h->idle_n--;
		la_page_t *pg = h->queue[c].head;
		if (pg) {
			la_page_collect(pg);
			if (pg->used == 0) {
				q_remove(&h->queue[c], pg);
				page_retire(h, pg);
			}
		}
	}
	h->idle_heads[h->idle_n++] = (uint8_t)cls;
}

/* Owner free slow path, after the block went onto pg->free: the page was on
 * the full list, or it just became empty. */
static void free_slow_locked(la_heap_t *h, la_page_t *pg)
{
	la_pqueue_t *q = &h->queue[pg->cls];
	if (pg->qstate == LA_Q_FULL) {
		if (!la_page_unfull(pg))
			return; /* a remote free is delivering it via h->delayed */
		full_remove(h, pg);
		q_push_tail(q, pg);
	}
	if (pg->used == 0 && pg->qstate != LA_Q_HEAD) {
		q_remove(q, pg);
		page_retire(h, pg);
	} else if (pg->used == 0 && pg->slice_count != 1) {
		idle_head(h, pg->cls);
	}
}

/* The owner frees b into pg when that free needs the slow path (pg is on
 * the full list, or b is its last live block and pg is not a one-slice
 * queue head). The push and the decrement of used happen here, under the
 * heap lock: the decrement is what lets a releaser see pg unused and take it
 * (la_heap_reclaim), after which pg's segment may even be unmapped, so the
 * owner must not touch pg after a decrement made with the lock free unless
 * it is done with pg (free_owned's fast path). */
void la_heap_free_slow(la_heap_t *h, la_page_t *pg, la_block_t *b)
{
	heap_lock(h);
	LA_ASSERT(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h && pg->used > 0);
	la_link_set(pg, b, pg->free);
	pg->free = b;
	pg->used--;
	free_slow_locked(h, pg);
	heap_unlock(h);
}

/* ---- large span cache: freed large spans this thread may reuse without the
 * pool lock. Bounded by LA_LARGE_CACHE_N entries and la_opt.large_cache bytes;
 * the oldest entries go back to the pool first. */
/* Caller holds the cache lock; returns the span for the caller to free
 * after unlocking. */
static la_page_t *large_pop_oldest(la_heap_t *h)
{
	la_page_t *pg = h->large[0];
	for (unsigned i = 1; i < h->large_n; i++)
		h->large[i - 1] = h->large[i];
	h->large_n--;
	h->large_bytes -= pg->block_size;
	retained_count(h, pg, -1);
	pg->qstate = LA_Q_NONE;
	return pg;
}

bool la_heap_large_put(la_heap_t *h, la_page_t *pg)
{
	if (pg->block_size > la_opt.large_cache)
		return false;
	la_page_t *drop[LA_LARGE_CACHE_N];
	unsigned nd = 0;
	heap_lock(h);
	while (h->large_n && (h->large_n == LA_LARGE_CACHE_N ||
			      h->large_bytes + pg->block_size > la_opt.large_cache))
		drop[nd++] = large_pop_oldest(h);
	pg->qstate = LA_Q_CACHED;
	h->large[h->large_n++] = pg;
	h->large_bytes += pg->block_size;
	retained_count(h, pg, 1);
	retained_check(h);
	heap_unlock(h);
	while (nd)
		la_span_free(drop[--nd]);
	return true;
}

/* A cached span of at least `slices` and at most 25% more, newest first. */
la_page_t *la_heap_large_get(la_heap_t *h, unsigned slices)
{
	if (!h->large_n)
		return NULL;
	heap_lock(h);
	for (unsigned i = h->large_n; i-- > 0;) {
		la_page_t *pg = h->large[i];
		if (pg->slice_count >= slices && pg->slice_count <= slices + slices / 4) {
			for (unsigned k = i + 1; k < h->large_n; k++)
				h->large[k - 1] = h->large[k];
			h->large_n--;
			h->large_bytes -= pg->block_size;
			retained_count(h, pg, -1);
			pg->qstate = LA_Q_NONE;
			heap_unlock(h);
			return pg;
		}
	}
	heap_unlock(h);
	return NULL;
}

/* Detach the whole retained-empty list of class c (cache lock held). */
static la_page_t *empty_take(la_heap_t *h, unsigned c, unsigned keep)
{
	la_page_t *list = NULL;
	while (h->empty_cnt[c] > keep) {
		la_page_t *pg = h->empty[c];
		h->empty[c] = pg->next;
		h->empty_cnt[c]--;
		retained_count(h, pg, -1);
		pg->qstate = LA_Q_NONE;
		pg->next = list;
		list = pg;
	}
	return list;
}

/* A list of pages (linked through next) to the pool, one pool lock hold. */
static size_t release_list(la_page_t *pg)
{
	for (la_page_t *p = pg; p; p = p->next)
		atomic_store_explicit(&p->heap, NULL, memory_order_relaxed);
	return la_span_free_list(pg);
}

/* Heap lock held: retained empties above keep per class (keep < 0: the
 * class's capacity) and, if large_too, every cached large span, to the pool. */
static size_t take_cache_locked(la_heap_t *h, int keep, bool large_too)
{
	size_t bytes = 0;
	HEAP_LOCKED(h);
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		if (!h->empty_cnt[c])
			continue;
		unsigned k = keep < 0 ? atomic_load_explicit(&la_tcache_cap[c], memory_order_relaxed)
				      : (unsigned)keep;
		bytes += release_list(empty_take(h, c, k));
	}
	while (large_too && h->large_n) {
		la_page_t *pg = large_pop_oldest(h);
		bytes += pg->block_size;
		la_span_free(pg);
	}
	retained_check(h);
	return bytes;
}

size_t la_heap_take_cache(la_heap_t *h, int keep, bool large_too)
{
	if (!heap_trylock(h))
		return 0;
	size_t bytes = take_cache_locked(h, keep, large_too);
	heap_unlock(h);
	return bytes;
}

/* Give every cached page back to the pool: retained empties and pages whose
 * blocks have all come back. Pages with live blocks stay. */
void la_heap_flush(la_heap_t *h)
{
	heap_lock(h);
	drain_delayed(h);
	take_cache_locked(h, 0, true);
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		la_page_t *pg = h->queue[c].head, *nx;
		for (; pg; pg = nx) {
			nx = pg->next;
			la_page_collect(pg);
			if (pg->used == 0) {
				q_remove(&h->queue[c], pg);
				page_release(pg);
			}
		}
		set_direct(h, c);
	}
	heap_unlock(h);
}

/* ---- reclaim by another thread --------------------------------------------
 * A page has no live block iff used equals the blocks waiting on its
 * thread_free (blocks there still count in used). With h's heap lock held,
 * reading used (acquire) and then counting thread_free proves it: remote
 * frees only add to thread_free, only a lock holder collects, and a local
 * free by the owner lowers used without adding, so equality means every block
 * that was live at the read has come back. Such a page can receive no further
 * free, and the owner reaches it only through a slow path (lock) or, for the
 * page direct[] points at, the malloc fast path: the free fast path's
 * decrement of used is its last access to the page (README invariant 10,
 * la_heap_free_slow). Hence (README invariant 8):
 *  - a page with no live block that direct[] does not point at may be taken
 *    by any heap-lock holder (la_heap_reclaim);
 *  - a direct[] head is first hidden: direct[] of its class points at
 *    la_page_empty; then membarrier() orders that store against the owner's
 *    fast_busy store (the malloc fast path sets fast_busy before reading
 *    direct[] and clears it, release, after its pop), so afterwards either
 *    the owner is seen inside its fast path (fast_busy) or every later fast
 *    path of it reads la_page_empty and goes to the slow path, which waits
 *    for the lock (la_heap_reclaim_heads). */
static bool page_unused(la_page_t *pg)
{
	unsigned used = __atomic_load_n(&pg->used, __ATOMIC_ACQUIRE);
	return used == la_page_remote_count(pg);
}

static bool direct_class(unsigned c)
{
	return la_class_size[c] <= LA_SMALL_MAX;
}

static bool direct_hidden(la_heap_t *h, unsigned c)
{
	unsigned lo = c ? la_class_size[c - 1] / 8 + 1 : 0, hi = la_class_size[c] / 8;
	for (unsigned g = lo; g <= hi; g++)
		if (h->direct[g] != &la_page_empty)
			return false;
	return true;
}

static void direct_hide(la_heap_t *h, unsigned c)
{
	unsigned lo = c ? la_class_size[c - 1] / 8 + 1 : 0, hi = la_class_size[c] / 8;
	for (unsigned g = lo; g <= hi; g++)
		__atomic_store_n(&h->direct[g], &la_page_empty, __ATOMIC_RELAXED);
}

/* Lock held; pg is on no list and has no live block. */
static size_t take_unused(la_page_t *pg)
{
	LA_ASSERT(page_unused(pg) && pg->kind == LA_PAGE_SMALL);
	size_t bytes = (size_t)pg->slice_count << LA_SLICE_SHIFT;
	atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
	page_release(pg);
	return bytes;
}

size_t la_heap_reclaim(la_heap_t *h, bool hide_heads, bool *hidden)
{
	size_t bytes = 0;
	if (!atomic_load_explicit(&h->attached, memory_order_relaxed) || !heap_trylock(h))
		return 0;
	/* un-fulled pages the owner has not drained: take the unused ones,
	 * give the others back to the delayed list untouched */
	la_page_t *pg = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire), *nx;
	for (; pg; pg = nx) {
		nx = *la_page_delayed_link(pg);
		if (page_unused(pg)) {
			full_remove(h, pg);
			bytes += take_unused(pg);
			continue;
		}
		la_page_t *d = atomic_load_explicit(&h->delayed, memory_order_relaxed);
		do {
			*la_page_delayed_link(pg) = d;
		} while (!atomic_compare_exchange_weak_explicit(&h->delayed, &d, pg,
								 memory_order_release,
								 memory_order_relaxed));
	}
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		for (pg = h->queue[c].head; pg; pg = nx) {
			nx = pg->next;
			if (pg == h->queue[c].head && direct_class(c)) {
				if (hide_heads && page_unused(pg)) {
					direct_hide(h, c);
					*hidden = true;
				}
				continue;
			}
			if (page_unused(pg)) {
				q_remove(&h->queue[c], pg);
				bytes += take_unused(pg);
			}
		}
	}
	heap_unlock(h);
	return bytes;
}

size_t la_heap_reclaim_heads(la_heap_t *h)
{
	size_t bytes = 0;
	if (!atomic_load_explicit(&h->attached, memory_order_relaxed) || !heap_trylock(h))
		return 0;
	if (!atomic_load_explicit(&h->fast_busy, memory_order_acquire)) {
		for (unsigned c = 0; c < LA_NCLASSES; c++) {
			la_page_t *pg = h->queue[c].head;
			if (!pg || !direct_class(c) || !direct_hidden(h, c) || !page_unused(pg))
				continue;
			q_remove(&h->queue[c], pg);
			bytes += take_unused(pg);
		}
	}
	heap_unlock(h);
	return bytes;
}

void la_request_flush_all(void)
{
	atomic_fetch_add_explicit(&la_flush_epoch, 1, memory_order_relaxed);
}

/* ---- attach / detach ---- */
la_heap_t *la_heap_attach(void)
{
	pthread_mutex_lock(&la_heaps_lock);
	la_heap_t *h = heap_free_list;
	if (h) {
		heap_free_list = h->next_free;
	} else {
		if (!heap_chunk_left) {
			size_t sz = 16 * LA_SLICE_SIZE;
			heap_chunk = la_os_map(sz);
			if (!heap_chunk) {
				pthread_mutex_unlock(&la_heaps_lock);
				return NULL;
			}
			heap_chunk_left = (unsigned)(sz / sizeof(la_heap_t));
		}
		h = heap_chunk++;
		heap_chunk_left--;
		h->all_next = heap_all;
		heap_all = h;
	}
	for (unsigned g = 0; g < LA_DIRECT; g++)
		h->direct[g] = &la_page_empty;
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		h->queue[c].head = h->queue[c].tail = NULL;
		h->empty[c] = NULL;
		h->empty_cnt[c] = 0;
	}
	LA_ASSERT(h->retained_bytes == 0);
	h->full.head = h->full.tail = NULL;
	h->idle_n = 0;
	h->large_n = 0;
	h->large_bytes = 0;
	h->abandoned_frees = 0;
	atomic_store_explicit(&h->delayed, NULL, memory_order_relaxed);
	h->flush_epoch = atomic_load_explicit(&la_flush_epoch, memory_order_relaxed);
	atomic_store_explicit(&h->attached, 1, memory_order_relaxed);
	int live = atomic_fetch_add_explicit(&la_heaps_live, 1, memory_order_relaxed);
	LA_ASSERT(live >= 0); /* the monitor's thread leaves at 0 (invariant 9) */
	(void)live;
	pthread_mutex_unlock(&la_heaps_lock);
	return h;
}

/* Thread exit, one page off every list: onto the class's chain if a block
 * is still live, else onto the list of pages for the pool. */
struct abandon { la_page_t *chain[LA_NCLASSES], *empty; };

static void abandon_page(struct abandon *a, la_page_t *pg)
{
	atomic_store_explicit(&pg->heap, NULL, memory_order_release);
	la_page_collect(pg);
	la_page_t **list = pg->used == 0 ? &a->empty : &a->chain[pg->cls];
	pg->next = *list;
	*list = pg;
}

/* Thread exit: empty pages go back to the pool (one pool lock hold for all),
 * pages with live blocks onto the abandoned stacks (one CAS per class).
 * Full pages whose FULL bit a remote free already claimed are in flight
 * to h->delayed; wait for each of them so no later push can reach a reused h. */
void la_heap_detach(la_heap_t *h)
{
	struct abandon a = { { NULL }, NULL };
	heap_lock(h);
	for (unsigned g = 0; g < LA_DIRECT; g++)
		h->direct[g] = &la_page_empty;
	drain_delayed(h);
	take_cache_locked(h, 0, true);
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		la_page_t *pg;
		while ((pg = h->queue[c].head) != NULL) {
			q_remove(&h->queue[c], pg);
			abandon_page(&a, pg);
		}
	}
	unsigned pending = 0;
	la_page_t *pg = h->full.head, *nx;
	for (; pg; pg = nx) {
		nx = pg->next;
		if (la_page_unfull(pg)) {
			full_remove(h, pg);
			abandon_page(&a, pg);
		} else {
			pending++;
		}
	}
	while (pending) {
		pg = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
		if (!pg) {
			sched_yield();
			continue;
		}
		for (; pg; pg = nx) {
			nx = *la_page_delayed_link(pg);
			full_remove(h, pg);
			abandon_page(&a, pg);
			pending--;
		}
	}
	for (unsigned c = 0; c < LA_NCLASSES; c++)
		la_abandoned_push_chain(a.chain[c]);
	la_span_free_list(a.empty);
	heap_unlock(h);
	pthread_mutex_lock(&la_heaps_lock);
	atomic_store_explicit(&h->attached, 0, memory_order_relaxed);
	int live = atomic_fetch_sub_explicit(&la_heaps_live, 1, memory_order_relaxed);
	LA_ASSERT(live >= 1); /* this heap was counted at attach */
	(void)live;
	h->next_free = heap_free_list;
	heap_free_list = h;
	pthread_mutex_unlock(&la_heaps_lock);
}

void la_heaps_foreach(void (*fn)(la_heap_t *, void *), void *arg)
{
	pthread_mutex_lock(&la_heaps_lock);
	for (la_heap_t *h = heap_all; h; h = h->all_next)
		fn(h, arg);
	pthread_mutex_unlock(&la_heaps_lock);
}

/* fork: with la_heaps_lock held, take every heap's lock (registry order)
 * so no thread is inside a slow path or a release at fork; the child finds
 * them all free. A heap lock's holder may take the abandoned and pool locks
 * (after it in the order), never la_heaps_lock, so this cannot deadlock. */
void la_heaps_fork_prepare(void)
{
	for (la_heap_t *h = heap_all; h; h = h->all_next)
		heap_lock(h);
}

void la_heaps_fork_parent(void)
{
	for (la_heap_t *h = heap_all; h; h = h->all_next)
		heap_unlock(h);
}

/* Child: only the forking thread exists; the other threads' heaps stay
 * registered (their pages are never reused) but no longer count as live. */
void la_heaps_fork_child(void)
{
	for (la_heap_t *h = heap_all; h; h = h->all_next)
		heap_unlock(h);
	atomic_store_explicit(&la_heaps_live, la_tl_heap != &la_heap_empty, memory_order_relaxed);
}
