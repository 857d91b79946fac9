/* Monitor-thread policies: event reactions (react.c), time decay (decay.c),
 * adaptive thread-cache capacity (adaptive.c). Called only by the monitor
 * thread (single caller: no internal locking). */
#ifndef LA_REACT_H
#ifndef LA_MONITOR_PRIVATE
#error "private to src/monitor/: the core includes monitor/monitor.h only"
#endif
#define LA_REACT_H
#include "release.h"

/* React to one event (MEMNOTIFY_EVENT_*, level, RECLAIM bytes); returns
 * the bytes returned to the OS. */
LA_HIDDEN size_t la_react(uint32_t type, uint32_t level, uint64_t bytes);

/* Time decay: call every tick; returns bytes released. */
LA_HIDDEN size_t la_decay_tick(uint64_t now_ns);
extern LA_HIDDEN _Atomic(uint64_t) la_decay_released;

/* Adaptive capacity: call every tick with its period. */
LA_HIDDEN void la_adaptive_tick(uint64_t now_ns);
/* Pressure: capacities back to their baseline at once. */
LA_HIDDEN void la_adaptive_relax(void);
LA_HIDDEN void la_adaptive_init(void);
LA_HIDDEN uint64_t la_adaptive_cap_sum(void);
#endif
