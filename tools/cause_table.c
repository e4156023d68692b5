/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cause_table - prints the cause table from rst_classify.c, so the README
 * and the capture tests use the same cause -> kernel reason mapping.
 *   cause_table tsv       cause<TAB>reason,reason<TAB>summary
 *   cause_table markdown  the README table */
#include <stdio.h>
#include <string.h>

#include "rst_classify.h"

static void print_reasons(rst_cause cause, const char *separator)
{
    const rst_kernel_reason *r = rst_cause_kernel_reasons(cause);
    if (*r == KR_COUNT)
        fputs("any", stdout);
    for (int i = 0; r[i] != KR_COUNT; i++)
        printf("%s%s", i ? separator : "", rst_kernel_reason_token(r[i]));
}

int main(int argc, char **argv)
{
    int markdown = argc > 1 && strcmp(argv[1], "markdown") == 0;
    if (markdown)
        puts("| Cause | What happened | Linux kernel reason(s) |\n|---|---|---|");
    for (int c = 1; c <= CAUSE_COUNT; c++) {
        rst_cause cause = (rst_cause)(c % CAUSE_COUNT);   /* unknown last */
        if (markdown) {
            printf("| `%s` | %s | ", rst_cause_token(cause), rst_cause_summary(cause));
            print_reasons(cause, ", ");
            puts(" |");
        } else {
            printf("%s\t", rst_cause_token(cause));
            print_reasons(cause, ",");
            printf("\t%s\n", rst_cause_summary(cause));
        }
    }
    return 0;
}
