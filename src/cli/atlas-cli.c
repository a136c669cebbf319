/* atlas-cli.c — main() of `atlas`: global options and dispatch to the
 * subcommands, each of which parses its own options. */

#include "atlas-config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"

/* `atlas donate` (atlas-cli-donate.c). */
int atlas_cli_cmd_donate (int argc, char **argv);
GOptionContext *atlas_cli_donate_option_context (void);

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "get", atlas_cli_cmd_get, "Download a file, or every file of a Metalink" },
  { "verify", atlas_cli_cmd_verify, "Check a file against a checksum, Metalink or SUMS file" },
  { "add", atlas_cli_cmd_add, "Add a download to the queue without starting it" },
  { "list", atlas_cli_cmd_list, "Show the queue" },
  { "pause", atlas_cli_cmd_pause, "Pause queued downloads" },
  { "resume", atlas_cli_cmd_resume, "Resume paused or retry failed downloads" },
  { "remove", atlas_cli_cmd_remove, "Remove downloads from the queue" },
  { "run", atlas_cli_cmd_run, "Transfer the queue until nothing is left" },
  { "publish", atlas_cli_cmd_publish, "Hash a file, write its Metalink, add it to a tracker" },
  { "seed", atlas_cli_cmd_seed, "Serve files you have to peers until interrupted" },
  { "donate", atlas_cli_cmd_donate, "Give capped storage and upload to files you support" },
  { "help", NULL, "Show help for a command" },
};

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

GOptionContext *
atlas_cli_option_context_for (const char *command)
{
  if (g_str_equal (command, "get"))
    return atlas_cli_get_option_context (FALSE);
  if (g_str_equal (command, "add"))
    return atlas_cli_get_option_context (TRUE);
  if (g_str_equal (command, "verify"))
    return atlas_cli_verify_option_context ();
  if (g_str_equal (command, "publish"))
    return atlas_cli_publish_option_context ();
  if (g_str_equal (command, "seed"))
    return atlas_cli_seed_option_context ();
  if (g_str_equal (command, "donate"))
    return atlas_cli_donate_option_context ();
  return atlas_cli_queue_option_context (command);
}

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: atlas COMMAND [OPTIONS…]\n"
                "\n"
                "Download Atlas: fetches files from several mirrors at once and checks every\n"
                "piece against its hash.\n"
                "\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n"
                "Options:\n"
                "  -h, --help     Show this help\n"
                "  --version      Show the version\n"
                "\n"
                "Run 'atlas help COMMAND' for the options of a command.\n"
                "Exit status: 0 ok, 1 download failed, 2 usage, 3 verification failed,\n"
                "4 local I/O error, 5 queue busy, 6 invalid input, 130 interrupted.\n");
}

static int
print_command_help (const char *name)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *help = NULL;
  g_autofree char *prgname = g_strdup_printf ("atlas %s", name);

  if (g_str_equal (name, "help"))
    {
      print_usage (stdout);
      return ATLAS_CLI_EXIT_OK;
    }

  context = atlas_cli_option_context_for (name);
  if (context == NULL)
    return atlas_cli_usage_error (NULL, "there is no command '%s'", name);

  /* GOptionContext prints the program name; make it read "atlas get".
   * This is the only place the name is set on this path. */
  g_set_prgname (prgname);
  /* Every group, so the peer options of get and seed are listed too. */
  help = g_option_context_get_help (context, FALSE, NULL);
  fputs (help, stdout);
  return ATLAS_CLI_EXIT_OK;
}

int
main (int argc, char **argv)
{
  const Command *command;
  g_autofree char *prgname = NULL;

  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_usage (stderr);
      return ATLAS_CLI_EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      print_usage (stdout);
      return ATLAS_CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("atlas %s\n", PACKAGE_VERSION);
      return ATLAS_CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "help"))
    {
      if (argc > 3)
        return atlas_cli_usage_error (NULL, "'atlas help' takes one command name");
      if (argc == 2)
        {
          print_usage (stdout);
          return ATLAS_CLI_EXIT_OK;
        }
      return print_command_help (argv[2]);
    }
  /* The program name is set once, to "atlas CMD" on the paths below, so
   * GOptionContext's help reads "Usage: atlas get …". */
  if (argv[1][0] == '-')
    return atlas_cli_usage_error (NULL, "unknown option '%s'; options go after the command",
                                  argv[1]);

  command = find_command (argv[1]);
  if (command == NULL || command->run == NULL)
    return atlas_cli_usage_error (NULL, "there is no command '%s'", argv[1]);

  prgname = g_strdup_printf ("atlas %s", command->name);
  g_set_prgname (prgname);

  return command->run (argc - 1, argv + 1);
}
