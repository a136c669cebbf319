/* atlas-piece-writer.h — the thread that puts a download's bytes on disk.
 *
 * Connections hand over blocks in the order they received them; the writer
 * pwrite()s each at its offset and feeds it to that connection's running
 * piece hash, so a piece is checked the moment its last byte is written,
 * without reading it back. Verified pieces are fdatasync'ed in batches and only
 * then reported durable — the point at which the queue may record them.
 *
 * All callbacks run on the GMainContext given at creation.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-hash.h"

G_BEGIN_DECLS

typedef struct _AtlasPieceWriter AtlasPieceWriter;

typedef struct
{
  guint piece;
  guint stream;  /* the connection that delivered the piece */
  gboolean good; /* matched its expected hash (or none was expected) */
  guint8 digest[ATLAS_HASH_MAX_DIGEST];
} AtlasPieceResult;

typedef struct
{
  /* Pieces whose last byte was written, with their hash verdict. */
  void (*pieces_checked) (const AtlasPieceResult *results, guint n_results, gpointer user_data);
  /* Good pieces that are now durable on disk. */
  void (*pieces_durable) (const guint *pieces, guint n_pieces, gpointer user_data);
  /* The queue fell below the low-water mark after being full. */
  void (*drained) (gpointer user_data);
  /* Writing failed (disk full, I/O error); later data is discarded. */
  void (*failed) (const GError *error, gpointer user_data);
  /* The file did not exist and was created empty (reported first). */
  void (*created) (gpointer user_data);
  /* atlas_piece_writer_punch() ran: @errsv is 0 when the piece's blocks were
   * freed, else the errno (EOPNOTSUPP: the filesystem cannot punch holes). */
  void (*punched) (guint piece, int errsv, gpointer user_data);
} AtlasPieceWriterCallbacks;

/* Opens (creating) @path and preallocates @size bytes, on the writer thread.
 * @expected: n_pieces digests of @piece_type, or NULL to only record digests
 * (then @piece_type should be SHA-256). @sparse: only set the file's size,
 * allocating nothing (a partial download writes only some pieces). */
AtlasPieceWriter *atlas_piece_writer_new (const char *path, guint64 size, guint64 piece_length,
                                          AtlasHashType piece_type, GBytes *expected,
                                          gboolean sparse, GMainContext *context,
                                          const AtlasPieceWriterCallbacks *callbacks,
                                          gpointer user_data);

/* Queues @length bytes at @offset from @stream (@block is taken and freed
 * with g_free). A block must lie within one piece. */
void atlas_piece_writer_write (AtlasPieceWriter *writer, guint stream, guint64 offset,
                               guint8 *block, gsize length);
/* The stream stopped; a piece it left unfinished is forgotten. */
void atlas_piece_writer_end_stream (AtlasPieceWriter *writer, guint stream);

/* Frees @piece's disk blocks (FALLOC_FL_PUNCH_HOLE, size kept) once every
 * write queued for it so far is done; reported through punched(). */
void atlas_piece_writer_punch (AtlasPieceWriter *writer, guint piece);
/* The same on any descriptor, for callers on a worker thread: 0 or errno. */
int atlas_piece_writer_punch_hole (int fd, guint64 offset, guint64 length);

/* No more data is coming soon: sync what is verified once the queued blocks
 * are written, instead of waiting for the next batch. */
void atlas_piece_writer_sync_soon (AtlasPieceWriter *writer);

/* Bytes queued and not yet written. Above the high-water mark the caller
 * should pause its transfers; drained() tells when to resume. */
guint64 atlas_piece_writer_get_queued (AtlasPieceWriter *writer);
gboolean atlas_piece_writer_is_full (AtlasPieceWriter *writer);
/* Tests: called inside atlas_piece_writer_is_full() between its two looks at
 * the queue, to stand for the caller's thread being preempted there. */
void _atlas_piece_writer_set_full_check_hook (void (*hook) (AtlasPieceWriter *writer));

/* Writes everything queued, syncs, reports the last results and durable
 * pieces (synchronously, from this call), stops the thread and frees. */
void atlas_piece_writer_close (AtlasPieceWriter *writer);

G_END_DECLS
