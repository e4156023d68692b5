/* SPDX-License-Identifier: GPL-2.0-or-later */
/* index_log - time how long rstdiag takes to index a log file.
 * Usage: index_log FILE   (prints seconds, lines read, reset lines kept, peak RSS) */
#include <stdio.h>
#include <sys/resource.h>

#include "log_index.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LOGFILE\n", argv[0]);
        return 2;
    }
    gint64 start = g_get_monotonic_time();
    char *error = NULL;
    log_index *index = log_index_load(argv[1], LOG_FORMAT_AUTO, &error);
    double seconds = (double)(g_get_monotonic_time() - start) / 1e6;
    if (!index) {
        fprintf(stderr, "%s\n", error);
        g_free(error);
        return 1;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("seconds=%.3f lines=%u kept=%u unparsed=%u peak_rss_kb=%ld\n", seconds, index->lines_read,
           index->entries->len, index->lines_unparsed, usage.ru_maxrss);
    if (index->stop_reason)
        printf("stopped in line %u: %s\n", index->stop_line, index->stop_reason);
    log_index_free(index);
    return 0;
}
