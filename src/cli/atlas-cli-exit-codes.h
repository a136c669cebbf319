/* atlas-cli-exit-codes.h — the exit statuses of `atlas`, a contract with scripts.
 *
 * docs/cli.md lists the same table; change both together.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ATLAS_CLI_EXIT_OK = 0,            /* every requested file is complete and verified */
  ATLAS_CLI_EXIT_FAILED = 1,        /* a download failed: network, mirrors, no sources */
  ATLAS_CLI_EXIT_USAGE = 2,         /* bad command line */
  ATLAS_CLI_EXIT_VERIFY = 3,        /* verification failed or a hash did not match */
  ATLAS_CLI_EXIT_IO = 4,            /* local I/O: disk full, permissions, queue file */
  ATLAS_CLI_EXIT_BUSY = 5,          /* another process owns the queue */
  ATLAS_CLI_EXIT_INVALID_INPUT = 6, /* bad Metalink, checksum, SUMS file or URL */
  ATLAS_CLI_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM; progress was kept */
} AtlasCliExit;

/* The one place where errors become exit statuses. */
AtlasCliExit atlas_cli_exit_code_for_error (const GError *error);

G_END_DECLS
