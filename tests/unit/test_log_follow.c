/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for following a log as it is written (log_index_follow) and a
 * matcher taking the new lines in (log_matcher_update): lines appended, a last
 * line written in two parts, truncation, rotation, and a RST matched to a
 * line written after it was seen. */
#include <glib.h>
#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log_index.h"
#include "log_match.h"

#define S 1000000LL

/* An nginx client-reset line at 2024-05-01 10:00:SS UTC from 198.18.0.N. */
static char *reset_line(int second, int client)
{
    return g_strdup_printf("2024/05/01 10:00:%02d [info] 1#1: *%d recv() failed (104: Connection reset by peer) "
                           "while sending to client, client: 198.18.0.%d, server: _\n", second, client, client);
}

static const char *const other_line = "2024/05/01 10:00:00 [notice] 1#1: start worker processes\n";

typedef struct {
    char *path;
    log_index *index;
} followed;

static void append(const followed *f, const char *text)
{
    FILE *out = fopen(f->path, "a");
    g_assert_nonnull(out);
    fputs(text, out);
    fclose(out);
}

static void append_reset(const followed *f, int second, int client)
{
    char *line = reset_line(second, client);
    append(f, line);
    g_free(line);
}

static void start(followed *f, const char *content)
{
    f->path = g_build_filename(g_get_tmp_dir(), "rstdiag-follow.log", NULL);
    g_assert_true(g_file_set_contents(f->path, content, -1, NULL));
    char *error = NULL;
    f->index = log_index_load(f->path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
    g_assert_true(f->index->followable);
}

static void stop(followed *f)
{
    log_index_free(f->index);
    g_remove(f->path);
    g_free(f->path);
}

static const log_entry *entry(const followed *f, guint i)
{
    g_assert_cmpuint(i, <, f->index->entries->len);
    return &g_array_index(f->index->entries, log_entry, i);
}

static void test_append(void)
{
    followed f;
    char *first = reset_line(1, 7);
    char *content = g_strconcat(other_line, first, NULL);
    start(&f, content);
    g_assert_cmpuint(f.index->entries->len, ==, 1);
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));   /* nothing new: no change */

    append(&f, other_line);   /* a line that reports no reset: read, no entry */
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->lines_read, ==, 3);

    append_reset(&f, 5, 8);
    append_reset(&f, 3, 9);   /* written later, with an earlier time: appended all the same */
    guint revision = f.index->revision;
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->revision, !=, revision);
    g_assert_cmpuint(f.index->entries->len, ==, 3);
    g_assert_cmpuint(entry(&f, 1)->lineno, ==, 4);
    g_assert_cmpuint(entry(&f, 2)->lineno, ==, 5);
    g_assert_cmpuint(entry(&f, 2)->addr[3], ==, 9);
    g_assert_cmpuint(f.index->lines_reporting_rst, ==, 3);
    stop(&f);
    g_free(first);
    g_free(content);
}

/* A program (or its stdio buffer) writes a line in two parts: the part read
 * first is read again whole, its entry rewritten in place, not added twice. */
static void test_partial_last_line(void)
{
    followed f;
    char *line = reset_line(2, 7);
    size_t cut = strlen(line) - 20;   /* the client's address and the newline still to come */
    char *head = g_strndup(line, strlen("2024/05/01 10:00:02 [info] 1#1: *7 recv() failed (104: "));
    start(&f, other_line);
    g_assert_cmpuint(f.index->entries->len, ==, 0);

    append(&f, head);   /* not yet a reset line in any format */
    log_index_follow(f.index, LOG_FORMAT_AUTO);
    g_assert_cmpuint(f.index->lines_read, ==, 2);
    g_assert_cmpuint(f.index->entries->len, ==, 0);

    char *middle = g_strndup(line + strlen(head), cut - strlen(head));
    append(&f, middle);   /* a reset line by now, with its address cut short */
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->lines_read, ==, 2);
    g_assert_cmpuint(f.index->entries->len, ==, 1);
    g_assert_cmpuint(entry(&f, 0)->lineno, ==, 2);

    append(&f, line + cut);   /* the rest and the newline */
    guint revision = f.index->revision;
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->revision, !=, revision);
    g_assert_cmpuint(f.index->lines_read, ==, 2);
    g_assert_cmpuint(f.index->entries->len, ==, 1);   /* rewritten, not added */
    g_assert_cmpuint(entry(&f, 0)->addr[3], ==, 7);
    g_assert_cmpstr(entry(&f, 0)->text, ==, g_strchomp(line));
    g_assert_cmpuint(f.index->lines_reporting_rst, ==, 1);

    append_reset(&f, 4, 8);   /* the next line is added as usual */
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->entries->len, ==, 2);
    g_assert_cmpuint(entry(&f, 1)->lineno, ==, 3);
    stop(&f);
    g_free(line);
    g_free(head);
    g_free(middle);
}

/* copytruncate: the file shrinks and is written again from its start. */
static void test_truncate(void)
{
    followed f;
    char *first = reset_line(1, 7);
    start(&f, first);
    struct stat before, after;
    g_assert_cmpint(g_stat(f.path, &before), ==, 0);
    FILE *out = fopen(f.path, "w");   /* O_TRUNC: the same file, emptied */
    g_assert_nonnull(out);
    fclose(out);
    g_assert_cmpint(g_stat(f.path, &after), ==, 0);
    g_assert_cmpuint(after.st_ino, ==, before.st_ino);
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->lines_read, ==, 0);
    append_reset(&f, 6, 9);
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->entries->len, ==, 2);   /* the line before the truncation stays */
    g_assert_cmpuint(entry(&f, 1)->lineno, ==, 1);    /* the new file's first line */
    g_assert_cmpuint(entry(&f, 1)->addr[3], ==, 9);
    stop(&f);
    g_free(first);
}

/* logrotate's default: the file is renamed and a new one takes its name. */
static void test_rotate(void)
{
    followed f;
    char *first = reset_line(1, 7);
    char *content = g_strconcat(first, other_line, other_line, NULL);
    start(&f, content);
    char *rotated = g_strconcat(f.path, ".1", NULL);
    g_assert_cmpint(g_rename(f.path, rotated), ==, 0);
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));   /* no file of that name yet */
    /* the program still writes to the renamed file until it reopens its log */
    char *path = f.path;
    f.path = rotated;
    append_reset(&f, 2, 6);
    f.path = path;

    char *second = reset_line(9, 8);
    /* as long as the old file: only its inode tells it is another */
    char *new_content = g_strconcat(other_line, second, other_line, NULL);
    g_assert_cmpuint(strlen(new_content), ==, strlen(content));
    g_assert_true(g_file_set_contents(f.path, new_content, -1, NULL));
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(f.index->entries->len, ==, 3);
    g_assert_cmpuint(entry(&f, 1)->lineno, ==, 4);    /* the old file's last line, read to its end */
    g_assert_cmpuint(entry(&f, 1)->addr[3], ==, 6);
    g_assert_cmpuint(entry(&f, 2)->lineno, ==, 2);    /* then the new file's */
    g_assert_cmpuint(entry(&f, 2)->addr[3], ==, 8);
    g_assert_cmpuint(f.index->lines_read, ==, 3);
    append_reset(&f, 10, 5);   /* and the new file is followed */
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_cmpuint(entry(&f, 3)->lineno, ==, 4);
    g_remove(rotated);
    stop(&f);
    g_free(first);
    g_free(second);
    g_free(content);
    g_free(new_content);
    g_free(rotated);
}

/* Gzip files are not followed; a file that turns binary stops the following
 * with one reason, and the entries read stay. */
static void test_not_followed(void)
{
    followed f;
    char *first = reset_line(1, 7);
    start(&f, first);
    FILE *out = fopen(f.path, "a");
    fwrite("\0\0\0\0", 1, 4, out);
    fputs(first, out);
    fclose(out);
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));
    g_assert_nonnull(f.index->stop_reason);
    g_assert_cmpuint(f.index->entries->len, ==, 1);
    append_reset(&f, 3, 8);
    g_assert_false(log_index_follow(f.index, LOG_FORMAT_AUTO));   /* stopped for good */
    stop(&f);

    char *gz_path = g_build_filename(g_get_tmp_dir(), "rstdiag-follow.log.gz", NULL);
    char *command = g_strdup_printf("printf '%%s' '%s' | gzip > '%s'", first, gz_path);
    g_assert_cmpint(system(command), ==, 0);
    char *error = NULL;
    log_index *gz = log_index_load(gz_path, LOG_FORMAT_AUTO, &error);
    g_assert_nonnull(gz);
    g_assert_false(gz->followable);
    g_assert_false(log_index_follow(gz, LOG_FORMAT_AUTO));
    log_index_free(gz);
    g_remove(gz_path);
    g_free(gz_path);
    g_free(command);
    g_free(first);
}

/* A RST seen before its line is written: no line, then -- once the log has
 * been read further and the matcher updated -- that line. */
static void test_matcher_takes_new_lines(void)
{
    followed f;
    start(&f, other_line);
    log_match_settings settings;
    char *error = NULL;
    g_assert_true(log_match_settings_parse("UTC", "", "", &settings, &error));
    log_matcher *m = log_matcher_new(f.index, &settings);
    log_rst_event ev = { .stream = 3, .time_us = log_civil_to_us(2024, 5, 1, 10, 0, 4) + S / 10,
                         .role = LOG_SENDER_CLIENT };
    ev.sender.family = 4;
    g_assert_cmpint(inet_pton(AF_INET, "198.18.0.7", ev.sender.addr), ==, 1);
    guint rst = log_matcher_add(m, &ev);
    log_match_result r;
    g_assert_false(log_matcher_result(m, rst, &r));

    append_reset(&f, 4, 7);
    g_assert_true(log_index_follow(f.index, LOG_FORMAT_AUTO));
    log_matcher_update(m);
    g_assert_true(log_matcher_result(m, rst, &r));
    g_assert_cmpuint(entry(&f, r.entry)->lineno, ==, 2);
    g_assert_true(log_matcher_entry_used(m, r.entry));
    log_clock clock;
    log_matcher_clock(m, &clock);
    g_assert_cmpuint(clock.pairs, ==, 1);
    log_matcher_free(m);
    stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/follow/append", test_append);
    g_test_add_func("/follow/partial-last-line", test_partial_last_line);
    g_test_add_func("/follow/truncate", test_truncate);
    g_test_add_func("/follow/rotate", test_rotate);
    g_test_add_func("/follow/not-followed", test_not_followed);
    g_test_add_func("/follow/matcher-takes-new-lines", test_matcher_takes_new_lines);
    return g_test_run();
}
