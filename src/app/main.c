/* main.c — download-atlas: everything else is in the atlas-app library. */
#include <glib/gi18n.h>
#include <locale.h>

#include "atlas-application.h"
#include "atlas-config.h"

int
main (int argc, char **argv)
{
  g_autoptr (AtlasApplication) application = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  application = atlas_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
