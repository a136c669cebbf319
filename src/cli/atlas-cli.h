/* atlas-cli.h — what the files of the `atlas` tool share.
 *
 * Each subcommand is a function taking its own argv (argv[0] is the command
 * name) and returning an AtlasCliExit, so tests can call it in-process.
 */
#pragma once

#include <atlas.h>

#include "atlas-swarm.h"

#include "atlas-cli-exit-codes.h"

G_BEGIN_DECLS

/* Subcommands. */
int atlas_cli_cmd_get (int argc, char **argv);
int atlas_cli_cmd_verify (int argc, char **argv);
int atlas_cli_cmd_add (int argc, char **argv);
int atlas_cli_cmd_list (int argc, char **argv);
int atlas_cli_cmd_pause (int argc, char **argv);
int atlas_cli_cmd_resume (int argc, char **argv);
int atlas_cli_cmd_remove (int argc, char **argv);
int atlas_cli_cmd_run (int argc, char **argv);
int atlas_cli_cmd_publish (int argc, char **argv);
int atlas_cli_cmd_seed (int argc, char **argv);

/* The option context of a subcommand, for `atlas help CMD`. NULL if unknown. */
GOptionContext *atlas_cli_option_context_for (const char *command);

GOptionContext *atlas_cli_get_option_context (gboolean for_add);
GOptionContext *atlas_cli_verify_option_context (void);
GOptionContext *atlas_cli_queue_option_context (const char *command);
GOptionContext *atlas_cli_publish_option_context (void);
GOptionContext *atlas_cli_seed_option_context (void);

/* ---- atlas-cli-common.c ---- */

/* Parses "500K", "20M", "1.5G", "1048576" (binary multiples; an optional
 * trailing "i", "B" or "/s" is accepted). "0" means unlimited. */
gboolean atlas_cli_parse_rate (const char *text, guint64 *bytes_per_second, GError **error);
/* Parses a positive count option such as -x 4. */
gboolean atlas_cli_parse_count (const char *option, int value, guint *out, GError **error);
/* A download id as printed by `atlas list`. */
gboolean atlas_cli_parse_id (const char *text, guint64 *id, GError **error);

/* "1.5 MiB" */
char *atlas_cli_format_size (guint64 bytes);
/* "2.3 MiB/s" */
char *atlas_cli_format_speed (guint64 bytes_per_second);
/* "1h02m", "3m05s", "12s"; "--:--" when unknown (negative). */
char *atlas_cli_format_eta (gint64 seconds);
/* Appends @text as a JSON string literal (with quotes), or null if NULL. */
void atlas_cli_json_append_string (GString *out, const char *text);

/* Messages: "atlas: " + text on stderr. */
void atlas_cli_error (const char *format, ...) G_GNUC_PRINTF (1, 2);
void atlas_cli_warning (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* Prints "atlas: CONTEXT: MESSAGE. HINT" for @error and returns its exit code. */
int atlas_cli_report_error (const GError *error, const char *context_format, ...)
    G_GNUC_PRINTF (2, 3);
/* Prints a usage error and the hint to run `atlas help COMMAND`; returns ATLAS_CLI_EXIT_USAGE. */
int atlas_cli_usage_error (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* What the user can do about @error, or NULL. */
const char *atlas_cli_error_hint (const GError *error);

/* The exit status for a failed download. */
AtlasCliExit atlas_cli_exit_code_for_download (AtlasDownload *download);

/* SIGINT/SIGTERM: the first signal cancels atlas_cli_interrupt_cancellable()
 * and calls the handler set last; a second one exits at once with 130 (the
 * engine's crash-safety makes that safe, it only loses pieces in flight). */
void atlas_cli_interrupt_install (void);
gboolean atlas_cli_interrupted (void);
GCancellable *atlas_cli_interrupt_cancellable (void);
void atlas_cli_interrupt_set_handler (GCallback handler, gpointer user_data);

/* Applies the transfer options shared by get, add and run; 0 means "not
 * given". Errors are G_OPTION_ERROR (usage). */
gboolean atlas_cli_apply_settings (AtlasSettings *settings, int max_per_server,
                                   int max_per_download, int max_concurrent, const char *limit,
                                   const char *ca_file, GError **error);

/* The queue file: --queue-file, else $ATLAS_QUEUE_FILE, else the engine's default. */
char *atlas_cli_queue_path (const char *option_value);

/* Blocking wrappers that iterate the thread-default main context until the
 * engine's async call completes. */
AtlasSession *atlas_cli_session_open (const char *store_path, AtlasSettings *settings,
                                      GError **error);
gboolean atlas_cli_session_close (AtlasSession *session, GError **error);
/* Opens the persistent queue, reporting errors (with the busy hint) itself.
 * On failure returns NULL and sets *exit_code. */
AtlasSession *atlas_cli_open_queue (const char *store_path, AtlasSettings *settings,
                                    int *exit_code);

/* Reads and parses a Metalink, a SUMS file; errors name the file and say what to do. */
AtlasMetalink *atlas_cli_load_metalink (const char *path, GError **error);
GPtrArray *atlas_cli_load_sums (const char *path, GError **error);

/* TRUE if @arg names a local Metalink file rather than a URL. */
gboolean atlas_cli_is_metalink_path (const char *arg);

/* A GAsyncReadyCallback that keeps the result in *(GAsyncResult **) data, for
 * waiting on an async call with g_main_context_iteration. */
void atlas_cli_store_result_cb (GObject *source, GAsyncResult *result, gpointer data);

/* ---- atlas-cli-progress.c ---- */

typedef enum
{
  ATLAS_CLI_PROGRESS_QUIET, /* errors only */
  ATLAS_CLI_PROGRESS_PLAIN, /* final lines only (not a terminal) */
  ATLAS_CLI_PROGRESS_TTY,   /* redrawn bars on stderr */
  ATLAS_CLI_PROGRESS_JSON,  /* one JSON object per line on stdout */
} AtlasCliProgressMode;

typedef struct _AtlasCliProgress AtlasCliProgress;

AtlasCliProgressMode atlas_cli_progress_choose_mode (gboolean json, gboolean quiet);
AtlasCliProgress *atlas_cli_progress_new (AtlasCliProgressMode mode);
void atlas_cli_progress_free (AtlasCliProgress *self);
AtlasCliProgressMode atlas_cli_progress_get_mode (AtlasCliProgress *self);

/* Shows @download until it completes or fails, then prints its final line. */
void atlas_cli_progress_track (AtlasCliProgress *self, AtlasDownload *download);
/* Stops showing every download without printing final lines (interrupts). */
void atlas_cli_progress_untrack_all (AtlasCliProgress *self);
/* A human line printed above the bars (to stdout, or stderr if @to_stderr);
 * dropped in JSON and quiet modes unless @to_stderr. */
void atlas_cli_progress_print (AtlasCliProgress *self, gboolean to_stderr, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* Emits one JSON object (already serialised, no newline) in JSON mode. */
void atlas_cli_progress_json (AtlasCliProgress *self, const char *object);
/* A single byte-progress bar (verify); in JSON mode a {"event":"progress"} line. */
void atlas_cli_progress_bytes (AtlasCliProgress *self, const char *label, guint64 done,
                               guint64 total);
/* Erases whatever bars are on screen. */
void atlas_cli_progress_clear (AtlasCliProgress *self);

/* With a swarm (a reference is kept; NULL drops it), progress lines and JSON
 * progress events also count connected peers. */
void atlas_cli_progress_set_swarm (AtlasCliProgress *self, AtlasSwarm *swarm);

/* Appends the JSON members (no braces) describing @download: id, name, path,
 * state, size, completed, speed, eta, sources, error, from_peers,
 * from_mirrors, to_peers. */
void atlas_cli_json_append_download (GString *out, AtlasDownload *download);
/* The state names of the CLI's output, a contract with scripts. */

/* ---- atlas-cli-get.c ---- */

/* Runs the started @session until every download in @downloads is complete
 * or failed (or, with @downloads NULL, until the queue has nothing queued,
 * active or verifying). Returns the exit status: 0, the first failure's code,
 * or 130 when interrupted (the session is then stopped). */
int atlas_cli_run_until_done (AtlasSession *session, GPtrArray *downloads,
                              AtlasCliProgress *progress);

/* ---- atlas-cli-entry.c: the tracker's index ---- */

/* The tracker: @option, else $ATLAS_TRACKER_URL; NULL if neither is set. */
const char *atlas_cli_tracker_url (const char *option);
/* The token: @option, else $ATLAS_TRACKER_TOKEN; NULL if neither is set. */
const char *atlas_cli_tracker_token (const char *option);
/* 1..128 of [A-Za-z0-9._+-], the tracker's rule for entry names. */
gboolean atlas_cli_entry_name_is_valid (const char *name);
/* Splits "NAME[@VERSION]"; @version is NULL when none is given. */
gboolean atlas_cli_entry_parse (const char *spec, char **name, char **version, GError **error);
/* TRUE if `atlas get` should look @arg up in the index: it is not a URL, not
 * a Metalink path and not an existing file. */
gboolean atlas_cli_is_entry_argument (const char *arg);
/* Blocking: finds "NAME[@VERSION]" on the tracker and returns its parsed
 * Metalink. ATLAS_ERROR_NOT_FOUND says "no entry named …". */
AtlasMetalink *atlas_cli_entry_fetch_metalink (const char *tracker_url, const char *token,
                                               const char *ca_file, const char *spec,
                                               GError **error);

/* ---- atlas-cli-peers.c: the swarm for get and seed ---- */

/* The "peers" option group; the strings belong to the struct. */
typedef struct
{
  gboolean no_peers;
  gboolean relay_only;
  char *stun;
  char *turn;
  char *turn_user;
  char *turn_password;
  gboolean upnp;
  char **local_addresses;
  char *upload_limit;
  char *peer_upload_limit;
  int max_peers;
  char *identity;
  gboolean seed_after;
} AtlasCliPeerOptions;

void atlas_cli_peer_options_clear (AtlasCliPeerOptions *options);
/* Options pointing into @options; --seed-after only if @with_seed_after. */
GOptionGroup *atlas_cli_peer_option_group (AtlasCliPeerOptions *options, gboolean with_seed_after);

/* TRUE if peers can help with @request: SHA-256 piece hashes and a whole-file
 * SHA-256 (the tracker entry's name). */
gboolean atlas_cli_request_is_shareable (const AtlasRequest *request);
/* TRUE if a swarm should be set up: a tracker, no --no-peers, and at least one
 * shareable request in @requests. */
gboolean atlas_cli_peers_wanted (const AtlasCliPeerOptions *options, const char *tracker_url,
                                 GPtrArray *requests);

typedef struct _AtlasCliPeers AtlasCliPeers;

/* Checks the options, loads or creates the identity and builds the swarm for
 * @session (not started). Usage mistakes are G_OPTION_ERROR. When
 * @refusal_ends_command, a refused token is left to the caller (seed);
 * otherwise it is a warning and the command goes on with mirrors only. */
AtlasCliPeers *atlas_cli_peers_new (const AtlasCliPeerOptions *options, const char *tracker_url,
                                    const char *token, const char *ca_file, AtlasSession *session,
                                    AtlasCliProgress *progress, gboolean refusal_ends_command,
                                    GError **error);
/* Start before atlas_session_start() and before adding downloads. Stop leaves
 * every swarm and closes every peer link. */
void atlas_cli_peers_start (AtlasCliPeers *self);
void atlas_cli_peers_stop (AtlasCliPeers *self);
void atlas_cli_peers_free (AtlasCliPeers *self);
AtlasSwarm *atlas_cli_peers_get_swarm (AtlasCliPeers *self);
/* The tracker's refusal of the token (ATLAS_ERROR_PERMISSION), or NULL. */
const GError *atlas_cli_peers_get_refusal (AtlasCliPeers *self);
/* Prints "seeding NAME (N pieces) as sha256:…" ({"event":"seeding"} in JSON). */
void atlas_cli_peers_announce_seeding (AtlasCliPeers *self, AtlasDownload *download);
/* Serves the complete @downloads to peers, printing totals now and then,
 * until SIGINT/SIGTERM (then 0) or the tracker refuses the token (then its
 * exit status); stops the swarm either way. */
int atlas_cli_peers_serve (AtlasCliPeers *self, GPtrArray *downloads);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasCliProgress, atlas_cli_progress_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasCliPeers, atlas_cli_peers_free)

G_END_DECLS
