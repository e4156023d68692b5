/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replay_main.c - runs a fuzz harness over saved inputs, without libFuzzer.
 *
 * Usage: fuzz_replay_HARNESS PATH...   (files, or folders of files)
 * Every input goes through LLVMFuzzerTestOneInput once, as the fuzzer ran it;
 * a broken invariant aborts, and the name of the input is printed first. It
 * fails when it finds no input at all, so a missing corpus is not a pass.
 */
#include <signal.h>
#include <unistd.h>

#include "fuzz_common.h"

static const char *current_input = "";

/* In a sanitized build, a report ends in abort(), so tell_input names the input. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
#define SANITIZER_HOOK __attribute__((visibility("default"), used))
SANITIZER_HOOK const char *__asan_default_options(void) { return "abort_on_error=1"; }
SANITIZER_HOOK const char *__ubsan_default_options(void) { return "abort_on_error=1:print_stacktrace=1"; }

static void tell_input(int sig)
{
    static const char msg[] = "\nfuzz replay: crashed on input ";
    ssize_t unused = write(STDERR_FILENO, msg, sizeof msg - 1);
    unused = write(STDERR_FILENO, current_input, strlen(current_input));
    unused = write(STDERR_FILENO, "\n", 1);
    (void)unused;
    signal(sig, SIG_DFL);
    raise(sig);
}

static gboolean replay_file(const char *path)
{
    gchar *data = NULL;
    gsize size = 0;
    GError *error = NULL;
    if (!g_file_get_contents(path, &data, &size, &error)) {
        fprintf(stderr, "fuzz replay: %s\n", error->message);
        g_error_free(error);
        return FALSE;
    }
    current_input = path;
    LLVMFuzzerTestOneInput((const uint8_t *)data, size);
    g_free(data);
    return TRUE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    guint count = 0, failures = 0;
    signal(SIGABRT, tell_input);
    signal(SIGSEGV, tell_input);
    signal(SIGFPE, tell_input);
    signal(SIGBUS, tell_input);

    for (int a = 1; a < argc; a++) {
        if (!g_file_test(argv[a], G_FILE_TEST_IS_DIR)) {
            count++;
            failures += !replay_file(argv[a]);
            continue;
        }
        GError *error = NULL;
        GDir *dir = g_dir_open(argv[a], 0, &error);
        if (!dir) {
            fprintf(stderr, "fuzz replay: %s\n", error->message);
            g_error_free(error);
            failures++;
            continue;
        }
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        for (const char *name; (name = g_dir_read_name(dir)) != NULL;) {
            if (name[0] != '.')
                g_ptr_array_add(paths, g_build_filename(argv[a], name, NULL));
        }
        g_dir_close(dir);
        g_ptr_array_sort(paths, compare_names);   /* the same order on every machine */
        for (guint i = 0; i < paths->len; i++) {
            count++;
            failures += !replay_file(g_ptr_array_index(paths, i));
        }
        g_ptr_array_free(paths, TRUE);
    }
    current_input = "none (after the last one: a leak?)";
    printf("fuzz replay: %u inputs, %u unreadable\n", count, failures);
    return count == 0 || failures ? 1 : 0;
}
