/* atlas-cli-verify.c — `atlas verify`: check a file on disk against a
 * checksum, a Metalink or a SUMS file, and optionally repair it by fetching
 * only its bad pieces again. */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"

typedef struct
{
  char **checksums;
  char *metalink;
  char *sums;
  gboolean repair;
  gboolean json;
  gboolean quiet;
  char *ca_file;
  char *limit;
  char **args;
} VerifyOptions;

static void
verify_options_clear (VerifyOptions *o)
{
  g_clear_pointer (&o->checksums, g_strfreev);
  g_clear_pointer (&o->metalink, g_free);
  g_clear_pointer (&o->sums, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->limit, g_free);
  g_clear_pointer (&o->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VerifyOptions, verify_options_clear)

static GOptionContext *
verify_context_new (VerifyOptions *o)
{
  const GOptionEntry entries[] = {
    { "checksum", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->checksums,
      "Expected hash, e.g. sha256:HEX (repeatable)", "SUM" },
    { "metalink", 0, 0, G_OPTION_ARG_FILENAME, &o->metalink,
      "Metalink describing the file (its hashes and piece hashes)", "M" },
    { "sums", 0, 0, G_OPTION_ARG_FILENAME, &o->sums,
      "SHA256SUMS-style file with an entry for the file", "S" },
    { "repair", 0, 0, G_OPTION_ARG_NONE, &o->repair,
      "Fetch bad pieces again from the Metalink's mirrors", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print one JSON object per line on stdout", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Print only the verdict and errors", NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file,
      "With --repair: also trust the certificates in FILE", "FILE" },
    { "limit", 0, 0, G_OPTION_ARG_STRING, &o->limit, "With --repair: speed limit, e.g. 500K, 20M",
      "RATE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->args, NULL, NULL },
    { NULL }
  };
  GOptionContext *context =
      g_option_context_new ("FILE (-c SUM | --metalink M | --sums S) — check a file");

  g_option_context_set_summary (
      context, "Checks FILE against an expected hash, a Metalink (whole-file and piece\n"
               "hashes) or a SHA256SUMS-style file, and names the bad byte ranges.\n"
               "With --repair and a Metalink that has piece hashes and URLs, fetches\n"
               "only the bad pieces again.");
  g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

GOptionContext *
atlas_cli_verify_option_context (void)
{
  static VerifyOptions help_options;

  return verify_context_new (&help_options);
}

static void
append_ranges (GString *out, GArray *ranges)
{
  for (guint i = 0; ranges != NULL && i < ranges->len; i++)
    {
      const AtlasByteRange *range = &g_array_index (ranges, AtlasByteRange, i);

      g_string_append_printf (out, "%s%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, i > 0 ? ", " : "",
                              range->offset, range->offset + range->length - 1);
    }
}

static const AtlasChecksum *
expected_of_type (GArray *checksums, AtlasHashType type)
{
  for (guint i = 0; checksums != NULL && i < checksums->len; i++)
    {
      const AtlasChecksum *checksum = &g_array_index (checksums, AtlasChecksum, i);

      if (checksum->type == type)
        return checksum;
    }
  return atlas_checksum_pick_strongest (checksums);
}

static void
print_verdict_json (AtlasCliProgress *progress, const char *path,
                    const AtlasVerifyExpectation *expect, const AtlasVerifyResult *result)
{
  g_autoptr (GString) line = g_string_new ("{\"event\":\"verdict\",\"path\":");

  atlas_cli_json_append_string (line, path);
  g_string_append_printf (line,
                          ",\"ok\":%s,\"size\":%" G_GUINT64_FORMAT
                          ",\"expected_size\":%" G_GINT64_FORMAT ",\"size_matched\":%s"
                          ",\"whole_file_checked\":%s,\"whole_file_matched\":%s",
                          result->ok ? "true" : "false", result->size, expect->size,
                          result->size_matched ? "true" : "false",
                          result->whole_file_checked ? "true" : "false",
                          result->whole_file_matched ? "true" : "false");
  if (result->whole_file_checked)
    {
      g_autofree char *got = atlas_checksum_to_string (&result->whole_file);
      const AtlasChecksum *want = expected_of_type (expect->checksums, result->whole_file.type);
      g_autofree char *want_text = want != NULL ? atlas_checksum_to_string (want) : NULL;

      g_string_append (line, ",\"expected\":");
      atlas_cli_json_append_string (line, want_text);
      g_string_append (line, ",\"actual\":");
      atlas_cli_json_append_string (line, got);
    }
  g_string_append_printf (line, ",\"n_pieces\":%u,\"bad_pieces\":[", result->n_pieces);
  for (guint i = 0; result->bad_pieces != NULL && i < result->bad_pieces->len; i++)
    g_string_append_printf (line, "%s%u", i > 0 ? "," : "",
                            g_array_index (result->bad_pieces, guint, i));
  g_string_append (line, "],\"bad_ranges\":[");
  for (guint i = 0; result->bad_ranges != NULL && i < result->bad_ranges->len; i++)
    {
      const AtlasByteRange *range = &g_array_index (result->bad_ranges, AtlasByteRange, i);

      g_string_append_printf (
          line, "%s{\"offset\":%" G_GUINT64_FORMAT ",\"length\":%" G_GUINT64_FORMAT "}",
          i > 0 ? "," : "", range->offset, range->length);
    }
  g_string_append_printf (line, "],\"seconds\":%.3f}", result->seconds);
  atlas_cli_progress_json (progress, line->str);
}

static void
print_verdict (const char *path, const AtlasVerifyExpectation *expect,
               const AtlasVerifyResult *result)
{
  if (result->ok)
    {
      if (result->whole_file_checked)
        {
          g_autofree char *hex = atlas_checksum_to_hex (&result->whole_file);

          printf ("OK: %s matches %s %s", path, atlas_hash_type_to_name (result->whole_file.type),
                  hex);
          if (result->n_pieces > 0)
            printf (" (and all %u piece hashes)", result->n_pieces);
          printf ("\n");
        }
      else if (result->n_pieces > 0)
        printf ("OK: %s matches all %u %s piece hashes\n", path, result->n_pieces,
                atlas_hash_type_to_name (expect->piece_type));
      else
        printf ("OK: %s has the expected size (%" G_GUINT64_FORMAT " bytes)\n", path, result->size);
      return;
    }

  if (!result->size_matched && expect->size >= 0)
    printf ("BAD: size mismatch: expected %" G_GINT64_FORMAT " bytes, %s has %" G_GUINT64_FORMAT
            "\n",
            expect->size, path, result->size);

  if (result->bad_pieces != NULL && result->bad_pieces->len > 0)
    {
      g_autoptr (GString) ranges = g_string_new (NULL);

      append_ranges (ranges, result->bad_ranges);
      printf ("BAD: %u of %u pieces bad: bytes %s\n", result->bad_pieces->len, result->n_pieces,
              ranges->str);
    }
  else if (result->whole_file_checked && !result->whole_file_matched)
    {
      g_autofree char *got = atlas_checksum_to_hex (&result->whole_file);
      const AtlasChecksum *want = expected_of_type (expect->checksums, result->whole_file.type);
      g_autofree char *want_hex = want != NULL ? atlas_checksum_to_hex (want) : g_strdup ("?");

      printf ("BAD: whole-file %s mismatch: expected %s got %s\n",
              atlas_hash_type_to_name (result->whole_file.type), want_hex, got);
    }
}

static void
verify_progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  AtlasCliProgress *progress = user_data;

  atlas_cli_progress_bytes (progress, "Verifying", done, total);
}

static AtlasVerifyResult *
run_verify (const char *path, const AtlasVerifyExpectation *expect, AtlasCliProgress *progress,
            GError **error)
{
  g_autoptr (GAsyncResult) async_result = NULL;
  AtlasVerifyResult *result;

  atlas_verify_file_async (path, expect, atlas_cli_interrupt_cancellable (), verify_progress_cb,
                           progress, atlas_cli_store_result_cb, &async_result);
  while (async_result == NULL)
    g_main_context_iteration (NULL, TRUE);

  result = atlas_verify_file_finish (async_result, error);
  atlas_cli_progress_clear (progress);
  return result;
}

/* Fetches the bad pieces of @path again on a transient session. */
static int
repair (const char *path, const AtlasMetalink *metalink, guint file_index,
        const AtlasVerifyResult *verdict, VerifyOptions *o, AtlasCliProgress *progress)
{
  const AtlasMetalinkFile *file = g_ptr_array_index (metalink->files, file_index);
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (AtlasRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  AtlasDownload *download;
  int exit_code = ATLAS_CLI_EXIT_OK;

  if (file->piece_type == ATLAS_HASH_NONE || file->n_pieces == 0)
    {
      atlas_cli_error ("cannot repair '%s': the Metalink has no piece hashes, so the bad parts "
                       "cannot be found. Download the file again with 'atlas get'.",
                       path);
      return ATLAS_CLI_EXIT_INVALID_INPUT;
    }
  if (file->urls == NULL || file->urls->len == 0)
    {
      atlas_cli_error ("cannot repair '%s': the Metalink lists no URLs to fetch from. "
                       "Use a Metalink with mirrors.",
                       path);
      return ATLAS_CLI_EXIT_INVALID_INPUT;
    }

  if (!atlas_cli_apply_settings (settings, 0, 0, 0, o->limit, o->ca_file, &error))
    return atlas_cli_usage_error ("verify", "%s", error->message);

  requests = atlas_request_list_from_metalink (metalink, dir);
  request = atlas_request_copy (g_ptr_array_index (requests, file_index));
  atlas_request_set_directory (request, dir);
  atlas_request_set_filename (request, base);

  session = atlas_cli_open_queue (NULL, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  atlas_session_start (session);
  {
    g_autoptr (GAsyncResult) result = NULL;

    /* The file is verified on worker threads; the progress bar keeps drawing. */
    atlas_session_repair_async (session, path, request, atlas_cli_interrupt_cancellable (),
                                atlas_cli_store_result_cb, &result);
    while (result == NULL)
      g_main_context_iteration (NULL, TRUE);
    download = atlas_session_repair_finish (session, result, &error);
  }
  if (download == NULL)
    exit_code = atlas_cli_report_error (error, "cannot repair '%s'", path);
  else
    {
      g_ptr_array_add (downloads, g_object_ref (download));
      exit_code = atlas_cli_run_until_done (session, downloads, progress);
    }

  {
    g_autoptr (GError) close_error = NULL;

    if (!atlas_cli_session_close (session, &close_error) && exit_code == ATLAS_CLI_EXIT_OK)
      exit_code = atlas_cli_report_error (close_error, "cannot finish the repair");
  }

  if (exit_code == ATLAS_CLI_EXIT_OK && download != NULL)
    {
      g_autoptr (GString) ranges = g_string_new (NULL);
      guint n_bad = verdict->bad_pieces != NULL ? verdict->bad_pieces->len : 0;

      append_ranges (ranges, verdict->bad_ranges);
      if (o->json)
        {
          g_autoptr (GString) line = g_string_new ("{\"event\":\"repaired\",\"path\":");

          atlas_cli_json_append_string (line, path);
          g_string_append_printf (line, ",\"pieces\":%u}", n_bad);
          atlas_cli_progress_json (progress, line->str);
        }
      else if (n_bad > 0)
        printf ("REPAIRED: %s: re-fetched %u of %u pieces: bytes %s\n", path, n_bad,
                verdict->n_pieces, ranges->str);
      else
        printf ("REPAIRED: %s now matches the Metalink\n", path);
    }
  else if (exit_code == ATLAS_CLI_EXIT_INTERRUPTED)
    atlas_cli_error ("repair interrupted; run the same command again to continue.");

  return exit_code;
}

int
atlas_cli_cmd_verify (int argc, char **argv)
{
  g_auto (VerifyOptions) o = { 0 };
  g_autoptr (GOptionContext) context = verify_context_new (&o);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = NULL;
  g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  g_autoptr (AtlasVerifyResult) result = NULL;
  g_autoptr (AtlasCliProgress) progress = NULL;
  AtlasVerifyExpectation expect = { 0 };
  const char *path;
  guint file_index = 0;
  guint n_sources;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error ("verify", "%s", error->message);
  if (o.args == NULL || o.args[0] == NULL)
    return atlas_cli_usage_error ("verify", "'atlas verify' needs the FILE to check");
  if (o.args[1] != NULL)
    return atlas_cli_usage_error ("verify", "'atlas verify' checks one FILE at a time");
  n_sources = (o.checksums != NULL) + (o.metalink != NULL) + (o.sums != NULL);
  if (n_sources != 1)
    return atlas_cli_usage_error ("verify", "give exactly one of -c SUM, --metalink M or --sums S");
  if (o.repair && o.metalink == NULL)
    return atlas_cli_usage_error ("verify",
                                  "--repair needs --metalink M (with piece hashes and URLs)");
  if (o.json && o.quiet)
    return atlas_cli_usage_error ("verify", "--json and --quiet cannot be combined");

  path = o.args[0];
  expect.size = -1;
  expect.checksums = checksums;

  if (o.checksums != NULL)
    {
      for (guint i = 0; o.checksums[i] != NULL; i++)
        {
          AtlasChecksum checksum;

          if (!atlas_checksum_parse (o.checksums[i], &checksum, &error))
            {
              atlas_cli_error ("cannot use checksum '%s': %s. Write it as sha256:HEX or bare hex.",
                               o.checksums[i], error->message);
              return ATLAS_CLI_EXIT_INVALID_INPUT;
            }
          g_array_append_val (checksums, checksum);
        }
    }
  else if (o.sums != NULL)
    {
      g_autoptr (GPtrArray) sums = atlas_cli_load_sums (o.sums, &error);
      const AtlasSumsEntry *entry;

      if (sums == NULL)
        {
          atlas_cli_error ("%s. Check the file or download it again.", error->message);
          return atlas_cli_exit_code_for_error (error);
        }
      entry = atlas_sums_lookup (sums, path);
      if (entry == NULL)
        {
          atlas_cli_error ("'%s' has no entry for '%s'. Use the checksum file that belongs to it.",
                           o.sums, path);
          return ATLAS_CLI_EXIT_INVALID_INPUT;
        }
      g_array_append_val (checksums, entry->checksum);
    }
  else
    {
      const AtlasMetalinkFile *file;

      metalink = atlas_cli_load_metalink (o.metalink, &error);
      if (metalink == NULL)
        {
          atlas_cli_error ("%s. Check the file or download it again.", error->message);
          return atlas_cli_exit_code_for_error (error);
        }
      file = atlas_metalink_find_file (metalink, path);
      if (file == NULL)
        {
          atlas_cli_error ("'%s' lists %u files and none is named like '%s'. "
                           "Rename the file to its name in the Metalink.",
                           o.metalink, metalink->files->len, path);
          return ATLAS_CLI_EXIT_INVALID_INPUT;
        }
      /* repair() takes the index: the Metalink's requests come in the same order. */
      g_ptr_array_find (metalink->files, file, &file_index);
      if (file->hashes != NULL)
        g_array_append_vals (checksums, file->hashes->data, file->hashes->len);
      expect.piece_type = file->piece_type;
      expect.piece_length = file->piece_length;
      expect.piece_digests = file->piece_digests;
      expect.size = file->size;
      if (checksums->len == 0 && file->piece_type == ATLAS_HASH_NONE)
        {
          atlas_cli_error ("'%s' has no hashes for '%s', so there is nothing to check against.",
                           o.metalink, file->name);
          return ATLAS_CLI_EXIT_INVALID_INPUT;
        }
    }

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      atlas_cli_error ("cannot verify '%s': it does not exist or is not a regular file. "
                       "Check the path.",
                       path);
      return ATLAS_CLI_EXIT_IO;
    }

  progress = atlas_cli_progress_new (atlas_cli_progress_choose_mode (o.json, o.quiet));
  atlas_cli_interrupt_install ();

  result = run_verify (path, &expect, progress, &error);
  if (result == NULL)
    {
      if (atlas_cli_interrupted ())
        return ATLAS_CLI_EXIT_INTERRUPTED;
      return atlas_cli_report_error (error, "cannot verify '%s'", path);
    }

  if (o.json)
    print_verdict_json (progress, path, &expect, result);
  else
    print_verdict (path, &expect, result);
  fflush (stdout);

  if (result->ok)
    return ATLAS_CLI_EXIT_OK;
  if (!o.repair)
    return ATLAS_CLI_EXIT_VERIFY;

  return repair (path, metalink, file_index, result, &o, progress);
}
