/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_common.h - shared by the fuzz harnesses: reading the fuzzer's bytes as
 * typed values, and checks that abort in every build (libFuzzer reports an
 * abort as a crash and keeps the input; the replay runner fails the test).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The entry point libFuzzer calls, and the replay runner too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* The input as a stream of little-endian values; past its end every value is 0. */
typedef struct {
    const uint8_t *p;
    size_t left;
} fuzz_input;

static inline gboolean fuzz_done(const fuzz_input *in) { return in->left == 0; }

static inline uint8_t fuzz_u8(fuzz_input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(fuzz_input *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(fuzz_input *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(fuzz_input *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* Text a field may show: NUL-terminated within max bytes, valid UTF-8,
 * no control characters. */
static inline void fuzz_check_text(const char *s, size_t max)
{
    FUZZ_CHECK(s != NULL);
    const char *nul = memchr(s, '\0', max);
    FUZZ_CHECK(nul != NULL);
    FUZZ_CHECK(g_utf8_validate(s, nul - s, NULL));
    for (const char *p = s; p < nul; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

#endif /* FUZZ_COMMON_H */
