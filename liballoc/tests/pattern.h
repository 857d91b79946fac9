/* Content patterns for the fuzz harness and the soak test: byte i of the
 * pattern of tag depends only on (tag, i), so any sub-range of a block can be
 * filled or checked on its own (a realloc'd prefix, a tail grown later).
 * Two live blocks with different tags never hold the same bytes, so a block
 * handed out twice or written by someone else fails its check. No allocation,
 * no libc beyond memcpy. */
#ifndef LA_TEST_PATTERN_H
#define LA_TEST_PATTERN_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Word w of tag's pattern: tag * K1 + w * K2 (K1, K2 odd), so words differ
 * between positions of one block (a shifted copy fails) and, at one position,
 * between tags; zero only by accident. Cheap enough for multi-MiB blocks. */
#define LAPAT_K1 0x9E3779B97F4A7C15ULL
#define LAPAT_K2 0xD1B54A32D192ED03ULL
static inline uint64_t lapat_word(uint64_t tag, size_t w)
{
	return tag * LAPAT_K1 + (uint64_t)w * LAPAT_K2;
}

/* Write the pattern of tag into bytes [from, to) of block p. */
static inline void lapat_fill(void *p, size_t from, size_t to, uint64_t tag)
{
	unsigned char *c = p;
	uint64_t v;
	while (from < to && (from & 7)) {
		v = lapat_word(tag, from >> 3);
		c[from] = ((const unsigned char *)&v)[from & 7];
		from++;
	}
	v = lapat_word(tag, from >> 3);
	for (; from + 8 <= to; from += 8, v += LAPAT_K2)
		memcpy(c + from, &v, 8);
	if (from < to) {
		v = lapat_word(tag, from >> 3);
		memcpy(c + from, &v, to - from);
	}
}

/* Offset of the first byte in [from, to) of p that differs from tag's
 * pattern, or SIZE_MAX if the whole range matches. */
static inline size_t lapat_check(const void *p, size_t from, size_t to, uint64_t tag)
{
	const unsigned char *c = p;
	uint64_t v, w;
	for (; from < to && (from & 7); from++) {
		v = lapat_word(tag, from >> 3);
		if (c[from] != ((const unsigned char *)&v)[from & 7])
			return from;
	}
	v = lapat_word(tag, from >> 3);
	for (; from + 8 <= to; from += 8, v += LAPAT_K2) {
		memcpy(&w, c + from, 8);
		if (w != v)
			break;
	}
	for (; from < to; from++) {
		v = lapat_word(tag, from >> 3);
		if (c[from] != ((const unsigned char *)&v)[from & 7])
			return from;
	}
	return SIZE_MAX;
}
#endif
