/* mirror-send.c: sending response bodies, throttled and mangled on demand.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "mirror.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large writes keep the copy path (mangled bytes) fast; sendfile() chunks
 * are capped only so that a huge body does not pin one syscall for long. */
#define MIRROR_COPY_CHUNK (1024 * 1024)
#define MIRROR_SENDFILE_CHUNK (64 * 1024 * 1024)

gboolean
mirror_send_all (int sock, const void *data, gsize len, gboolean more)
{
  const char *p = data;
  int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);

  while (len > 0)
    {
      ssize_t n = send (sock, p, len, flags);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
chunk_needs_mangling (const MirrorBody *body, guint64 offset, gsize len)
{
  if (body->xor_all)
    return TRUE;
  for (guint i = 0; i < body->n_corrupt; i++)
    if (offset <= body->corrupt[i].last && body->corrupt[i].first < offset + len)
      return TRUE;
  return FALSE;
}

static void
mangle (const MirrorBody *body, guint8 *buf, guint64 offset, gsize len)
{
  if (body->xor_all)
    for (gsize i = 0; i < len; i++)
      buf[i] ^= 0x5a;

  for (guint c = 0; c < body->n_corrupt; c++)
    {
      guint64 first = MAX (body->corrupt[c].first, offset);
      guint64 last = MIN (body->corrupt[c].last, offset + len - 1);

      for (guint64 o = first; o <= last; o++)
        buf[o - offset] ^= 0xff;
    }
}

static gboolean
send_copied (int sock, const MirrorBody *body, guint8 *buf, guint64 offset, gsize len)
{
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = pread (body->file_fd, buf + got, len - got, (off_t) (offset + got));
      if (n < 0 && errno == EINTR)
        continue;
      /* A file that shrank under us cannot honour the promised length;
       * the caller closes the connection. */
      if (n <= 0)
        return FALSE;
      got += (gsize) n;
    }

  mangle (body, buf, offset, len);
  return mirror_send_all (sock, buf, len, FALSE);
}

static gboolean
send_spliced (int sock, const MirrorBody *body, guint64 offset, gsize len)
{
  off_t off = (off_t) offset;

  while (len > 0)
    {
      ssize_t n = sendfile (sock, body->file_fd, &off, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Sends @body->length bytes starting at @body->offset, or stops at
 * @body->limit body bytes.  *@sent counts what reached the socket. */
MirrorSendResult
mirror_send_body (int sock, const MirrorBody *body, guint64 *sent)
{
  g_autofree guint8 *buf = NULL;

  *sent = 0;

  while (*sent < body->length)
    {
      guint64 offset = body->offset + *sent;
      gsize len = (gsize) MIN (body->length - *sent, MIRROR_SENDFILE_CHUNK);
      gboolean ok;

      if (*sent >= body->limit)
        return MIRROR_SEND_LIMIT;
      len = (gsize) MIN (len, body->limit - *sent);

      if (body->bucket != NULL)
        {
          len = MIN (len, mirror_bucket_chunk_size (body->bucket));
          mirror_bucket_consume (body->bucket, len);
        }

      if (chunk_needs_mangling (body, offset, len))
        {
          if (buf == NULL)
            buf = g_malloc (MIRROR_COPY_CHUNK);
          len = MIN (len, MIRROR_COPY_CHUNK);
          ok = send_copied (sock, body, buf, offset, len);
        }
      else
        ok = send_spliced (sock, body, offset, len);

      if (!ok)
        return MIRROR_SEND_ERROR;
      *sent += len;
    }

  return MIRROR_SEND_COMPLETE;
}
