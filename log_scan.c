/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_scan.c - the fast pass over a log's text (see log_scan.h). */
#include "log_scan.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

/* Cheap test that lets most lines of a large log be skipped unparsed: a
 * reset phrase, or the marks of the HAProxy and Envoy formats, whose resets
 * are flags. Each needle is anchored at two of its bytes that are rare
 * together; a pass over the text finds the positions where some needle's
 * anchor pair stands, 32 at a time, and only there is the whole needle
 * compared. '.' in a needle stands for any byte. */
typedef struct {
    const char *text;
    guint8 len;
    guint8 first, second;   /* offsets of the anchor bytes; second - first <= SCAN_REACH */
} prefilter_needle;

#define SCAN_REACH 3

static const prefilter_needle prefilter[LOG_SCAN_NEEDLES] = {
    [LOG_SCAN_RESET] =          { "eset", 4, 2, 3 },
    [LOG_SCAN_RESET_UPPER] =    { "ESET", 4, 1, 2 },   /* "ES", not "ET": every "GET" has that */
    [LOG_SCAN_BROKEN_PIPE] =    { "roken pipe", 10, 1, 2 },
    [LOG_SCAN_PREMATURELY] =    { "rematurely", 10, 2, 3 },
    [LOG_SCAN_REFUSED] =        { "refused", 7, 2, 3 },
    [LOG_SCAN_HAPROXY_TAG] =    { "haproxy[", 8, 6, 7 },
    [LOG_SCAN_ENVOY_REQUEST] =  { "] \"", 3, 0, 2 },
    [LOG_SCAN_HAPROXY_DATE] =   { "[../.../", 8, 0, 3 },   /* "addr:port [dd/Mmm/yyyy:" */
};

#define SCAN_BLOCK 32   /* bytes looked at in one step */

/* The needle (*which) whose anchor is at `anchor`, whole within [begin, end). */
static gboolean needle_at(const char *begin, const char *end, const char *anchor, log_scan_needle *which)
{
    for (guint k = 0; k < G_N_ELEMENTS(prefilter); k++) {
        const prefilter_needle *n = &prefilter[k];
        const char *start = anchor - n->first;
        if ((size_t)(anchor - begin) < n->first || (size_t)(end - start) < n->len)
            continue;
        guint i = 0;
        while (i < n->len && (n->text[i] == '.' || n->text[i] == start[i]))
            i++;
        if (i == n->len) {
            *which = (log_scan_needle)k;
            return TRUE;
        }
    }
    return FALSE;
}

/* The first whole needle anchored in the block at p, whose positions with an
 * anchor pair are the non-zero bytes of hits[]; NULL if none. */
static const char *needle_in_block(const char *begin, const char *end, const char *p,
                                   const unsigned char hits[SCAN_BLOCK], log_scan_needle *which)
{
    for (size_t lane = 0; lane < SCAN_BLOCK; lane++) {
        if (hits[lane] && needle_at(begin, end, p + lane, which))
            return p + lane;
    }
    return NULL;
}

/* The bytes a block scan leaves at the end, one by one. */
static const char *needle_in_tail(const char *begin, const char *end, const char *p, log_scan_needle *which)
{
    for (; p < end; p++) {
        if (needle_at(begin, end, p, which))
            return p;
    }
    return NULL;
}

/* Newlines in [p, end), one by one: the bytes a block scan did not count. */
static size_t newlines_in(const char *p, const char *end)
{
    size_t count = 0;
    for (; p < end; p++)
        count += *p == '\n';
    return count;
}

/* How a block scan ends at p: the needle found in a block, or one in the
 * bytes left; the newlines counted in the blocks (lines) and those after them. */
static const char *scan_end(const char *begin, const char *end, const char *p, const char *found, size_t lines,
                            log_scan_needle *which, size_t *newlines)
{
    if (!found)
        found = needle_in_tail(begin, end, p, which);
    if (newlines)
        *newlines += lines + newlines_in(p, found ? found : end);
    return found;
}

/* The block scans count the newlines of the blocks they pass, a byte per
 * position; the bytes are summed before they can overflow. */
#define COUNT_BLOCKS_MAX 255

typedef unsigned char scan_vec __attribute__((vector_size(SCAN_BLOCK)));

/* unaligned loads */
#define LOAD_VEC(v, p) memcpy(&(v), (p), sizeof(scan_vec))

/* by pointer, as any_lane: a vector argument would change the ABI without AVX */
static size_t lane_sum(const scan_vec *counts)
{
    size_t sum = 0;
    for (size_t lane = 0; lane < SCAN_BLOCK; lane++)
        sum += (*counts)[lane];
    return sum;
}

static gboolean any_lane(const scan_vec *v)
{
    uint64_t words[sizeof(scan_vec) / 8];
    memcpy(words, v, sizeof *v);
    uint64_t or = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
        or |= words[i];
    return or != 0;
}

/* Any CPU (GCC vector extensions: SSE2 or the target's own vectors): every
 * needle's anchor pair compared at every position, two compares each. */
const char *log_scan_next_portable(const char *p, const char *end, log_scan_needle *which, size_t *newlines)
{
    const char *begin = p, *found = NULL;
    size_t lines = 0;
    scan_vec counts = { 0 };
    int blocks = 0;
    while ((size_t)(end - p) >= SCAN_BLOCK + SCAN_REACH) {
        scan_vec at[SCAN_REACH + 1];
#pragma GCC unroll 4
        for (int d = 0; d <= SCAN_REACH; d++)
            LOAD_VEC(at[d], p + d);
        scan_vec hits = { 0 };
#pragma GCC unroll 16   /* the table's bytes become constants */
        for (guint k = 0; k < G_N_ELEMENTS(prefilter); k++) {
            const prefilter_needle *n = &prefilter[k];
            hits |= (scan_vec)((at[0] == (unsigned char)n->text[n->first])
                               & (at[n->second - n->first] == (unsigned char)n->text[n->second]));
        }
        if (any_lane(&hits) && (found = needle_in_block(begin, end, p, (const unsigned char *)&hits, which)))
            break;
        counts -= (scan_vec)(at[0] == '\n');
        if (++blocks == COUNT_BLOCKS_MAX) {
            lines += lane_sum(&counts);
            counts = (scan_vec){ 0 };
            blocks = 0;
        }
        p += SCAN_BLOCK;
    }
    return scan_end(begin, end, p, found, lines + lane_sum(&counts), which, newlines);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_NIBBLE_SCAN 1

/* x86 with AVX2: the "Teddy" bucket search (Hyperscan, Intel): needle k is
 * bit k of a byte. Two 16-entry tables per anchor, indexed by a byte's low
 * and high half (PSHUFB), give the needles whose anchor byte it is; ANDing
 * the first anchor's bits at p with the second anchor's at p + distance
 * leaves the needles whose pair stands at p. Four lookups a block instead of
 * two compares per needle. */
typedef struct {
    guint8 first_lo[16], first_hi[16];
    guint8 second_lo[SCAN_REACH][16], second_hi[SCAN_REACH][16];   /* by distance - 1 */
} nibble_tables;

G_STATIC_ASSERT(G_N_ELEMENTS(prefilter) <= 8);   /* a bit each */

static void nibble_tables_fill(nibble_tables *t)
{
    memset(t, 0, sizeof *t);
    for (guint k = 0; k < G_N_ELEMENTS(prefilter); k++) {
        const prefilter_needle *n = &prefilter[k];
        guint8 bit = (guint8)(1u << k);
        guint8 a = (guint8)n->text[n->first], b = (guint8)n->text[n->second];
        guint d = n->second - n->first - 1u;
        t->first_lo[a & 15] |= bit;
        t->first_hi[a >> 4] |= bit;
        t->second_lo[d][b & 15] |= bit;
        t->second_hi[d][b >> 4] |= bit;
    }
}

/* A pair of 16-entry tables in both 128-bit halves, as PSHUFB looks up within each half. */
typedef struct {
    __m256i lo, hi;
} nibble_pair;

__attribute__((target("avx2"))) static nibble_pair nibble_pair_load(const guint8 lo[16], const guint8 hi[16])
{
    nibble_pair pair = { _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                         _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)hi)) };
    return pair;
}

__attribute__((target("avx2"))) static __m256i nibble_lookup(__m256i text, nibble_pair tables)
{
    const __m256i low_half = _mm256_set1_epi8(0x0f);
    __m256i low = _mm256_and_si256(text, low_half);
    __m256i high = _mm256_and_si256(_mm256_srli_epi16(text, 4), low_half);
    return _mm256_and_si256(_mm256_shuffle_epi8(tables.lo, low), _mm256_shuffle_epi8(tables.hi, high));
}

__attribute__((target("avx2"))) static size_t byte_sum(__m256i counts)
{
    __m256i sums = _mm256_sad_epu8(counts, _mm256_setzero_si256());   /* four 64-bit sums */
    return (size_t)(_mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) + _mm256_extract_epi64(sums, 2)
                    + _mm256_extract_epi64(sums, 3));
}

__attribute__((target("avx2"))) static const char *next_by_nibbles(const char *p, const char *end,
                                                                  log_scan_needle *which, size_t *newlines)
{
    static nibble_tables tables;
    static gboolean filled;
    if (!filled) {
        nibble_tables_fill(&tables);
        filled = TRUE;
    }
    nibble_pair first = nibble_pair_load(tables.first_lo, tables.first_hi);
    nibble_pair second[SCAN_REACH];
    for (int d = 0; d < SCAN_REACH; d++)
        second[d] = nibble_pair_load(tables.second_lo[d], tables.second_hi[d]);
    const __m256i newline = _mm256_set1_epi8('\n');
    const char *begin = p, *found = NULL;
    size_t lines = 0;
    __m256i counts = _mm256_setzero_si256();
    int blocks = 0;
    while ((size_t)(end - p) >= SCAN_BLOCK + SCAN_REACH) {
        __m256i text = _mm256_loadu_si256((const __m256i *)p);
        __m256i seconds = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int d = 1; d <= SCAN_REACH; d++)
            seconds = _mm256_or_si256(
                seconds, nibble_lookup(_mm256_loadu_si256((const __m256i *)(p + d)), second[d - 1]));
        __m256i hits = _mm256_and_si256(nibble_lookup(text, first), seconds);
        if (!_mm256_testz_si256(hits, hits)) {
            unsigned char lanes[SCAN_BLOCK];
            _mm256_storeu_si256((__m256i *)lanes, hits);
            if ((found = needle_in_block(begin, end, p, lanes, which)))
                break;
        }
        counts = _mm256_sub_epi8(counts, _mm256_cmpeq_epi8(text, newline));
        if (++blocks == COUNT_BLOCKS_MAX) {
            lines += byte_sum(counts);
            counts = _mm256_setzero_si256();
            blocks = 0;
        }
        p += SCAN_BLOCK;
    }
    return scan_end(begin, end, p, found, lines + byte_sum(counts), which, newlines);
}
#endif

const char *log_scan_next(const char *p, const char *end, log_scan_needle *which, size_t *newlines)
{
#ifdef HAVE_NIBBLE_SCAN
    static int avx2 = -1;
    if (avx2 < 0)
        avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    if (avx2)
        return next_by_nibbles(p, end, which, newlines);
#endif
    return log_scan_next_portable(p, end, which, newlines);
}
