/* SPDX-License-Identifier: GPL-2.0-or-later */
/* origin_table - prints the table of signs rst_origin.c weighs, for the
 * README (tools/update-readme.py): one markdown row per sign, in the order
 * they are read. */
#include <stdio.h>

#include "rst_origin.h"

int main(void)
{
    const char *name, *weight, *source;
    puts("| Sign | Weighs for | Why it holds |\n|---|---|---|");
    for (unsigned i = 0; rst_origin_sign_describe(i, &name, &weight, &source); i++)
        printf("| %s | %s | %s |\n", name, weight, source);
    return 0;
}
