/* atlas-curl-driver.h — libcurl's multi interface driven by a GMainContext.
 *
 * One GSource carries every socket libcurl asks us to watch (as unix fds) and
 * libcurl's single timer (as the source's ready time). No thread per
 * connection and no polling: the main loop wakes only when a socket is ready
 * or libcurl's timer is due.
 */
#pragma once

#include <curl/curl.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _AtlasCurlDriver AtlasCurlDriver;

/* Called on the driver's context when a transfer ends; the easy handle is
 * already out of the multi and belongs to the caller again. */
typedef void (*AtlasCurlDoneFunc) (CURL *easy, CURLcode result, gpointer user_data);

AtlasCurlDriver *atlas_curl_driver_new (GMainContext *context);
void atlas_curl_driver_free (AtlasCurlDriver *driver);
void atlas_curl_driver_add (AtlasCurlDriver *driver, CURL *easy, AtlasCurlDoneFunc done,
                            gpointer user_data);
/* Stops a transfer without calling its done function. */
void atlas_curl_driver_remove (AtlasCurlDriver *driver, CURL *easy);
/* Lets libcurl run a transfer that a write callback paused. */
void atlas_curl_driver_unpause (AtlasCurlDriver *driver, CURL *easy);

G_END_DECLS
