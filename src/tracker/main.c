/* main.c — the atlas-tracker command: serve, and manage tokens.
 *
 *   atlas-tracker serve --database FILE --listen ADDR:PORT
 *                       [--tls-cert PEM --tls-key PEM] [--metrics-token T]
 *   atlas-tracker token add --database FILE --role ROLE --name NAME
 *   atlas-tracker token list --database FILE
 *   atlas-tracker token revoke --database FILE NAME
 */
#include "atlas-error.h"
#include "atlas-tracker-server.h"
#include "atlas-tracker-store.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

static char *opt_database;

static const GOptionEntry database_entries[] = {
  { "database", 'd', 0, G_OPTION_ARG_FILENAME, &opt_database, "The tracker's SQLite database",
    "FILE" },
  { NULL },
};

static int
usage (void)
{
  g_printerr ("usage: atlas-tracker serve --database FILE --listen ADDR:PORT\n"
              "                     [--tls-cert PEM --tls-key PEM] [--metrics-token TOKEN]\n"
              "       atlas-tracker token add --database FILE --role admin|uploader|downloader"
              " --name NAME\n"
              "       atlas-tracker token list --database FILE\n"
              "       atlas-tracker token revoke --database FILE NAME\n");
  return 2;
}

/* Parses @entries plus --database; FALSE (message printed) on bad options. */
static gboolean
parse_options (int *argc, char ***argv, const char *summary, const GOptionEntry *entries)
{
  g_autoptr (GOptionContext) context = g_option_context_new (summary);
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, database_entries, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("atlas-tracker: %s\n", error->message);
      return FALSE;
    }
  if (opt_database == NULL)
    {
      g_printerr ("atlas-tracker: --database is required\n");
      return FALSE;
    }
  return TRUE;
}

static AtlasTrackerStore *
open_store (void)
{
  g_autoptr (GError) error = NULL;
  AtlasTrackerStore *store = atlas_tracker_store_open (opt_database, &error);

  if (store == NULL)
    g_printerr ("atlas-tracker: %s\n", error->message);
  return store;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
stop_waiting_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static int
serve (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *metrics_token = NULL;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address and port to serve on", "ADDR:PORT" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "TLS certificate chain (PEM)", "PEM" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "TLS private key (PEM)", "PEM" },
    { "metrics-token", 0, 0, G_OPTION_ARG_STRING, &metrics_token, "Bearer token /metrics requires",
      "TOKEN" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *uri = NULL;
  AtlasTrackerStore *store;
  guint term, interrupt;
  gboolean waited = FALSE;

  if (!parse_options (&argc, &argv, "— serve the tracker", entries))
    return 2;
  if (listen == NULL || (tls_cert == NULL) != (tls_key == NULL) || argc != 1)
    return usage ();

  store = open_store ();
  if (store == NULL)
    return 1;
  server = atlas_tracker_server_new (store, metrics_token);
  if ((tls_cert != NULL && !atlas_tracker_server_set_tls_files (server, tls_cert, tls_key, &error))
      || !atlas_tracker_server_listen (server, listen, &error))
    {
      g_printerr ("atlas-tracker: %s\n", error->message);
      return 1;
    }

  /* Scripts and tests that ask for port 0 read the real port here. */
  uri = atlas_tracker_server_get_uri (server);
  printf ("listening on %s\n", uri);
  fflush (stdout);
  g_message ("listening on %s", uri);

  loop = g_main_loop_new (NULL, FALSE);
  term = g_unix_signal_add (SIGTERM, quit_cb, loop);
  interrupt = g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);
  g_source_remove (term);
  g_source_remove (interrupt);

  g_message ("stopping");
  atlas_tracker_server_shutdown (server);
  /* A moment for the peers' close frames to go out. */
  g_timeout_add (300, stop_waiting_cb, &waited);
  while (!waited)
    g_main_context_iteration (NULL, TRUE);
  return 0;
}

static int
token_add (int argc, char **argv)
{
  g_autofree char *role_name = NULL;
  g_autofree char *name = NULL;
  const GOptionEntry entries[] = {
    { "role", 'r', 0, G_OPTION_ARG_STRING, &role_name, "admin, uploader or downloader", "ROLE" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "A name for the token", "NAME" },
    { NULL },
  };
  g_autoptr (AtlasTrackerStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *hash = NULL;
  AtlasTrackerRole role;

  if (!parse_options (&argc, &argv, "— add a token", entries))
    return 2;
  if (role_name == NULL || name == NULL || argc != 1)
    return usage ();
  if (!atlas_tracker_role_from_string (role_name, &role))
    {
      g_printerr ("atlas-tracker: unknown role “%s”\n", role_name);
      return 2;
    }
  if (!atlas_tracker_token_name_is_valid (name))
    {
      g_printerr ("atlas-tracker: a token name is 1..64 of A-Z a-z 0-9 . _ -\n");
      return 2;
    }
  store = open_store ();
  if (store == NULL)
    return 1;

  token = atlas_tracker_token_generate ();
  hash = atlas_tracker_token_hash (token);
  if (!atlas_tracker_store_add_token (store, name, role, hash, &error))
    {
      g_printerr ("atlas-tracker: %s\n", error->message);
      return 1;
    }
  /* The only time the token is ever shown: the database keeps its hash. */
  printf ("%s\n", token);
  return 0;
}

static int
token_list (int argc, char **argv)
{
  g_autoptr (AtlasTrackerStore) store = NULL;
  g_autoptr (GPtrArray) tokens = NULL;
  g_autoptr (GError) error = NULL;

  if (!parse_options (&argc, &argv, "— list tokens", NULL))
    return 2;
  if (argc != 1)
    return usage ();
  store = open_store ();
  if (store == NULL)
    return 1;
  tokens = atlas_tracker_store_list_tokens (store, &error);
  if (tokens == NULL)
    {
      g_printerr ("atlas-tracker: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < tokens->len; i++)
    {
      const AtlasTrackerToken *token = g_ptr_array_index (tokens, i);
      g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc (token->created);
      g_autofree char *when = g_date_time_format_iso8601 (created);

      printf ("%s\t%s\t%s%s\n", token->name, atlas_tracker_role_to_string (token->role), when,
              token->revoked ? "\trevoked" : "");
    }
  return 0;
}

static int
token_revoke (int argc, char **argv)
{
  g_autoptr (AtlasTrackerStore) store = NULL;
  g_autoptr (GError) error = NULL;

  if (!parse_options (&argc, &argv, "NAME — revoke a token", NULL))
    return 2;
  if (argc != 2)
    return usage ();
  store = open_store ();
  if (store == NULL)
    return 1;
  if (!atlas_tracker_store_revoke_token (store, argv[1], &error))
    {
      g_printerr ("atlas-tracker: %s\n", error->message);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");

  if (argc >= 2 && g_str_equal (argv[1], "serve"))
    return serve (argc - 1, argv + 1);
  if (argc >= 3 && g_str_equal (argv[1], "token"))
    {
      if (g_str_equal (argv[2], "add"))
        return token_add (argc - 2, argv + 2);
      if (g_str_equal (argv[2], "list"))
        return token_list (argc - 2, argv + 2);
      if (g_str_equal (argv[2], "revoke"))
        return token_revoke (argc - 2, argv + 2);
    }
  return usage ();
}
