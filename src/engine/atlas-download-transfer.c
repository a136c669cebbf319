/* atlas-download-transfer.c — the connections of one download: which source
 * gets which range, what a response must look like to be trusted, and what
 * happens when a transfer ends. */
#include "atlas-download-internal.h"

#include "atlas-error.h"
#include "atlas-http-headers.h"

#include <string.h>

/* Blocks handed to the writer; large enough to keep per-block overhead low,
 * small enough that a slow disk never holds much memory. */
#define BLOCK_SIZE (256 * 1024)
/* A fresh claim covers about this many seconds of the source's speed. */
#define CLAIM_SECONDS 2.0
#define CLAIM_MIN_BYTES (4 * 1024 * 1024)
#define CLAIM_MAX_BYTES (32 * 1024 * 1024)
#define SWARM_CLAIM_SECONDS 0.5
#define SWARM_MIRROR_CONNECTIONS 2
#define SWARM_CLAIM_MAX_BYTES (1024 * 1024)
#define PROBE_LENGTH ATLAS_DEFAULT_PIECE_LENGTH
#define MAX_BACKOFF_US (30 * G_USEC_PER_SEC)
/* Endgame copies are held in memory until they win, so only for pieces up to this. */
#define MAX_COPY_PIECE (16 * 1024 * 1024)

static void start_connection (AtlasDownload *self, Source *source, AtlasRange *range);
static void finish_connection (AtlasDownload *self, Connection *connection, CURLcode result);

/* ---- sources ----------------------------------------------------------- */

static char *
host_key_for (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  return g_strdup_printf ("%s://%s:%d", g_uri_get_scheme (uri), g_uri_get_host (uri),
                          g_uri_get_port (uri));
}

Source *
_atlas_download_add_source (AtlasDownload *self, const char *url, guint priority,
                            const char *location)
{
  g_autofree char *host_key = host_key_for (url);
  g_autofree char *scheme = g_uri_parse_scheme (url);
  const char *preferred = atlas_request_get_preferred_location (self->request);
  Source *source;

  if (host_key == NULL || scheme == NULL
      || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0
          && g_ascii_strcasecmp (scheme, "ftp") != 0))
    {
      _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                           "Ignoring source %s: only http, https and ftp URLs are supported", url);
      return NULL;
    }
  for (guint i = 0; i < self->sources->len; i++)
    if (strcmp (((Source *) g_ptr_array_index (self->sources, i))->url, url) == 0)
      return NULL;

  source = g_new0 (Source, 1);
  source->index = self->sources->len;
  source->url = g_strdup (url);
  source->host_key = g_steal_pointer (&host_key);
  source->is_ftp = g_ascii_strcasecmp (scheme, "ftp") == 0;
  source->priority = priority;
  source->preferred = location != NULL && preferred != NULL && strcmp (location, preferred) == 0;
  source->state = ATLAS_SOURCE_IDLE;
  source->view = _atlas_source_new (url, source->host_key, priority, location);
  g_ptr_array_add (self->sources, source);
  g_list_store_append (self->source_views, source->view);
  return source;
}

void
_atlas_download_source_free (Source *source)
{
  g_clear_object (&source->view);
  g_clear_object (&source->peer);
  g_free (source->url);
  g_free (source->host_key);
  g_free (source->etag);
  g_free (source->last_modified);
  g_free (source->last_error);
  g_free (source);
}

static gboolean
source_usable (Source *source)
{
  return source->state != ATLAS_SOURCE_DROPPED && source->state != ATLAS_SOURCE_BANNED;
}

void
_atlas_download_ban_source (AtlasDownload *self, Source *source, AtlasSourceState state,
                            const char *reason)
{
  if (!source_usable (source))
    return;
  source->state = state;
  g_free (source->last_error);
  source->last_error = g_strdup (reason);
  _atlas_download_log (self, G_LOG_LEVEL_WARNING, "%s %s: %s",
                       state == ATLAS_SOURCE_BANNED ? "Banned" : "Dropped", source->url, reason);

  /* Its other connections stop too; their ranges go to other sources. */
  for (guint i = self->connections->len; i > 0; i--)
    {
      Connection *connection = g_ptr_array_index (self->connections, i - 1);
      if (connection->source == source)
        _atlas_download_cancel_connection (self, connection, NULL);
    }
}

/* Lower is better: spread connections first, then Metalink priority, then
 * the user's country, then measured speed. */
static int
compare_sources (Source *a, Source *b)
{
  guint pa = a->priority ? a->priority : G_MAXUINT;
  guint pb = b->priority ? b->priority : G_MAXUINT;

  if (a->connections != b->connections)
    return a->connections < b->connections ? -1 : 1;
  if (pa != pb)
    return pa < pb ? -1 : 1;
  if (a->preferred != b->preferred)
    return a->preferred ? -1 : 1;
  if (a->speed != b->speed)
    return a->speed > b->speed ? -1 : 1;
  return a->index < b->index ? -1 : 1;
}

static Source *
pick_source (AtlasDownload *self, GHashTable *tried, gint64 now)
{
  AtlasSettings *settings = atlas_session_get_settings (self->session);
  Source *best = NULL;

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);

      guint cap = atlas_settings_get_max_connections_per_server (settings);

      if (source->connection_cap > 0)
        cap = MIN (cap, source->connection_cap);
      if (source->peer != NULL || !source_usable (source) || source->retry_at > now
          || g_hash_table_contains (tried, source) || source->connections >= cap)
        continue;
      if (best == NULL || compare_sources (source, best) < 0)
        best = source;
    }
  return best;
}

/* ---- scheduling -------------------------------------------------------- */

double
_atlas_download_range_time_left (AtlasRange *range, gpointer user_data)
{
  AtlasDownload *self = user_data;
  Connection *connection = range->owner;
  gint64 now = g_get_monotonic_time ();
  gint64 elapsed = now - connection->started;
  guint64 end = _atlas_download_piece_end (self, range->next);
  guint64 left = end - MIN (connection->pos, end);
  double speed;

  /* Silent for half a second: whatever its average, it is stuck now. */
  if (connection->received == 0 || now - connection->last_data > G_USEC_PER_SEC / 2)
    return G_MAXDOUBLE;
  speed = connection->received * (double) G_USEC_PER_SEC / MAX (elapsed, 1);
  return left / MAX (speed, 1.0);
}

static guint
claim_pieces (AtlasDownload *self, Source *source)
{
  double bytes = source->speed > 0 ? source->speed * CLAIM_SECONDS : 2.0 * CLAIM_MIN_BYTES;

  /* In a swarm, what a mirror sends us it sends once for every peer too:
   * small claims spread over the rare pieces let the swarm share the rest. */
  if (self->swarming)
    return MAX (1, (guint) (MIN (source->speed * SWARM_CLAIM_SECONDS, SWARM_CLAIM_MAX_BYTES)
                            / self->piece_length));
  bytes = CLAMP (bytes, CLAIM_MIN_BYTES, CLAIM_MAX_BYTES);
  return MAX (1, (guint) (bytes / self->piece_length));
}

/* Whether peers delivered at least as fast as mirrors at the last tick (or
 * nothing has been measured yet). Then pieces peers hold are left to them;
 * when peers are the slower side, mirrors take anything, so a slow peer never
 * holds a download back: mirrors fill what peers cannot.
 * Peers that sent nothing for a stall timeout (and none got ready since) are
 * not outpacing anyone, whatever the averages say: those only decay towards
 * zero, so once everyone went quiet, peers that had been faster stayed
 * "faster" and mirrors left their pieces to them for good (seen in the soak:
 * the peer left holding them refused every request). */
static gboolean
peers_outpace_mirrors (AtlasDownload *self, gint64 now)
{
  guint timeout = atlas_settings_get_stall_timeout (atlas_session_get_settings (self->session));
  double peers = 0, mirrors = 0;

  if (now - self->peers_active_at > (gint64) timeout * G_USEC_PER_SEC)
    return FALSE;

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);

      if (source->peer != NULL)
        peers += source->speed;
      else
        mirrors += source->speed;
    }
  return peers >= mirrors;
}

/* Peers have their own links, outside the per-download connection cap. */
static guint
count_mirror_connections (AtlasDownload *self)
{
  guint count = 0;

  for (guint i = 0; i < self->connections->len; i++)
    count += ((Connection *) g_ptr_array_index (self->connections, i))->peer == NULL;
  return count;
}

void
_atlas_download_schedule (AtlasDownload *self)
{
  AtlasSettings *settings;
  g_autoptr (GHashTable) tried = NULL;
  gint64 now = g_get_monotonic_time ();
  guint cap;

  if (self->state != ATLAS_DOWNLOAD_ACTIVE || self->session == NULL || self->finalizing
      || self->revalidating || self->stopping)
    return;

  settings = atlas_session_get_settings (self->session);
  cap = atlas_settings_get_max_connections_per_download (settings);
  tried = g_hash_table_new (NULL, NULL);

  if (self->scheduler == NULL)
    {
      /* The size is unknown: one probe learns it before anything is split. */
      Source *source;

      if (self->connections->len > 0)
        return;
      source = pick_source (self, tried, now);
      if (source != NULL && _atlas_session_acquire_host (self->session, source->host_key))
        start_connection (self, source, NULL);
      return;
    }

  /* In a swarm with peers ready to send, mirrors leave what peers hold to
   * them, and fewer mirror connections mean fewer pieces in flight that
   * other downloaders might be fetching from the origin at the same time. */
  if (self->swarming)
    {
      gboolean peers_ready = _atlas_download_has_ready_peer (self);
      gboolean peers_faster = peers_ready && peers_outpace_mirrors (self, now);

      atlas_scheduler_set_mirror_max_holders (self->scheduler, peers_faster ? 0 : G_MAXUINT);
      if (peers_ready)
        cap = MIN (cap, SWARM_MIRROR_CONNECTIONS);
    }
  while (count_mirror_connections (self) < cap)
    {
      Source *source = pick_source (self, tried, now);
      AtlasRange *range;

      if (source == NULL)
        break;
      g_hash_table_add (tried, source);
      if (!_atlas_session_acquire_host (self->session, source->host_key))
        continue;
      range = atlas_scheduler_claim (self->scheduler, source->index, claim_pieces (self, source),
                                     NULL, _atlas_download_range_time_left, self);
      if (range != NULL && range->duplicate && self->piece_length > MAX_COPY_PIECE)
        {
          /* An endgame copy waits in memory: not for pieces this large. */
          atlas_scheduler_release (self->scheduler, range);
          range = NULL;
        }
      if (range == NULL)
        {
          _atlas_session_release_host (self->session, source->host_key);
          continue;
        }
      start_connection (self, source, range);
      /* The same source may take another connection in the next round. */
      g_hash_table_remove (tried, source);
    }
  _atlas_download_schedule_peers (self);
}

/* ---- starting a transfer ----------------------------------------------- */

static size_t write_cb (char *data, size_t size, size_t count, void *user_data);
static size_t header_cb (char *data, size_t size, size_t count, void *user_data);

static void
done_cb (CURL *easy, CURLcode result, gpointer user_data)
{
  Connection *connection = user_data;

  finish_connection (connection->download, connection, result);
}

static void
start_connection (AtlasDownload *self, Source *source, AtlasRange *range)
{
  AtlasSettings *settings = atlas_session_get_settings (self->session);
  Connection *connection = g_new0 (Connection, 1);
  g_autofree char *range_header = NULL;
  const char *ca_file = atlas_settings_get_ca_file (settings);
  guint stream_source;

  connection->download = self;
  connection->source = source;
  connection->range = range;
  connection->stream = self->next_stream++;
  connection->cr_start = connection->cr_end = connection->cr_total = -1;
  connection->started = connection->last_data = g_get_monotonic_time ();
  if (range != NULL)
    {
      range->owner = connection;
      connection->request_start = _atlas_download_piece_start (self, range->start);
      connection->request_end = _atlas_download_piece_end (self, range->end - 1);
      if (range->duplicate)
        connection->copy = g_byte_array_new ();
    }
  else
    {
      connection->request_start = 0;
      connection->request_end = PROBE_LENGTH;
    }
  connection->pos = connection->request_start;
  stream_source = source->index;
  g_array_append_val (self->stream_sources, stream_source);

  connection->easy = curl_easy_init ();
  range_header = g_strdup_printf ("%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
                                  connection->request_start, connection->request_end - 1);
  curl_easy_setopt (connection->easy, CURLOPT_URL, source->url);
  if (range == NULL && source->is_ftp)
    /* FTP has no Content-Range to learn the size from: ask for it (SIZE). */
    curl_easy_setopt (connection->easy, CURLOPT_NOBODY, 1L);
  else
    curl_easy_setopt (connection->easy, CURLOPT_RANGE, range_header);
  curl_easy_setopt (connection->easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (connection->easy, CURLOPT_WRITEDATA, connection);
  curl_easy_setopt (connection->easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (connection->easy, CURLOPT_HEADERDATA, connection);
  curl_easy_setopt (connection->easy, CURLOPT_ERRORBUFFER, connection->error_buffer);
  curl_easy_setopt (connection->easy, CURLOPT_NOSIGNAL, 1L);
  /* Redirects are followed a few times and never to anything but http,
   * https and ftp (no file://, no gopher://). An https mirror may send us to
   * plain http or ftp only when a hash will check the bytes: without one,
   * TLS is all that vouches for them, and a downgrade would drop it silently. */
  connection->https_only = g_ascii_strncasecmp (source->url, "https://", 8) == 0
                           && atlas_request_get_checksums (self->request)->len == 0
                           && atlas_request_get_piece_digests (self->request) == NULL;
  curl_easy_setopt (connection->easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (connection->easy, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (connection->easy, CURLOPT_PROTOCOLS_STR, "http,https,ftp");
  curl_easy_setopt (connection->easy, CURLOPT_REDIR_PROTOCOLS_STR,
                    connection->https_only ? "https" : "http,https,ftp");
  /* TLS verification is always on; tests add their CA instead of turning it off. */
  curl_easy_setopt (connection->easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (connection->easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (ca_file != NULL)
    curl_easy_setopt (connection->easy, CURLOPT_CAINFO, ca_file);
  curl_easy_setopt (connection->easy, CURLOPT_USERAGENT, atlas_settings_get_user_agent (settings));
  curl_easy_setopt (connection->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt (connection->easy, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt (connection->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt (connection->easy, CURLOPT_FTP_USE_EPSV, 1L);

  /* If-Range: should the file have changed, the mirror answers 200 with the
   * new file instead of 206, and we drop it instead of mixing versions. */
  if (source->etag != NULL && !g_str_has_prefix (source->etag, "W/"))
    {
      g_autofree char *header = g_strdup_printf ("If-Range: %s", source->etag);
      connection->headers = curl_slist_append (connection->headers, header);
    }
  else if (source->last_modified != NULL)
    {
      g_autofree char *header = g_strdup_printf ("If-Range: %s", source->last_modified);
      connection->headers = curl_slist_append (connection->headers, header);
    }
  if (connection->headers != NULL)
    curl_easy_setopt (connection->easy, CURLOPT_HTTPHEADER, connection->headers);

  g_debug ("download %" G_GUINT64_FORMAT ": %s pieces %u-%u%s from %s", self->id,
           range ? "fetching" : "probing", range ? range->start : 0, range ? range->end - 1 : 0,
           range && range->duplicate ? " (endgame copy)" : "", source->url);
  source->connections++;
  if (source->state == ATLAS_SOURCE_IDLE || source->state == ATLAS_SOURCE_BACKING_OFF)
    source->state = ATLAS_SOURCE_CONNECTING;
  g_ptr_array_add (self->connections, connection);
  atlas_curl_driver_add (_atlas_session_get_driver (self->session), connection->easy, done_cb,
                         connection);
}

/* ---- responses --------------------------------------------------------- */

static void
set_string (char **field, const char *value, gsize length)
{
  g_free (*field);
  *field = g_strndup (value, length);
}

static size_t
header_cb (char *data, size_t size, size_t count, void *user_data)
{
  Connection *connection = user_data;
  AtlasDownload *self = connection->download;
  gsize length = size * count;
  g_autofree char *line = g_strndup (data, length);
  char *value;

  g_strchomp (line);
  if (g_str_has_prefix (line, "HTTP/"))
    {
      /* A new response (after a redirect): forget the previous one's headers. */
      connection->cr_start = connection->cr_end = connection->cr_total = -1;
      g_clear_pointer (&connection->etag, g_free);
      g_clear_pointer (&connection->last_modified, g_free);
      return length;
    }
  value = strchr (line, ':');
  if (value == NULL)
    return length;
  *value++ = '\0';
  while (*value == ' ' || *value == '\t')
    value++;

  if (g_ascii_strcasecmp (line, "Content-Range") == 0)
    {
      AtlasContentRange range;

      /* Left at -1 when it does not parse: check_response rejects the answer. */
      if (atlas_http_parse_content_range (value, &range))
        {
          connection->cr_start = range.first;
          connection->cr_end = range.last;
          connection->cr_total = range.total;
        }
    }
  else if (g_ascii_strcasecmp (line, "ETag") == 0)
    set_string (&connection->etag, value, strlen (value));
  else if (g_ascii_strcasecmp (line, "Last-Modified") == 0)
    set_string (&connection->last_modified, value, strlen (value));
  else if (g_ascii_strcasecmp (line, "Retry-After") == 0)
    connection->retry_after = atlas_http_parse_retry_after (value, 24 * 60 * 60);
  else if (g_ascii_strcasecmp (line, "Link") == 0 && !self->from_metalink)
    {
      /* RFC 6249: a server may name mirrors of what it serves. */
      g_autoptr (GPtrArray) links =
          g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_link_duplicate_free);

      atlas_http_parse_link_duplicates (value, links);
      for (guint i = 0; i < links->len && self->sources->len < ATLAS_MAX_LINK_MIRRORS; i++)
        {
          AtlasLinkDuplicate *link = g_ptr_array_index (links, i);
          if (_atlas_download_add_source (self, link->url, link->priority, link->location))
            _atlas_download_log (self, G_LOG_LEVEL_INFO, "Mirror %s announced by %s", link->url,
                                 connection->source->url);
        }
    }
  else if (g_ascii_strcasecmp (line, "Digest") == 0
           && atlas_request_get_checksums (self->request)->len == 0)
    {
      AtlasChecksum sum;

      /* RFC 3230 instance digest: the server tells us what the file must hash to. */
      if (atlas_http_parse_digest (value, &sum))
        {
          g_autofree char *text = atlas_checksum_to_string (&sum);
          atlas_request_add_checksum (self->request, &sum);
          _atlas_download_log (self, G_LOG_LEVEL_INFO, "%s gives the file's digest: %s",
                               connection->source->url, text);
        }
    }
  return length;
}

static gboolean reject (Connection *connection, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
reject (Connection *connection, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_free (connection->reject);
  connection->reject = g_strdup_vprintf (format, args);
  va_end (args);
  return FALSE;
}

static gboolean transient (Connection *connection, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
transient (Connection *connection, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_free (connection->failure);
  connection->failure = g_strdup_vprintf (format, args);
  va_end (args);
  return FALSE;
}

static gboolean
check_validators (Connection *connection)
{
  Source *source = connection->source;

  if (source->etag != NULL && g_strcmp0 (source->etag, connection->etag) != 0)
    return reject (connection, "the file changed on this mirror (ETag was %s, now %s)",
                   source->etag, connection->etag ? connection->etag : "absent");
  if (source->last_modified != NULL
      && g_strcmp0 (source->last_modified, connection->last_modified) != 0)
    return reject (connection, "the file changed on this mirror (Last-Modified was %s, now %s)",
                   source->last_modified,
                   connection->last_modified ? connection->last_modified : "absent");
  if (source->etag == NULL && source->last_modified == NULL)
    {
      source->etag = g_strdup (connection->etag);
      source->last_modified = g_strdup (connection->last_modified);
    }
  return TRUE;
}

/* Called before the first body byte is accepted: is this the response we asked for? */
static gboolean
check_response (AtlasDownload *self, Connection *connection)
{
  long status = 0;

  curl_easy_getinfo (connection->easy, CURLINFO_RESPONSE_CODE, &status);
  connection->status = status;

  if (connection->source->is_ftp)
    {
      /* FTP has no Content-Range; the REST offset is ours and the length is
       * checked as the bytes arrive. The size must be known from elsewhere. */
      return TRUE;
    }

  if (status == 200)
    {
      if (connection->headers != NULL)
        return reject (connection, "the file changed on this mirror (If-Range was not honoured)");
      return reject (connection, "it ignores Range requests (answered 200 instead of 206)");
    }
  if (status == 404 || status == 410 || status == 403 || status == 401)
    return reject (connection, "HTTP %ld: the file is not available there", status);
  if (status >= 400)
    {
      if (connection->retry_after > 0)
        return transient (connection, "HTTP %ld (retry after %" G_GINT64_FORMAT " s)", status,
                          connection->retry_after);
      return transient (connection, "HTTP %ld", status);
    }
  if (status != 206)
    return reject (connection, "unexpected HTTP status %ld to a range request", status);

  if (connection->cr_total < 0)
    return reject (connection, "206 response without a valid Content-Range");
  if (self->size >= 0 && connection->cr_total != self->size)
    return reject (connection,
                   "it reports a size of %" G_GINT64_FORMAT " bytes, expected %" G_GINT64_FORMAT,
                   connection->cr_total, self->size);
  if ((guint64) connection->cr_start != connection->request_start)
    return reject (connection,
                   "it sent bytes from %" G_GINT64_FORMAT " when %" G_GUINT64_FORMAT
                   " was asked for",
                   connection->cr_start, connection->request_start);
  if (!check_validators (connection))
    return FALSE;

  if (self->scheduler == NULL)
    {
      _atlas_download_set_layout (self, connection->cr_total, 0);
      connection->request_end = MIN (connection->request_end, (guint64) self->size);
    }
  if ((guint64) connection->cr_end + 1 != MIN (connection->request_end, (guint64) self->size))
    return reject (connection,
                   "it sent bytes up to %" G_GINT64_FORMAT " when %" G_GUINT64_FORMAT
                   " was the end asked for",
                   connection->cr_end, connection->request_end - 1);
  return TRUE;
}

/* The probe learned the layout: it becomes an ordinary claim of piece 0. */
static void
adopt_probe (AtlasDownload *self, Connection *connection)
{
  connection->range =
      atlas_scheduler_claim (self->scheduler, connection->source->index, 1, connection, NULL, NULL);
  /* A fresh scheduler always starts at piece 0, which is what the probe asked for. */
  g_assert (connection->range != NULL && connection->range->start == 0);
  connection->request_end =
      MIN (connection->request_end, _atlas_download_piece_end (self, connection->range->end - 1));
}

/* ---- receiving --------------------------------------------------------- */

void
_atlas_download_flush_block (AtlasDownload *self, Connection *connection)
{
  if (connection->block_fill == 0)
    return;
  atlas_piece_writer_write (self->writer, connection->stream, connection->block_offset,
                            g_steal_pointer (&connection->block), connection->block_fill);
  connection->block_fill = 0;
}

void
_atlas_download_append (AtlasDownload *self, Connection *connection, const char *data, gsize length)
{
  if (connection->copy != NULL)
    {
      g_byte_array_append (connection->copy, (const guint8 *) data, length);
      return;
    }
  while (length > 0)
    {
      gsize chunk;

      if (connection->block == NULL)
        {
          connection->block = g_malloc (BLOCK_SIZE);
          connection->block_offset = connection->pos;
          connection->block_fill = 0;
        }
      chunk = MIN (length, BLOCK_SIZE - connection->block_fill);
      memcpy (connection->block + connection->block_fill, data, chunk);
      connection->block_fill += chunk;
      connection->pos += chunk;
      data += chunk;
      length -= chunk;
      if (connection->block_fill == BLOCK_SIZE)
        _atlas_download_flush_block (self, connection);
    }
}

static void
note_piece_received (AtlasDownload *self, guint piece, Source *source)
{
  self->received_unchecked +=
      _atlas_download_piece_end (self, piece) - _atlas_download_piece_start (self, piece);
  self->piece_states[piece] = ATLAS_PIECE_WRITTEN;
  self->piece_sources[piece] = source->index;
  self->piece_map_changed = TRUE;
}

/* The connection has every byte of its piece in progress. */
gboolean
_atlas_download_piece_complete (AtlasDownload *self, Connection *connection)
{
  AtlasRange *range = connection->range;
  guint piece = range->next;
  AtlasRange *twin = range->twin;

  if (connection->copy != NULL)
    {
      /* The endgame copy won: the original stops, then the copy is written
       * after everything the original queued. */
      Connection *loser = twin != NULL ? twin->owner : NULL;
      guint64 offset = _atlas_download_piece_start (self, piece);
      gsize length = connection->copy->len;

      if (loser != NULL)
        _atlas_download_defer_cancel (self, loser);
      atlas_piece_writer_write (self->writer, connection->stream, offset,
                                g_byte_array_free (g_steal_pointer (&connection->copy), FALSE),
                                length);
    }
  else
    {
      _atlas_download_flush_block (self, connection);
      if (twin != NULL && twin->owner != NULL)
        _atlas_download_defer_cancel (self, twin->owner);
    }

  note_piece_received (self, piece, connection->source);
  return atlas_scheduler_piece_received (self->scheduler, range);
}

gboolean
_atlas_download_limiters_allow (AtlasDownload *self, gint64 now)
{
  AtlasRateLimiter *global = _atlas_session_get_limiter (self->session);
  gint64 delay;

  if (atlas_rate_limiter_may_receive (global, now)
      && atlas_rate_limiter_may_receive (&self->limiter, now))
    return TRUE;
  delay =
      MAX (atlas_rate_limiter_delay (global, now), atlas_rate_limiter_delay (&self->limiter, now));
  _atlas_session_wake_after (self->session, delay);
  return FALSE;
}

static size_t
write_cb (char *data, size_t size, size_t count, void *user_data)
{
  Connection *connection = user_data;
  AtlasDownload *self = connection->download;
  gsize length = size * count;
  gsize consumed = 0;
  gint64 now = g_get_monotonic_time ();

  if (connection->lost_race)
    return 0;
  /* An FTP size probe: libcurl hands us emulated headers, not file data. */
  if (connection->range == NULL && connection->source->is_ftp)
    return length;

  if (!connection->checked)
    {
      if (!check_response (self, connection))
        return 0;
      connection->checked = TRUE;
      if (self->writer == NULL)
        _atlas_download_open_storage (self);
      if (connection->range == NULL)
        adopt_probe (self, connection);
      connection->source->state = ATLAS_SOURCE_ACTIVE;
    }

  if (!_atlas_download_limiters_allow (self, now)
      || (self->writer != NULL && connection->copy == NULL
          && atlas_piece_writer_is_full (self->writer)))
    {
      if (self->writer != NULL && atlas_piece_writer_is_full (self->writer))
        self->waiting_for_writer = TRUE;
      connection->paused = TRUE;
      return CURL_WRITEFUNC_PAUSE;
    }
  atlas_rate_limiter_consume (_atlas_session_get_limiter (self->session), length);
  atlas_rate_limiter_consume (&self->limiter, length);

  connection->last_data = now;
  connection->received += length;
  connection->source->bytes += length;
  connection->source->consecutive_failures = 0;
  self->bytes_from_mirrors += length;

  while (consumed < length)
    {
      AtlasRange *range = connection->range;
      guint64 piece_end;
      gsize chunk;

      if (connection->pos >= connection->request_end)
        {
          reject (connection, "it sent more bytes than the range asked for");
          return 0;
        }
      if (range->next >= range->end)
        {
          /* Our range shrank (another connection took its tail) and is done. */
          connection->range_done = TRUE;
          return 0;
        }
      piece_end = _atlas_download_piece_end (self, range->next);
      chunk = MIN (length - consumed, piece_end - connection->pos);
      _atlas_download_append (self, connection, data + consumed, chunk);
      if (connection->copy != NULL)
        connection->pos += chunk;
      consumed += chunk;

      if (connection->pos == piece_end && _atlas_download_piece_complete (self, connection))
        {
          connection->range_done = TRUE;
          /* Let the response end by itself when it is exactly our range, so
           * the connection is kept alive for the next request. */
          if (consumed < length || connection->pos < connection->request_end)
            return 0;
        }
    }
  return length;
}

/* ---- ending a transfer ------------------------------------------------- */

void
_atlas_download_release_connection (AtlasDownload *self, Connection *connection)
{
  Source *source = connection->source;

  g_ptr_array_remove (self->connections, connection);
  if (connection->range != NULL && self->scheduler != NULL)
    atlas_scheduler_release (self->scheduler, connection->range);
  if (self->writer != NULL)
    atlas_piece_writer_end_stream (self->writer, connection->stream);
  source->connections--;
  /* Nothing of it is connecting or sending any more; a failure or a ban
   * recorded after the release sets the state that explains why. */
  if (source->connections == 0
      && (source->state == ATLAS_SOURCE_ACTIVE || source->state == ATLAS_SOURCE_CONNECTING))
    source->state = ATLAS_SOURCE_IDLE;
  if (self->session != NULL && connection->peer == NULL)
    _atlas_session_release_host (self->session, source->host_key);

  if (connection->easy != NULL)
    curl_easy_cleanup (connection->easy);
  curl_slist_free_all (connection->headers);
  g_free (connection->block);
  if (connection->copy != NULL)
    g_byte_array_unref (connection->copy);
  g_free (connection->etag);
  g_free (connection->last_modified);
  g_free (connection->reject);
  g_free (connection->failure);
  g_free (connection);
}

static gint64
backoff_delay (Source *source, gint64 retry_after)
{
  /* 0.5 s, 1 s, 2 s...: a dead mirror is given up within seconds, a busy one
   * may ask for longer with Retry-After. */
  gint64 delay = (G_USEC_PER_SEC / 2) << MIN (source->consecutive_failures - 1, 6);

  if (retry_after > 0)
    delay = MAX (delay, MIN (retry_after, 60) * G_USEC_PER_SEC);
  return MIN (delay, MAX_BACKOFF_US);
}

static void
record_failure (AtlasDownload *self, Source *source, const char *reason, gint64 retry_after)
{
  guint max_retries = atlas_settings_get_max_retries (atlas_session_get_settings (self->session));

  source->errors++;
  source->consecutive_failures++;
  g_free (source->last_error);
  source->last_error = g_strdup (reason);

  if (source->consecutive_failures > max_retries)
    {
      g_autofree char *why =
          g_strdup_printf ("gave up after %u attempts: %s", source->consecutive_failures, reason);
      _atlas_download_ban_source (self, source, ATLAS_SOURCE_DROPPED, why);
      return;
    }
  source->state = ATLAS_SOURCE_BACKING_OFF;
  source->retry_at = g_get_monotonic_time () + backoff_delay (source, retry_after);
  _atlas_download_log (
      self, G_LOG_LEVEL_MESSAGE, "%s: %s; retrying in %" G_GINT64_FORMAT " s", source->url, reason,
      (source->retry_at - g_get_monotonic_time () + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC);
}

/* Why a transfer ended, decided before the connection is released. Returns a
 * transient failure to retry, or NULL; a protocol violation is left in
 * connection->reject. */
static char *
classify_end (AtlasDownload *self, Connection *connection, CURLcode result)
{
  if (connection->reject != NULL || connection->lost_race)
    return NULL;
  if (connection->range_done)
    return NULL; /* we stopped it on purpose */
  if (result == CURLE_OK && connection->checked && connection->pos == connection->request_end)
    return NULL; /* the whole range arrived */
  if (connection->failure != NULL)
    return g_strdup (connection->failure);
  if (result != CURLE_OK)
    {
      g_autofree char *reason =
          g_strdup_printf ("%s%s%s", curl_easy_strerror (result),
                           connection->error_buffer[0] ? ": " : "", connection->error_buffer);
      /* A redirect loop or a redirect to a forbidden scheme is the server's
       * doing: retrying will not help. */
      if (result == CURLE_UNSUPPORTED_PROTOCOL && connection->https_only)
        {
          reject (connection,
                  "it redirected from https to an unencrypted or unknown URL, refused because "
                  "no hash checks this file (%s)",
                  reason);
          return NULL;
        }
      if (result == CURLE_TOO_MANY_REDIRECTS || result == CURLE_UNSUPPORTED_PROTOCOL)
        {
          reject (connection, "%s", reason);
          return NULL;
        }
      return g_steal_pointer (&reason);
    }
  if (!connection->checked)
    {
      /* An error status with an empty body never reached write_cb. */
      if (!check_response (self, connection) && connection->failure != NULL)
        return g_strdup (connection->failure);
      if (connection->reject == NULL)
        return g_strdup ("the response had no body");
      return NULL;
    }
  return g_strdup_printf ("the connection closed after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                          " bytes",
                          connection->pos - connection->request_start,
                          connection->request_end - connection->request_start);
}

static void
finish_connection (AtlasDownload *self, Connection *connection, CURLcode result)
{
  Source *source = connection->source;
  g_autofree char *failure = NULL;
  g_autofree char *rejection = NULL;
  gint64 retry_after = connection->retry_after;
  gboolean busy;

  g_debug ("download %" G_GUINT64_FORMAT ": %s ended (%s) at %" G_GUINT64_FORMAT "%s%s", self->id,
           source->url, curl_easy_strerror (result), connection->pos,
           connection->range_done ? ", range done" : "",
           connection->lost_race ? ", lost race" : "");

  if (connection->range == NULL && source->is_ftp && result == CURLE_OK)
    {
      curl_off_t length = -1;

      curl_easy_getinfo (connection->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length < 0)
        reject (connection, "the FTP server does not report the file size (SIZE)");
      else if (self->scheduler == NULL)
        {
          _atlas_download_set_layout (self, length, 0);
          _atlas_download_open_storage (self);
        }
      connection->range_done = TRUE;
    }

  if (connection->reject == NULL && !connection->lost_race && connection->range != NULL
      && connection->copy == NULL && connection->range->next < connection->range->end)
    _atlas_download_flush_block (self, connection);
  failure = classify_end (self, connection, result);
  rejection = g_steal_pointer (&connection->reject);
  busy = connection->status == 503 || connection->status == 429;

  /* Release first: banning a source cancels its other connections. */
  _atlas_download_release_connection (self, connection);
  if (rejection != NULL)
    _atlas_download_ban_source (self, source, ATLAS_SOURCE_DROPPED, rejection);
  else if (failure != NULL && busy && source->connections > 0)
    {
      /* "Busy" while our other connections to it work: the server limits
       * connections per client. Respect the limit; the mirror is fine. */
      if (source->connection_cap != source->connections)
        _atlas_download_log (self, G_LOG_LEVEL_INFO,
                             "%s allows %u connection%s at a time; using no more", source->url,
                             source->connections, source->connections == 1 ? "" : "s");
      source->connection_cap = source->connections;
    }
  else if (failure != NULL)
    record_failure (self, source, failure, retry_after);

  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

void
_atlas_download_cancel_connection (AtlasDownload *self, Connection *connection, const char *why)
{
  if (connection->peer != NULL)
    {
      _atlas_download_peer_end (self, connection, why);
      return;
    }
  atlas_curl_driver_remove (_atlas_session_get_driver (self->session), connection->easy);
  if (why != NULL)
    {
      connection->failure = g_strdup (why);
      finish_connection (self, connection, CURLE_OPERATION_TIMEDOUT);
      return;
    }
  if (connection->range != NULL && connection->copy == NULL && !connection->lost_race
      && connection->range->next < connection->range->end)
    _atlas_download_flush_block (self, connection);
  _atlas_download_release_connection (self, connection);
}

static gboolean
reap_cb (gpointer data)
{
  AtlasDownload *self = data;

  self->reap_source = 0;
  for (guint i = self->connections->len; i > 0; i--)
    {
      Connection *connection = g_ptr_array_index (self->connections, i - 1);
      if (connection->lost_race && connection->peer != NULL)
        _atlas_download_peer_lost_race (self, connection);
      else if (connection->lost_race)
        _atlas_download_cancel_connection (self, connection, NULL);
    }
  _atlas_download_schedule (self);
  return G_SOURCE_REMOVE;
}

void
_atlas_download_defer_cancel (AtlasDownload *self, Connection *connection)
{
  /* libcurl forbids removing a transfer from inside one of its callbacks,
   * which is where an endgame race is decided: stop the loser from an idle. */
  connection->lost_race = TRUE;
  if (self->reap_source == 0)
    self->reap_source = g_idle_add (reap_cb, self);
}

void
_atlas_download_cancel_transfers (AtlasDownload *self)
{
  for (guint i = self->connections->len; i > 0; i--)
    {
      Connection *connection = g_ptr_array_index (self->connections, i - 1);

      if (connection->peer != NULL)
        _atlas_download_peer_stop_fetching (self, connection);
      else
        _atlas_download_cancel_connection (self, connection, NULL);
    }
}

void
_atlas_download_cancel_all (AtlasDownload *self)
{
  while (self->connections->len > 0)
    {
      Connection *connection = g_ptr_array_index (self->connections, self->connections->len - 1);
      _atlas_download_cancel_connection (self, connection, NULL);
    }
}

void
_atlas_download_check_stalls (AtlasDownload *self, gint64 now)
{
  guint timeout = atlas_settings_get_stall_timeout (atlas_session_get_settings (self->session));
  /* Cancelling a connection can ban its source, which cancels the source's
   * other connections too: walk a copy, and skip those already gone (ASan
   * found the freed ones read when walking the live array). */
  g_autoptr (GPtrArray) snapshot = g_ptr_array_copy (self->connections, NULL, NULL);

  for (guint i = 0; i < snapshot->len; i++)
    {
      Connection *connection = g_ptr_array_index (snapshot, i);

      if (!g_ptr_array_find (self->connections, connection, NULL))
        continue;
      if (connection->peer != NULL)
        {
          _atlas_download_peer_check_stall (self, connection, now, timeout);
          continue;
        }
      /* A transfer we paused ourselves (speed limit, slow disk) is not stalled. */
      if (connection->paused)
        {
          connection->last_data = now;
          continue;
        }
      if (now - connection->last_data > (gint64) timeout * G_USEC_PER_SEC)
        {
          g_autofree char *why = g_strdup_printf ("stalled: no data for %u s", timeout);
          _atlas_download_cancel_connection (self, connection, why);
        }
    }
}

void
_atlas_download_unpause_transfers (AtlasDownload *self)
{
  AtlasCurlDriver *driver = _atlas_session_get_driver (self->session);
  g_autoptr (GPtrArray) paused = g_ptr_array_new ();

  /* Unpausing can deliver data and end transfers right away, which changes
   * self->connections: collect first. */
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->paused && connection->peer == NULL)
        g_ptr_array_add (paused, connection->easy);
    }
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->peer == NULL)
        connection->paused = FALSE;
    }
  for (guint i = 0; i < paused->len; i++)
    atlas_curl_driver_unpause (driver, g_ptr_array_index (paused, i));
  /* Peer links ask for more once unpaused; collected first for the same reason. */
  g_ptr_array_set_size (paused, 0);
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->paused && connection->peer != NULL)
        g_ptr_array_add (paused, connection);
    }
  for (guint i = 0; i < paused->len; i++)
    if (g_ptr_array_find (self->connections, g_ptr_array_index (paused, i), NULL))
      _atlas_download_peer_unpause (self, g_ptr_array_index (paused, i));
}
