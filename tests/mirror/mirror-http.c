/* mirror-http.c: request-head parsing, byte ranges and HTTP dates.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Accepts plain decimal numbers; with @allow_suffix also K and M (binary
 * multiples), which is how rates and offsets are written in mode strings. */
gboolean
mirror_parse_size (const char *text, gboolean allow_suffix, guint64 *value)
{
  guint64 n = 0;
  guint64 multiplier = 1;
  const char *p = text;

  if (text == NULL || !g_ascii_isdigit (*p))
    return FALSE;

  for (; g_ascii_isdigit (*p); p++)
    {
      if (n > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      n = n * 10 + (guint64) (*p - '0');
    }

  if (allow_suffix && (*p == 'K' || *p == 'k'))
    {
      multiplier = 1024;
      p++;
    }
  else if (allow_suffix && (*p == 'M' || *p == 'm'))
    {
      multiplier = 1024 * 1024;
      p++;
    }

  if (*p != '\0' || n > G_MAXUINT64 / multiplier)
    return FALSE;

  *value = n * multiplier;
  return TRUE;
}

static char *
header_value (const char *line, const char *name)
{
  gsize name_len = strlen (name);

  if (g_ascii_strncasecmp (line, name, name_len) != 0 || line[name_len] != ':')
    return NULL;
  return g_strstrip (g_strdup (line + name_len + 1));
}

static gboolean
token_list_has (const char *list, const char *token)
{
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    if (g_ascii_strcasecmp (g_strstrip (parts[i]), token) == 0)
      return TRUE;
  return FALSE;
}

/* Parses the request line and the few headers the mirror acts on.  @head
 * holds everything up to, not including, the blank line. */
gboolean
mirror_request_parse (const char *head, gsize len, MirrorRequest *request)
{
  g_autofree char *copy = g_strndup (head, len);
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) words = NULL;
  gboolean keep_alive = FALSE;
  char *query;

  memset (request, 0, sizeof *request);

  /* Bare LF line ends are tolerated, as most servers do. */
  lines = g_strsplit (copy, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gsize l = strlen (lines[i]);
      if (l > 0 && lines[i][l - 1] == '\r')
        lines[i][l - 1] = '\0';
    }

  words = g_strsplit (lines[0], " ", -1);
  if (g_strv_length (words) != 3 || words[1][0] != '/')
    return FALSE;
  if (strcmp (words[2], "HTTP/1.1") == 0)
    request->http10 = FALSE;
  else if (strcmp (words[2], "HTTP/1.0") == 0)
    request->http10 = TRUE;
  else
    return FALSE;

  request->method = g_strdup (words[0]);
  query = strchr (words[1], '?');
  if (query != NULL)
    *query = '\0';
  request->target = g_strdup (words[1]);

  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *v;

      if ((v = header_value (lines[i], "Range")) != NULL)
        {
          g_free (request->range);
          request->range = v;
        }
      else if ((v = header_value (lines[i], "If-Range")) != NULL)
        {
          g_free (request->if_range);
          request->if_range = v;
        }
      else if ((v = header_value (lines[i], "Connection")) != NULL)
        {
          if (token_list_has (v, "close"))
            request->close = TRUE;
          if (token_list_has (v, "keep-alive"))
            keep_alive = TRUE;
          g_free (v);
        }
      else if ((v = header_value (lines[i], "Content-Length")) != NULL)
        {
          gboolean ok = mirror_parse_size (v, FALSE, &request->content_length);
          g_free (v);
          if (!ok)
            return FALSE;
        }
      else if ((v = header_value (lines[i], "Transfer-Encoding")) != NULL)
        {
          request->chunked = TRUE;
          g_free (v);
        }
    }

  if (request->http10 && !keep_alive)
    request->close = TRUE;

  return TRUE;
}

void
mirror_request_clear (MirrorRequest *request)
{
  g_clear_pointer (&request->method, g_free);
  g_clear_pointer (&request->target, g_free);
  g_clear_pointer (&request->range, g_free);
  g_clear_pointer (&request->if_range, g_free);
}

/* Resolves a single byte range against @size (RFC 9110 §14.1.2).  Syntax the
 * mirror does not support, multiple ranges included, is treated as no Range
 * at all, which the RFC allows a server to do. */
MirrorRangeResult
mirror_range_resolve (const char *value, guint64 size, guint64 *first, guint64 *last)
{
  g_autofree char *spec = NULL;
  char *dash;
  guint64 a, b;

  if (value == NULL || g_ascii_strncasecmp (value, "bytes=", 6) != 0)
    return MIRROR_RANGE_NONE;

  spec = g_strstrip (g_strdup (value + 6));
  if (strchr (spec, ',') != NULL)
    return MIRROR_RANGE_NONE;
  dash = strchr (spec, '-');
  if (dash == NULL)
    return MIRROR_RANGE_NONE;
  *dash = '\0';

  if (spec[0] == '\0')
    {
      /* bytes=-n: the last n bytes. */
      if (!mirror_parse_size (dash + 1, FALSE, &b))
        return MIRROR_RANGE_NONE;
      if (b == 0 || size == 0)
        return MIRROR_RANGE_UNSATISFIABLE;
      *first = size - MIN (b, size);
      *last = size - 1;
      return MIRROR_RANGE_OK;
    }

  if (!mirror_parse_size (spec, FALSE, &a))
    return MIRROR_RANGE_NONE;
  if (dash[1] == '\0')
    b = G_MAXUINT64;
  else if (!mirror_parse_size (dash + 1, FALSE, &b) || b < a)
    return MIRROR_RANGE_NONE;

  if (a >= size)
    return MIRROR_RANGE_UNSATISFIABLE;

  *first = a;
  *last = MIN (b, size - 1);
  return MIRROR_RANGE_OK;
}

static const char *const weekdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate, written by hand so that the process locale cannot leak into
 * the header. */
char *
mirror_http_date (gint64 unix_time)
{
  time_t t = (time_t) unix_time;
  struct tm tm;

  gmtime_r (&t, &tm);
  return g_strdup_printf ("%s, %02d %s %04d %02d:%02d:%02d GMT", weekdays[tm.tm_wday], tm.tm_mday,
                          months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

gboolean
mirror_http_date_parse (const char *text, gint64 *unix_time)
{
  char wday[4], mon[4];
  struct tm tm = { 0 };
  int n = 0;

  if (sscanf (text, "%3s, %d %3s %d %d:%d:%d GMT%n", wday, &tm.tm_mday, mon, &tm.tm_year,
              &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
          != 7
      || n == 0)
    return FALSE;

  tm.tm_mon = -1;
  for (int i = 0; i < 12; i++)
    if (strcmp (mon, months[i]) == 0)
      tm.tm_mon = i;
  if (tm.tm_mon < 0)
    return FALSE;
  tm.tm_year -= 1900;

  *unix_time = (gint64) timegm (&tm);
  return TRUE;
}

const char *
mirror_reason_phrase (guint status)
{
  switch (status)
    {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
    }
}
