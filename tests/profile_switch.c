/* SPDX-License-Identifier: GPL-2.0-or-later */
/* profile_switch.c - switches configuration profiles the way the Wireshark
 * GUI does, inside one process of the real libwireshark, and counts after
 * each switch the frames of a capture that match a display filter.
 *
 *   profile_switch -r CAPTURE -Y FILTER PROFILE [PROFILE ...]
 *
 * prints "PROFILE<TAB>COUNT" per step ("Default" is the default profile).
 * The first profile is read as at startup; every later one as
 * MainApplication::setConfigurationProfile() does (ui/qt/main_application.cpp):
 * set_profile_name(), readConfigurationFiles(true) = prefs_reset() +
 * epan_load_settings(), prefs_apply_all(), then a redissection (a new epan
 * session). Each step dissects the capture once, with taps, as the GUI's
 * loading pass does. Built for the reader API of Wireshark 4.0. */
#include <wireshark.h>

#include <epan/dfilter/dfilter.h>
#include <epan/epan.h>
#include <epan/epan_dissect.h>
#include <epan/frame_data.h>
#include <epan/prefs.h>
#include <epan/tvbuff.h>
#include <wiretap/wtap.h>
#include <wsutil/filesystem.h>
#include <wsutil/privileges.h>
#include <wsutil/report_message.h>

struct packet_provider_data {
    GPtrArray *frames;   /* frame_data *, frame number - 1 */
};

static const nstime_t *frame_time(struct packet_provider_data *prov, guint32 num)
{
    if (num == 0 || num > prov->frames->len)
        return NULL;
    return &((const frame_data *)g_ptr_array_index(prov->frames, num - 1))->abs_ts;
}

static void print_report(const char *format, va_list ap)
{
    fprintf(stderr, "profile_switch: ");
    vfprintf(stderr, format, ap);
    fprintf(stderr, "\n");
}

static void open_failure(const char *name, int err, gboolean for_writing _U_)
{
    fprintf(stderr, "profile_switch: cannot open %s: %s\n", name, g_strerror(err));
}

static void read_failure(const char *name, int err)
{
    fprintf(stderr, "profile_switch: cannot read %s: %s\n", name, g_strerror(err));
}

static void destroy_frame(gpointer fd)
{
    frame_data_destroy((frame_data *)fd);
    g_free(fd);
}

/* Frames of path that match filter, in one pass with taps; -1 on error. */
static int count_matches(const char *path, const char *filter)
{
    int err;
    gchar *err_info = NULL;
    wtap *wth = wtap_open_offline(path, WTAP_TYPE_AUTO, &err, &err_info, FALSE);
    if (!wth) {
        fprintf(stderr, "profile_switch: %s: %s\n", path, err_info ? err_info : g_strerror(err));
        return -1;
    }
    dfilter_t *dfcode;
    gchar *error = NULL;
    if (!dfilter_compile(filter, &dfcode, &error)) {
        fprintf(stderr, "profile_switch: %s: %s\n", filter, error);
        wtap_close(wth);
        return -1;
    }
    struct packet_provider_data prov = { g_ptr_array_new_with_free_func(destroy_frame) };
    static const struct packet_provider_funcs funcs = { frame_time, NULL, NULL, NULL };
    epan_t *session = epan_new(&prov, &funcs);   /* runs the init routines */

    wtap_rec rec;
    Buffer buf;
    wtap_rec_init(&rec);
    ws_buffer_init(&buf, 1514);
    gint64 offset;
    guint32 cum_bytes = 0;
    nstime_t elapsed = NSTIME_INIT_ZERO;
    const frame_data *ref = NULL, *prev = NULL;
    int matched = 0;
    while (wtap_read(wth, &rec, &buf, &err, &err_info, &offset)) {
        frame_data *fd = g_new(frame_data, 1);
        frame_data_init(fd, prov.frames->len + 1, &rec, offset, cum_bytes);
        g_ptr_array_add(prov.frames, fd);
        frame_data_set_before_dissect(fd, &elapsed, &ref, prev);
        epan_dissect_t *edt = epan_dissect_new(session, TRUE, FALSE);
        epan_dissect_prime_with_dfilter(edt, dfcode);
        tvbuff_t *tvb = tvb_new_real_data(ws_buffer_start_ptr(&buf), fd->cap_len, fd->cap_len);
        epan_dissect_run_with_taps(edt, wtap_file_type_subtype(wth), &rec, tvb, fd, NULL);
        if (dfilter_apply_edt(dfcode, edt))
            matched++;
        frame_data_set_after_dissect(fd, &cum_bytes);
        prev = fd;
        epan_dissect_free(edt);
        wtap_rec_reset(&rec);
    }
    wtap_rec_cleanup(&rec);
    ws_buffer_free(&buf);
    wtap_close(wth);
    epan_free(session);   /* runs the cleanup routines, as closing the file does */
    g_ptr_array_free(prov.frames, TRUE);
    dfilter_free(dfcode);
    return matched;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[1], "-r") != 0 || strcmp(argv[3], "-Y") != 0) {
        fprintf(stderr, "usage: profile_switch -r CAPTURE -Y FILTER PROFILE [PROFILE ...]\n");
        return 2;
    }
    static const struct report_message_routines reports = {
        print_report, print_report, open_failure, read_failure, read_failure,
        NULL, NULL, NULL, NULL, NULL
    };
    ws_log_init("profile_switch", NULL);
    init_process_policies();
    char *error = configuration_init(argv[0], NULL);
    if (error) {
        fprintf(stderr, "profile_switch: %s\n", error);
        return 2;
    }
    init_report_message("profile_switch", &reports);
    wtap_init(TRUE);
    if (!epan_init(NULL, NULL, TRUE))
        return 2;
    for (int step = 5; step < argc; step++) {
        const char *profile = argv[step];
        set_profile_name(strcmp(profile, "Default") == 0 ? NULL : profile);
        if (step > 5)
            prefs_reset();   /* only a switch resets: readConfigurationFiles(true) */
        epan_load_settings();
        prefs_apply_all();
        int matched = count_matches(argv[2], argv[4]);
        if (matched < 0)
            return 1;
        printf("%s\t%d\n", profile, matched);
        fflush(stdout);
    }
    epan_cleanup();
    return 0;
}
