#include "atlas-json-guard.h"

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

gboolean
atlas_json_is_one_object (const char *text, gsize length)
{
  gsize i = 0;
  gsize depth = 0;
  gboolean in_string = FALSE;

  while (i < length && is_json_space (text[i]))
    i++;
  if (i == length || text[i] != '{')
    return FALSE;

  /* Brackets outside strings; a backslash in a string hides the next byte
   * (so \" does not end it). The object ends where the depth is back to 0. */
  for (; i < length; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if ((c == '}' || c == ']') && depth > 0 && --depth == 0)
        break;
    }
  if (i >= length)
    return TRUE; /* unterminated: json-glib says what is wrong */
  for (i++; i < length; i++)
    if (!is_json_space (text[i]))
      return FALSE;
  return TRUE;
}
