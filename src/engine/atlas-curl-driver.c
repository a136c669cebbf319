#include "atlas-curl-driver.h"

typedef struct
{
  GSource source;
  AtlasCurlDriver *driver;
} CurlSource;

typedef struct
{
  AtlasCurlDoneFunc done;
  gpointer user_data;
} Transfer;

struct _AtlasCurlDriver
{
  CURLM *multi;
  GSource *source;
  GHashTable *sockets;   /* fd -> tag from g_source_add_unix_fd */
  GHashTable *transfers; /* CURL* -> Transfer* */
  gboolean in_dispatch;
  guint turn; /* which ready socket the next dispatch serves */
};

static void process_messages (AtlasCurlDriver *driver);

static int
compare_fds (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

static gboolean
curl_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  AtlasCurlDriver *driver = ((CurlSource *) source)->driver;
  g_autoptr (GArray) ready = g_array_new (FALSE, FALSE, sizeof (int) * 2);
  GHashTableIter iter;
  gpointer key, value;
  gint64 ready_time = g_source_get_ready_time (source);
  int running = 0;

  /* Collect first: socket_action may add or remove sockets while we iterate. */
  g_hash_table_iter_init (&iter, driver->sockets);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GIOCondition revents = g_source_query_unix_fd (source, value);
      int entry[2];

      if (revents == 0)
        continue;
      entry[0] = GPOINTER_TO_INT (key);
      entry[1] = ((revents & G_IO_IN) ? CURL_CSELECT_IN : 0)
                 | ((revents & G_IO_OUT) ? CURL_CSELECT_OUT : 0)
                 | ((revents & (G_IO_ERR | G_IO_HUP)) ? CURL_CSELECT_ERR : 0);
      g_array_append_val (ready, entry);
    }

  /* One socket per dispatch. At loopback speeds libcurl drains several MiB
   * from a socket in one call; serving every ready socket at once kept the
   * main loop busy for 15 ms (the app's window froze for a frame). The other
   * sockets stay ready, so the next iteration serves them, after whatever
   * else waits on the main loop. */
  driver->in_dispatch = TRUE;
  if (ready->len > 0)
    {
      int *entry;

      g_array_sort (ready, compare_fds);
      entry = &g_array_index (ready, int, (driver->turn++ % ready->len) * 2);
      curl_multi_socket_action (driver->multi, entry[0], entry[1], &running);
    }

  if (ready_time >= 0 && g_source_get_time (source) >= ready_time)
    {
      g_source_set_ready_time (source, -1);
      curl_multi_socket_action (driver->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  driver->in_dispatch = FALSE;

  process_messages (driver);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs curl_source_funcs = {
  .dispatch = curl_source_dispatch,
};

static int
socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  AtlasCurlDriver *driver = userp;
  gpointer tag = g_hash_table_lookup (driver->sockets, GINT_TO_POINTER (fd));
  GIOCondition condition = G_IO_ERR | G_IO_HUP;

  if (what == CURL_POLL_REMOVE)
    {
      if (tag != NULL)
        {
          g_source_remove_unix_fd (driver->source, tag);
          g_hash_table_remove (driver->sockets, GINT_TO_POINTER (fd));
        }
      return 0;
    }

  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    condition |= G_IO_IN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    condition |= G_IO_OUT;

  if (tag != NULL)
    g_source_modify_unix_fd (driver->source, tag, condition);
  else
    g_hash_table_insert (driver->sockets, GINT_TO_POINTER (fd),
                         g_source_add_unix_fd (driver->source, fd, condition));
  return 0;
}

static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
  AtlasCurlDriver *driver = userp;

  /* libcurl forbids calling socket_action from here; the ready time defers it
   * to the next dispatch of our source. */
  if (timeout_ms < 0)
    g_source_set_ready_time (driver->source, -1);
  else
    g_source_set_ready_time (driver->source,
                             g_source_get_time (driver->source) + (gint64) timeout_ms * 1000);
  return 0;
}

static void
process_messages (AtlasCurlDriver *driver)
{
  CURLMsg *message;
  int left;

  while ((message = curl_multi_info_read (driver->multi, &left)) != NULL)
    {
      CURL *easy = message->easy_handle;
      CURLcode result = message->data.result;
      Transfer *transfer;

      if (message->msg != CURLMSG_DONE)
        continue;

      transfer = g_hash_table_lookup (driver->transfers, easy);
      curl_multi_remove_handle (driver->multi, easy);
      if (transfer == NULL)
        continue;
      g_hash_table_steal (driver->transfers, easy);
      transfer->done (easy, result, transfer->user_data);
      g_free (transfer);
    }
}

AtlasCurlDriver *
atlas_curl_driver_new (GMainContext *context)
{
  AtlasCurlDriver *driver = g_new0 (AtlasCurlDriver, 1);

  driver->multi = curl_multi_init ();
  driver->sockets = g_hash_table_new (NULL, NULL);
  driver->transfers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  driver->source = g_source_new (&curl_source_funcs, sizeof (CurlSource));
  ((CurlSource *) driver->source)->driver = driver;
  g_source_set_name (driver->source, "[atlas] libcurl");
  g_source_attach (driver->source, context);

  curl_multi_setopt (driver->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt (driver->multi, CURLMOPT_SOCKETDATA, driver);
  curl_multi_setopt (driver->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt (driver->multi, CURLMOPT_TIMERDATA, driver);
  /* Our own scheduler decides how many connections each host gets. */
  curl_multi_setopt (driver->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt (driver->multi, CURLMOPT_MAXCONNECTS, 256L);
  return driver;
}

void
atlas_curl_driver_free (AtlasCurlDriver *driver)
{
  GHashTableIter iter;
  gpointer easy;

  if (driver == NULL)
    return;

  g_hash_table_iter_init (&iter, driver->transfers);
  while (g_hash_table_iter_next (&iter, &easy, NULL))
    curl_multi_remove_handle (driver->multi, easy);
  g_hash_table_destroy (driver->transfers);

  curl_multi_cleanup (driver->multi);
  g_source_destroy (driver->source);
  g_source_unref (driver->source);
  g_hash_table_destroy (driver->sockets);
  g_free (driver);
}

void
atlas_curl_driver_add (AtlasCurlDriver *driver, CURL *easy, AtlasCurlDoneFunc done,
                       gpointer user_data)
{
  Transfer *transfer = g_new0 (Transfer, 1);
  CURLMcode code;

  transfer->done = done;
  transfer->user_data = user_data;
  g_hash_table_insert (driver->transfers, easy, transfer);
  code = curl_multi_add_handle (driver->multi, easy);
  if (code != CURLM_OK)
    g_critical ("curl_multi_add_handle: %s", curl_multi_strerror (code));
}

void
atlas_curl_driver_remove (AtlasCurlDriver *driver, CURL *easy)
{
  if (g_hash_table_remove (driver->transfers, easy))
    curl_multi_remove_handle (driver->multi, easy);
}

void
atlas_curl_driver_unpause (AtlasCurlDriver *driver, CURL *easy)
{
  if (g_hash_table_contains (driver->transfers, easy))
    curl_easy_pause (easy, CURLPAUSE_CONT);
}
