/* atlas-test-mirror: a small HTTP/1.1 file server that misbehaves on
 * request, for Download Atlas's tests and benchmarks.
 *
 *   atlas-test-mirror --root DIR [--port N] [--bind ADDR] [--log FILE]
 *
 * A request path is /<modes>/<path-in-root>; see README.md for the modes.
 * One blocking thread per connection keeps every misbehaviour a plain,
 * linear piece of code; the engine under test is the part that must be
 * clever, not this.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "mirror.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/sockios.h>
#include <unistd.h>

#define MIRROR_MAX_CONNECTIONS 256
#define MIRROR_MAX_HEAD (16 * 1024)
#define MIRROR_IO_TIMEOUT_S 120

typedef struct
{
  char *root; /* realpath of --root, with a trailing '/' */
  FILE *log;
  GMutex log_lock;
  int listen_fd;
  GMutex conn_lock;
  GCond conn_cond;
  guint n_connections;
} Mirror;

static Mirror mirror;

typedef struct
{
  int sock;
  char buf[MIRROR_MAX_HEAD];
  gsize len;
} Connection;

/* What to do with the connection once a response is over. */
typedef enum
{
  NEXT_KEEP,
  NEXT_CLOSE,
  NEXT_GONE, /* already closed (reset) */
} ConnNext;

/* One request/response exchange, mostly for the log line. */
typedef struct
{
  MirrorRequest *request;
  const char *modes_key;
  MirrorProfile *profile;
  const char *rest; /* path after the modes segment, raw */
  gint64 serial;    /* 1-based request number for this modes */
  guint status;
  gboolean ranged;
  guint64 first;
  guint64 last;
  guint64 body_sent;
} Exchange;

/* --- Logging ------------------------------------------------------------ */

static void
log_exchange (const Exchange *ex)
{
  g_autofree char *range = NULL;

  if (mirror.log == NULL)
    return;

  range = ex->ranged
              ? g_strdup_printf ("%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, ex->first, ex->last)
              : g_strdup ("-");

  g_mutex_lock (&mirror.log_lock);
  fprintf (mirror.log, "%s /%s range=%s status=%u bytes=%" G_GUINT64_FORMAT " modes=%s\n",
           ex->request->method, ex->rest != NULL ? ex->rest : "", range, ex->status, ex->body_sent,
           ex->modes_key != NULL ? ex->modes_key : "-");
  fflush (mirror.log);
  g_mutex_unlock (&mirror.log_lock);
}

/* --- Reading requests ----------------------------------------------------- */

static void
set_timeouts (int sock)
{
  struct timeval tv = { .tv_sec = MIRROR_IO_TIMEOUT_S };

  setsockopt (sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static gssize
recv_some (Connection *conn)
{
  gssize n;

  do
    n = recv (conn->sock, conn->buf + conn->len, sizeof conn->buf - conn->len, 0);
  while (n < 0 && errno == EINTR);

  if (n > 0)
    conn->len += (gsize) n;
  return n;
}

/* Returns the length of the request head including its blank line, 0 when
 * the client closed or timed out, -1 when the head is too large. */
static gssize
read_head (Connection *conn)
{
  for (;;)
    {
      char *end = g_strstr_len (conn->buf, conn->len, "\r\n\r\n");
      if (end != NULL)
        return end + 4 - conn->buf;
      end = g_strstr_len (conn->buf, conn->len, "\n\n");
      if (end != NULL)
        return end + 2 - conn->buf;

      if (conn->len == sizeof conn->buf)
        return -1;
      if (recv_some (conn) <= 0)
        return 0;
    }
}

static void
consume (Connection *conn, gsize n)
{
  memmove (conn->buf, conn->buf + n, conn->len - n);
  conn->len -= n;
}

/* Throws away a request body: the mirror never needs one, but a client that
 * sends one must not have it parsed as the next request. */
static gboolean
skip_body (Connection *conn, guint64 length)
{
  while (length > 0)
    {
      gsize n;

      if (conn->len == 0 && recv_some (conn) <= 0)
        return FALSE;
      n = (gsize) MIN (length, conn->len);
      consume (conn, n);
      length -= n;
    }
  return TRUE;
}

/* --- Writing responses -------------------------------------------------- */

static void
append_common_headers (GString *head, guint status, gboolean keep_alive)
{
  g_autofree char *date = mirror_http_date (g_get_real_time () / G_USEC_PER_SEC);

  g_string_append_printf (head, "HTTP/1.1 %u %s\r\n", status, mirror_reason_phrase (status));
  g_string_append_printf (head, "Date: %s\r\n", date);
  g_string_append (head, "Server: atlas-test-mirror\r\n");
  g_string_append_printf (head, "Connection: %s\r\n", keep_alive ? "keep-alive" : "close");
}

/* A response with a short text body: errors, redirects, status= answers. */
static ConnNext
respond_simple (Connection *conn, Exchange *ex, guint status, const char *extra_headers,
                const char *text)
{
  g_autoptr (GString) head = g_string_new (NULL);
  gboolean keep_alive = !ex->request->close && status != 400 && status != 431;
  gboolean is_head = g_strcmp0 (ex->request->method, "HEAD") == 0;
  gsize text_len = strlen (text);

  append_common_headers (head, status, keep_alive);
  g_string_append (head, "Content-Type: text/plain; charset=utf-8\r\n");
  g_string_append_printf (head, "Content-Length: %" G_GSIZE_FORMAT "\r\n", text_len);
  if (extra_headers != NULL)
    g_string_append (head, extra_headers);
  g_string_append (head, "\r\n");
  if (!is_head)
    g_string_append_len (head, text, text_len);

  ex->status = status;
  ex->body_sent = 0;
  if (!mirror_send_all (conn->sock, head->str, head->len, FALSE))
    keep_alive = FALSE;
  else if (!is_head)
    ex->body_sent = text_len;

  log_exchange (ex);
  return keep_alive ? NEXT_KEEP : NEXT_CLOSE;
}

static ConnNext
respond_error (Connection *conn, Exchange *ex, guint status)
{
  g_autofree char *text = g_strdup_printf ("%u %s\n", status, mirror_reason_phrase (status));

  return respond_simple (conn, ex, status, status == 405 ? "Allow: GET, HEAD\r\n" : NULL, text);
}

/* --- Misbehaviours that end a connection -------------------------------- */

/* Keeps a stalled connection open, reading and discarding whatever the
 * client sends, until the client gives up. */
static void
hold_connection (Connection *conn)
{
  char scratch[4096];

  for (;;)
    {
      gssize n = recv (conn->sock, scratch, sizeof scratch, 0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
        return;
    }
}

/* Closes with an RST.  Waits (briefly) for the send queue to drain first:
 * an RST discards unsent data, and the client must see exactly the bytes
 * the mode promised before the reset. */
static void
reset_connection (Connection *conn)
{
  struct linger lin = { .l_onoff = 1, .l_linger = 0 };
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  int queued = 0;

  while (ioctl (conn->sock, SIOCOUTQ, &queued) == 0 && queued > 0
         && g_get_monotonic_time () < deadline)
    g_usleep (1000);

  setsockopt (conn->sock, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  close (conn->sock);
  conn->sock = -1;
}

/* --- Redirects ----------------------------------------------------------- */

static ConnNext
respond_redirect (Connection *conn, Exchange *ex)
{
  const MirrorModes *modes = &ex->profile->modes;
  g_autofree char *location = NULL;
  g_autofree char *header = NULL;

  switch (modes->redirect)
    {
    case MIRROR_REDIRECT_LOOP:
      {
        /* A counter in the path makes every hop a new URL, so a client
         * cannot detect the loop by seeing a URL twice; only a hop limit
         * stops it. */
        const char *rest = ex->rest;
        guint64 hop = 0;

        if (g_str_has_prefix (rest, "loop"))
          {
            const char *p = rest + 4;
            const char *slash = strchr (p, '/');
            g_autofree char *digits = slash != NULL ? g_strndup (p, slash - p) : NULL;

            if (digits != NULL && mirror_parse_size (digits, FALSE, &hop))
              rest = slash + 1;
            else
              hop = 0;
          }
        location =
            g_strdup_printf ("/%s/loop%" G_GUINT64_FORMAT "/%s", ex->modes_key, hop + 1, rest);
      }
      break;

    case MIRROR_REDIRECT_SCHEME:
      location = g_strdup ("file:///etc/passwd");
      break;

    case MIRROR_REDIRECT_PATH:
      /* An absolute target is used as is; anything else names the modes to
       * redirect to, keeping the file, e.g. redirect=- to the good mirror. */
      if (modes->redirect_target[0] == '/')
        location = g_strdup (modes->redirect_target);
      else
        location = g_strdup_printf ("/%s/%s", modes->redirect_target, ex->rest);
      break;

    case MIRROR_REDIRECT_NONE:
    default:
      g_assert_not_reached ();
    }

  header = g_strdup_printf ("Location: %s\r\n", location);
  return respond_simple (conn, ex, 302, header, "redirect\n");
}

/* --- Files --------------------------------------------------------------- */

/* Opens @rest (raw, percent-encoded, relative to the root) for reading.
 * Returns -1 and sets *@status on failure.  Both a ".." segment and a
 * symlink that escapes the root are refused. */
static int
open_in_root (const char *rest, guint *status)
{
  g_autofree char *decoded = g_uri_unescape_string (rest, "/");
  g_autofree char *joined = NULL;
  g_autofree char *real = NULL;
  g_auto (GStrv) segments = NULL;
  struct stat st;
  int fd;

  *status = 404;
  if (decoded == NULL || *decoded == '\0')
    return -1;

  segments = g_strsplit (decoded, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    if (strcmp (segments[i], "..") == 0)
      {
        *status = 403;
        return -1;
      }

  joined = g_strconcat (mirror.root, decoded, NULL);
  real = realpath (joined, NULL);
  if (real == NULL)
    return -1;
  if (!g_str_has_prefix (real, mirror.root))
    {
      *status = 403;
      return -1;
    }

  fd = open (real, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      *status = errno == EACCES ? 403 : 404;
      return -1;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Strong validators: a strong comparison with the ETag, or an exact match
 * of the Last-Modified date.  Weak ETags never match (RFC 9110 §13.1.5).
 * Without an ETag (noetag) no Last-Modified was sent either, so nothing the
 * client holds can be a validator of ours. */
static gboolean
if_range_matches (const char *value, const char *etag, gint64 mtime)
{
  gint64 date;

  if (value[0] == '"')
    return etag != NULL && strcmp (value, etag) == 0;
  if (g_str_has_prefix (value, "W/"))
    return FALSE;
  return etag != NULL && mirror_http_date_parse (value, &date) && date == mtime;
}

static ConnNext
finish_body (Connection *conn, Exchange *ex, MirrorSendResult result, gboolean reset_at_limit,
             gboolean keep_alive)
{
  log_exchange (ex);

  switch (result)
    {
    case MIRROR_SEND_COMPLETE:
      return keep_alive ? NEXT_KEEP : NEXT_CLOSE;
    case MIRROR_SEND_LIMIT:
      if (reset_at_limit)
        {
          reset_connection (conn);
          return NEXT_GONE;
        }
      hold_connection (conn);
      return NEXT_CLOSE;
    case MIRROR_SEND_ERROR:
    default:
      return NEXT_CLOSE;
    }
}

static ConnNext
serve_file (Connection *conn, Exchange *ex, int fd)
{
  const MirrorModes *modes = &ex->profile->modes;
  MirrorRequest *request = ex->request;
  g_autoptr (GString) head = g_string_new (NULL);
  g_autofree char *etag = NULL;
  g_autofree char *last_modified = NULL;
  gboolean changed =
      modes->change_after > 0
      && (modes->change_after == G_MAXUINT64 || (guint64) ex->serial > modes->change_after);
  gboolean is_head = strcmp (request->method, "HEAD") == 0;
  /* A lying size breaks the message framing, so that connection is not
   * reused. */
  gboolean keep_alive = !request->close && !modes->has_liesize;
  MirrorBody body = { .file_fd = fd, .limit = G_MAXUINT64 };
  gboolean reset_at_limit = FALSE;
  MirrorRangeResult range = MIRROR_RANGE_NONE;
  guint64 real_size, size, length;
  gint64 mtime;
  struct stat st;
  MirrorSendResult result;

  if (fstat (fd, &st) < 0)
    return respond_error (conn, ex, 500);

  real_size = (guint64) st.st_size;
  size = modes->has_liesize ? modes->liesize : real_size;
  /* The "changed" file is an hour newer, so that Last-Modified moves too. */
  mtime = (gint64) st.st_mtime + (changed ? 3600 : 0);
  if (!modes->noetag)
    {
      etag = g_strdup_printf (
          "\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x%s\"", (gint64) real_size,
          (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec,
          changed ? "-changed" : "");
      last_modified = mirror_http_date (mtime);
    }

  /* Range applies to GET only (RFC 9110 §14.2); an If-Range that does not
   * match turns the request into a plain full GET. */
  if (request->range != NULL && !modes->norange && strcmp (request->method, "GET") == 0
      && (request->if_range == NULL || if_range_matches (request->if_range, etag, mtime)))
    range = mirror_range_resolve (request->range, size, &ex->first, &ex->last);

  if (range == MIRROR_RANGE_UNSATISFIABLE)
    {
      g_autofree char *cr =
          g_strdup_printf ("Content-Range: bytes */%" G_GUINT64_FORMAT "\r\n", size);
      return respond_simple (conn, ex, 416, cr, "");
    }

  ex->ranged = range == MIRROR_RANGE_OK;
  ex->status = ex->ranged ? 206 : 200;
  length = ex->ranged ? ex->last - ex->first + 1 : size;

  append_common_headers (head, ex->status, keep_alive);
  g_string_append (head, "Content-Type: application/octet-stream\r\n");
  g_string_append_printf (head, "Content-Length: %" G_GUINT64_FORMAT "\r\n", length);
  if (!modes->norange)
    g_string_append (head, "Accept-Ranges: bytes\r\n");
  if (etag != NULL)
    g_string_append_printf (head, "ETag: %s\r\nLast-Modified: %s\r\n", etag, last_modified);
  if (ex->ranged)
    g_string_append_printf (head,
                            "Content-Range: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                            "/%" G_GUINT64_FORMAT "\r\n",
                            ex->first, ex->last, size);
  g_string_append (head, "\r\n");

  if (!mirror_send_all (conn->sock, head->str, head->len, !is_head))
    return finish_body (conn, ex, MIRROR_SEND_ERROR, FALSE, FALSE);
  if (is_head)
    return finish_body (conn, ex, MIRROR_SEND_COMPLETE, FALSE, keep_alive);

  /* With liesize the headers lie but the bytes are the real ones: the
   * whole real file for a 200, the claimed range clipped to the real file
   * for a 206. */
  if (!ex->ranged)
    {
      body.offset = 0;
      body.length = real_size;
    }
  else
    {
      body.offset = ex->first;
      body.length = ex->first < real_size ? MIN (ex->last, real_size - 1) - ex->first + 1 : 0;
    }

  if (modes->has_stall)
    body.limit = modes->stall_after;
  if (modes->has_reset && modes->reset_after < body.limit)
    {
      body.limit = modes->reset_after;
      reset_at_limit = TRUE;
    }
  body.xor_all = changed;
  body.corrupt = modes->corrupt;
  body.n_corrupt = modes->n_corrupt;
  body.bucket = ex->profile->bucket;

  result = mirror_send_body (conn->sock, &body, &ex->body_sent);
  return finish_body (conn, ex, result, reset_at_limit, keep_alive);
}

/* --- Dispatch ------------------------------------------------------------ */

static ConnNext
handle_request (Connection *conn, MirrorRequest *request)
{
  Exchange ex = { .request = request, .rest = request->target + 1 };
  g_autofree char *modes_key = NULL;
  g_autoptr (GError) error = NULL;
  const char *slash = strchr (request->target + 1, '/');
  const MirrorModes *modes;
  guint status;
  int fd;

  if (slash == NULL)
    return respond_error (conn, &ex, 404);

  modes_key = g_strndup (request->target + 1, slash - request->target - 1);
  ex.modes_key = modes_key;
  ex.rest = slash + 1;
  ex.profile = mirror_profile_lookup (modes_key, &error);
  if (ex.profile == NULL)
    {
      g_autofree char *text = g_strdup_printf ("400 Bad Request: %s\n", error->message);
      ex.request->close = TRUE;
      return respond_simple (conn, &ex, 400, NULL, text);
    }
  modes = &ex.profile->modes;
  ex.serial = (gint64) g_atomic_int_add (&ex.profile->requests, 1) + 1;

  if (modes->drop_every > 0 && ex.serial % (gint64) modes->drop_every == 0)
    {
      ex.status = 0;
      log_exchange (&ex);
      return NEXT_CLOSE;
    }

  if (strcmp (request->method, "GET") != 0 && strcmp (request->method, "HEAD") != 0)
    return respond_error (conn, &ex, 405);

  if (modes->delay_ms > 0)
    g_usleep ((gulong) modes->delay_ms * 1000);

  if (modes->redirect != MIRROR_REDIRECT_NONE)
    return respond_redirect (conn, &ex);

  if (modes->status != 0)
    {
      g_autofree char *text =
          g_strdup_printf ("%u %s\n", modes->status, mirror_reason_phrase (modes->status));
      const char *extra =
          modes->status == 503 || modes->status == 429 ? "Retry-After: 1\r\n" : NULL;
      return respond_simple (conn, &ex, modes->status, extra, text);
    }

  fd = open_in_root (ex.rest, &status);
  if (fd < 0)
    return respond_error (conn, &ex, status);

  {
    ConnNext next = serve_file (conn, &ex, fd);
    close (fd);
    return next;
  }
}

static gpointer
connection_thread (gpointer data)
{
  g_autofree Connection *conn = data;

  set_timeouts (conn->sock);

  for (;;)
    {
      MirrorRequest request;
      gssize head_len = read_head (conn);
      ConnNext next;

      if (head_len == 0)
        break;
      if (head_len < 0)
        {
          MirrorRequest bad = { .method = (char *) "-", .close = TRUE };
          Exchange ex = { .request = &bad };
          respond_error (conn, &ex, 431);
          break;
        }

      if (!mirror_request_parse (conn->buf, (gsize) head_len, &request))
        {
          MirrorRequest bad = { .method = (char *) "-", .close = TRUE };
          Exchange ex = { .request = &bad };
          respond_error (conn, &ex, 400);
          break;
        }
      consume (conn, (gsize) head_len);

      if (request.chunked)
        {
          Exchange ex = { .request = &request, .rest = request.target + 1 };
          request.close = TRUE;
          respond_error (conn, &ex, 501);
          mirror_request_clear (&request);
          break;
        }

      next =
          skip_body (conn, request.content_length) ? handle_request (conn, &request) : NEXT_CLOSE;
      mirror_request_clear (&request);
      if (next != NEXT_KEEP)
        {
          break;
        }
    }

  if (conn->sock >= 0)
    close (conn->sock);

  g_mutex_lock (&mirror.conn_lock);
  mirror.n_connections--;
  g_cond_signal (&mirror.conn_cond);
  g_mutex_unlock (&mirror.conn_lock);

  return NULL;
}

/* --- Listening ----------------------------------------------------------- */

static int
listen_on (const char *address, guint port, GError **error)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC,
                            .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
  struct addrinfo *ai = NULL;
  g_autofree char *service = g_strdup_printf ("%u", port);
  int one = 1;
  int fd;
  int rc;

  rc = getaddrinfo (address, service, &hints, &ai);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad bind address %s: %s",
                   address, gai_strerror (rc));
      return -1;
    }

  fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen (fd, 512) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot listen on %s port %u: %s", address, port, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      fd = -1;
    }
  freeaddrinfo (ai);
  return fd;
}

static guint
bound_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
  return ntohs (((struct sockaddr_in *) &ss)->sin_port);
}

static gpointer
accept_thread (gpointer data)
{
  for (;;)
    {
      Connection *conn;
      GThread *thread;
      int one = 1;
      int sock;

      /* Past the cap, leave new clients in the kernel's backlog rather
       * than refusing them: a busy mirror is slow, not dead. */
      g_mutex_lock (&mirror.conn_lock);
      while (mirror.n_connections >= MIRROR_MAX_CONNECTIONS)
        g_cond_wait (&mirror.conn_cond, &mirror.conn_lock);
      g_mutex_unlock (&mirror.conn_lock);

      sock = accept4 (mirror.listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (sock < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
            {
              if (errno == EMFILE || errno == ENFILE)
                g_usleep (10 * 1000);
              continue;
            }
          g_printerr ("atlas-test-mirror: accept: %s\n", g_strerror (errno));
          return NULL;
        }
      setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

      conn = g_new0 (Connection, 1);
      conn->sock = sock;

      g_mutex_lock (&mirror.conn_lock);
      mirror.n_connections++;
      g_mutex_unlock (&mirror.conn_lock);

      thread = g_thread_try_new ("mirror-conn", connection_thread, conn, NULL);
      if (thread == NULL)
        {
          close (sock);
          g_free (conn);
          g_mutex_lock (&mirror.conn_lock);
          mirror.n_connections--;
          g_mutex_unlock (&mirror.conn_lock);
          continue;
        }
      g_thread_unref (thread);
    }
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *root = NULL;
  g_autofree char *bind_address = NULL;
  g_autofree char *log_path = NULL;
  gint port = 0;
  GOptionEntry entries[] = {
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &root, "Directory to serve", "DIR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port, 0 for an ephemeral one", "N" },
    { "bind", 0, 0, G_OPTION_ARG_STRING, &bind_address, "Address to bind (127.0.0.1)", "ADDR" },
    { "log", 0, 0, G_OPTION_ARG_FILENAME, &log_path, "Append one line per request", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- misbehaving HTTP test mirror");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *real_root = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("atlas-test-mirror: %s\n", error->message);
      return 2;
    }
  if (root == NULL || port < 0 || port > 65535)
    {
      g_printerr ("atlas-test-mirror: --root DIR is required and --port must be 0..65535\n");
      return 2;
    }

  real_root = realpath (root, NULL);
  if (real_root == NULL || !g_file_test (real_root, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("atlas-test-mirror: %s is not a directory\n", root);
      return 2;
    }
  /* A trailing slash makes the containment check a plain prefix test that
   * "/srv/rootX" cannot pass for a root of "/srv/root". */
  mirror.root =
      g_str_has_suffix (real_root, "/") ? g_strdup (real_root) : g_strconcat (real_root, "/", NULL);

  if (log_path != NULL)
    {
      mirror.log = fopen (log_path, "ae");
      if (mirror.log == NULL)
        {
          g_printerr ("atlas-test-mirror: cannot open %s: %s\n", log_path, g_strerror (errno));
          return 2;
        }
    }

  /* A client that vanishes mid-body must cost an EPIPE, not the process. */
  signal (SIGPIPE, SIG_IGN);

  mirror.listen_fd =
      listen_on (bind_address != NULL ? bind_address : "127.0.0.1", (guint) port, &error);
  if (mirror.listen_fd < 0)
    {
      g_printerr ("atlas-test-mirror: %s\n", error->message);
      return 1;
    }

  printf ("PORT %u\n", bound_port (mirror.listen_fd));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_thread_unref (g_thread_new ("mirror-accept", accept_thread, NULL));
  g_main_loop_run (loop);

  /* Connection threads may be blocked in I/O and own nothing that needs
   * tearing down, so the process leaves without joining them.  The log is
   * flushed under its lock so that no line is cut in half, and _exit()
   * keeps exit handlers from running under still-live threads. */
  if (mirror.log != NULL)
    {
      g_mutex_lock (&mirror.log_lock);
      fflush (mirror.log);
    }
  fflush (stdout);
  _exit (0);
}
