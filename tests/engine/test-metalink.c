/* test-metalink.c — Metalink 4 documents, friendly and hostile. */
#include "atlas-error.h"
#include "atlas-metalink.h"

#include <string.h>

#define ML4_OPEN "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">"
#define ML4_CLOSE "</metalink>"
#define SHA256_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA256_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"

static char *
fixture_path (const char *name)
{
  const char *fixtures = g_getenv ("ATLAS_FIXTURES");

  if (fixtures == NULL)
    fixtures = g_test_build_filename (G_TEST_DIST, "..", "fixtures", NULL);
  return g_build_filename (fixtures, "metalink", name, NULL);
}

static AtlasMetalink *
parse_fixture (const char *name, GError **error)
{
  g_autofree char *path = fixture_path (name);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) read_error = NULL;

  if (!g_file_get_contents (path, &contents, &length, &read_error))
    g_error ("cannot read fixture %s: %s", path, read_error->message);
  return atlas_metalink_parse (contents, length, error);
}

static AtlasMetalink *
parse_text (const char *text, GError **error)
{
  return atlas_metalink_parse (text, strlen (text), error);
}

static const AtlasMetalinkUrl *
url_at (const AtlasMetalinkFile *file, guint index)
{
  return g_ptr_array_index (file->urls, index);
}

static void
test_metalink_valid_multi_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_fixture ("valid-multi.meta4", &error);
  const AtlasMetalinkFile *iso;
  const AtlasMetalinkFile *readme;
  const AtlasChecksum *strongest;
  const guint8 *pieces;
  gsize pieces_length = 0;
  guint8 expected_first_piece[32];

  g_assert_no_error (error);
  g_assert_cmpuint (metalink->files->len, ==, 2);

  iso = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpstr (iso->name, ==, "atlas-1.0.iso");
  g_assert_cmpint (iso->size, ==, 2621440);
  g_assert_cmpstr (iso->identity, ==, "Atlas Linux");
  g_assert_cmpstr (iso->version, ==, "1.0");
  g_assert_cmpstr (iso->description, ==, "Atlas Linux 1.0 & friends <installer> édition ☃");

  /* The blake3 hash is skipped, not an error. */
  g_assert_cmpuint (iso->hashes->len, ==, 2);
  strongest = atlas_checksum_pick_strongest (iso->hashes);
  g_assert_cmpint (strongest->type, ==, ATLAS_HASH_SHA256);

  g_assert_cmpint (iso->piece_type, ==, ATLAS_HASH_SHA256);
  g_assert_cmpuint (iso->piece_length, ==, 1048576);
  g_assert_cmpuint (iso->n_pieces, ==, 3);
  pieces = g_bytes_get_data (iso->piece_digests, &pieces_length);
  g_assert_cmpuint (pieces_length, ==, 3 * 32);
  atlas_hash_buffer (ATLAS_HASH_SHA256, "a", 1, expected_first_piece);
  g_assert_cmpmem (pieces, 32, expected_first_piece, 32);

  /* Priority 1 first, then 2 in document order, then unprioritised; the
   * rsync URL is dropped and the metaurl is not a URL. */
  g_assert_cmpuint (iso->urls->len, ==, 4);
  g_assert_cmpstr (url_at (iso, 0)->url, ==, "https://mirror.us.example.com/atlas/atlas-1.0.iso");
  g_assert_cmpuint (url_at (iso, 0)->priority, ==, 1);
  g_assert_cmpstr (url_at (iso, 0)->location, ==, "us");
  g_assert_cmpstr (url_at (iso, 1)->url, ==, "http://ftp.de.example.org/pub/atlas-1.0.iso");
  g_assert_cmpstr (url_at (iso, 1)->location, ==, "de");
  g_assert_cmpstr (url_at (iso, 2)->url, ==, "ftp://ftp.fr.example.org/atlas/atlas-1.0.iso");
  g_assert_cmpuint (url_at (iso, 2)->priority, ==, 2);
  g_assert_cmpstr (url_at (iso, 3)->url, ==, "https://fallback.example.net/atlas-1.0.iso");
  g_assert_cmpuint (url_at (iso, 3)->priority, ==, 0);
  g_assert_null (url_at (iso, 3)->location);

  readme = g_ptr_array_index (metalink->files, 1);
  g_assert_cmpstr (readme->name, ==, "docs/README & notes.txt");
  g_assert_cmpint (readme->size, ==, 1000);
  g_assert_cmpint (readme->piece_type, ==, ATLAS_HASH_NONE);
  g_assert_cmpuint (readme->hashes->len, ==, 1);
  g_assert_cmpint (g_array_index (readme->hashes, AtlasChecksum, 0).type, ==, ATLAS_HASH_SHA1);
  g_assert_cmpstr (url_at (readme, 0)->url, ==,
                   "https://example.org/README.txt?download=1&lang=en");
}

static void
test_metalink_prefixed_namespace (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_fixture ("prefixed-namespace.meta4", &error);
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpstr (file->name, ==, "tool.tar.gz");
  g_assert_cmpint (file->size, ==, 0);
  g_assert_cmpstr (file->description, ==, "Built <nightly> & unsigned");
}

static void
assert_fixture_fails (const char *name, int code, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_fixture (name, &error);

  g_assert_null (metalink);
  g_assert_error (error, ATLAS_ERROR, code);
  if (strstr (error->message, mentions) == NULL)
    g_error ("error for %s does not mention “%s”: %s", name, mentions, error->message);
}

static void
assert_text_fails (const char *text, int code, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_text (text, &error);

  g_assert_null (metalink);
  g_assert_error (error, ATLAS_ERROR, code);
  if (strstr (error->message, mentions) == NULL)
    g_error ("error does not mention “%s”: %s", mentions, error->message);
}

static void
test_metalink_entities_refused (void)
{
  assert_fixture_fails ("hostile-billion-laughs.meta4", ATLAS_ERROR_UNSAFE_INPUT, "DOCTYPE");
  assert_fixture_fails ("hostile-xxe.meta4", ATLAS_ERROR_UNSAFE_INPUT, "DOCTYPE");
  /* An entity used without any declaration is merely malformed. */
  assert_text_fails (ML4_OPEN "<file name=\"a\"><description>&lol;</description>"
                              "<url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "lol");
}

static void
test_metalink_unsafe_names (void)
{
  assert_fixture_fails ("hostile-traversal.meta4", ATLAS_ERROR_UNSAFE_INPUT, "../../etc/passwd");
  assert_fixture_fails ("hostile-absolute.meta4", ATLAS_ERROR_UNSAFE_INPUT, "/etc/passwd");
  assert_text_fails (ML4_OPEN "<file name=\"\"><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_UNSAFE_INPUT, "empty");
  assert_text_fails (ML4_OPEN "<file><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "no name");
}

static void
test_metalink_control_characters_in_names (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_text (
      ML4_OPEN "<file name=\"evil&#10;name&#x1;.txt\"><description>&#27;[31mred</description>"
               "<url>https://h/a</url></file>" ML4_CLOSE,
      &error);
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpstr (file->name, ==, "evil_name_.txt");
  /* A terminal escape in a description is dropped before the CLI can print it. */
  g_assert_cmpstr (file->description, ==, "[31mred");
}

/* XML reads "\r\n" and "\r" as "\n"; a description in CDATA (where GMarkup
 * leaves them) must read the same as in escaped text, or it changes when
 * to_xml writes it back out. */
static void
test_metalink_line_ends (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = parse_text (
      ML4_OPEN "<file name=\"a\"><description><![CDATA[one\r\ntwo\rthree\n]]>four</description>"
               "<url>https://h/a</url></file>" ML4_CLOSE,
      &error);
  g_autoptr (AtlasMetalink) reparsed = NULL;
  g_autofree char *xml = NULL;
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpstr (file->description, ==, "one\ntwo\nthree\nfour");
  xml = atlas_metalink_to_xml (metalink);
  reparsed = parse_text (xml, &error);
  g_assert_no_error (error);
  file = g_ptr_array_index (reparsed->files, 0);
  g_assert_cmpstr (file->description, ==, "one\ntwo\nthree\nfour");
}

static void
test_metalink_sizes (void)
{
  assert_fixture_fails ("hostile-size.meta4", ATLAS_ERROR_UNSAFE_INPUT, "limit");
  assert_text_fails (ML4_OPEN "<file name=\"a\"><size>2251799813685248</size>"
                              "<url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_UNSAFE_INPUT, "2251799813685248");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><size>-1</size><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "negative");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><size>12kB</size><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "12kB");
  assert_text_fails (ML4_OPEN "<file name=\"a\"><size>1</size><size>2</size>"
                              "<url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "more than one <size>");
}

static void
test_metalink_pieces (void)
{
  assert_fixture_fails ("bad-piece-count.meta4", ATLAS_ERROR_INVALID_INPUT, "3 piece hashes");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><pieces type=\"sha-256\" length=\"0\"><hash>" SHA256_A
                     "</hash></pieces><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "piece length is 0");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><pieces type=\"sha-256\" length=\"99999999999999999999\">"
                     "<hash>" SHA256_A "</hash></pieces><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_UNSAFE_INPUT, "piece length");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><pieces type=\"sha-256\" length=\"1\"><hash>abcd</hash>"
                     "</pieces><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "not 64 hex digits");
  assert_text_fails (ML4_OPEN "<file name=\"a\"><hash type=\"sha-256\">" SHA256_A "00</hash>"
                              "<url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "not 64 hex digits");
  assert_text_fails (ML4_OPEN "<file name=\"a\"><pieces type=\"sha-256\"><hash>" SHA256_A "</hash>"
                              "</pieces><url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "no length");
}

static void
test_metalink_pieces_unknown_type_skipped (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink =
      parse_text (ML4_OPEN "<file name=\"a\"><size>2</size>"
                           "<pieces type=\"tiger\" length=\"1\"><hash>zz</hash></pieces>"
                           "<pieces type=\"sha-256\" length=\"1\"><hash>" SHA256_A
                           "</hash><hash>" SHA256_B "</hash></pieces>"
                           "<url>https://h/a</url></file>" ML4_CLOSE,
                  &error);
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpint (file->piece_type, ==, ATLAS_HASH_SHA256);
  g_assert_cmpuint (file->n_pieces, ==, 2);
  g_assert_cmpuint (file->piece_length, ==, 1);
}

/* ATLAS_METALINK_MAX_PIECES cannot be reached inside a 16 MiB document (a piece
 * hash element takes at least 45 bytes), so what is checked here is the case
 * the size cannot check: pieces of a file whose size is not given. */
static void
test_metalink_pieces_without_size (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink =
      parse_text (ML4_OPEN "<file name=\"a\"><pieces type=\"sha-256\" length=\"4096\">"
                           "<hash>" SHA256_A "</hash><hash>" SHA256_B "</hash><hash>" SHA256_A
                           "</hash></pieces>"
                           "<url>https://h/a</url></file>" ML4_CLOSE,
                  &error);
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpint (file->size, ==, -1);
  g_assert_cmpuint (file->n_pieces, ==, 3);
  g_assert_cmpuint (g_bytes_get_size (file->piece_digests), ==, 3 * 32);

  /* Pieces that add up to more than ATLAS_METALINK_MAX_SIZE are refused. */
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><pieces type=\"sha-256\" length=\"1125899906842624\">"
                     "<hash>" SHA256_A "</hash><hash>" SHA256_B "</hash></pieces>"
                     "<url>https://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_UNSAFE_INPUT, "larger than the limit");
}

static void
test_metalink_urls (void)
{
  assert_text_fails (ML4_OPEN "<file name=\"a\"><size>1</size></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "no <url>");
  assert_text_fails (ML4_OPEN "<file name=\"a\"><url>file:///etc/passwd</url>"
                              "<url>javascript:alert(1)</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "no http, https or ftp URL");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><metaurl mediatype=\"torrent\">https://h/a.torrent</metaurl>"
                     "</file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "no <url>");
}

static void
test_metalink_too_many_urls (void)
{
  g_autoptr (GString) text = g_string_new (ML4_OPEN "<file name=\"a\">");

  for (guint i = 0; i <= ATLAS_METALINK_MAX_URLS; i++)
    g_string_append_printf (text, "<url>https://mirror%u.example/a</url>", i);
  g_string_append (text, "</file>" ML4_CLOSE);
  assert_text_fails (text->str, ATLAS_ERROR_UNSAFE_INPUT, "more than 1000 URLs");
}

static void
test_metalink_too_many_files (void)
{
  g_autoptr (GString) text = g_string_new (ML4_OPEN);

  for (guint i = 0; i <= ATLAS_METALINK_MAX_FILES; i++)
    g_string_append_printf (text, "<file name=\"f%u\"><url>http://h/%u</url></file>", i, i);
  g_string_append (text, ML4_CLOSE);
  assert_text_fails (text->str, ATLAS_ERROR_UNSAFE_INPUT, "more than 10000 files");
}

static void
test_metalink_duplicate_names (void)
{
  /* "a/./b" and "a//b" sanitise to the same file. */
  assert_text_fails (ML4_OPEN "<file name=\"a/./b\"><url>http://h/1</url></file>"
                              "<file name=\"a//b\"><url>http://h/2</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "more than once");
}

static void
test_metalink_broken_documents (void)
{
  assert_fixture_fails ("truncated.meta4", ATLAS_ERROR_INVALID_INPUT, "not well-formed");
  assert_fixture_fails ("metalink3.meta4", ATLAS_ERROR_INVALID_INPUT,
                        "Metalink 3 is not supported");
  assert_text_fails ("", ATLAS_ERROR_INVALID_INPUT, "empty");
  assert_text_fails ("  \n\t ", ATLAS_ERROR_INVALID_INPUT, "empty");
  assert_text_fails ("<metalink/>", ATLAS_ERROR_INVALID_INPUT, "not a Metalink 4 document");
  assert_text_fails ("<rss xmlns=\"urn:ietf:params:xml:ns:metalink\"/>", ATLAS_ERROR_INVALID_INPUT,
                     "“rss”");
  assert_text_fails (ML4_OPEN ML4_CLOSE, ATLAS_ERROR_INVALID_INPUT, "no <file>");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><url>http://h/a</url></file>" ML4_CLOSE ML4_OPEN ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "more than one root element");
  assert_text_fails ("garbage", ATLAS_ERROR_INVALID_INPUT, "not well-formed");
  /* GMarkup would quote the bad bytes in its message; ours says where they are. */
  assert_text_fails (ML4_OPEN "<file name=\"caf\xe9\"><url>http://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "not valid UTF-8 (at byte 65)");
  assert_text_fails (ML4_OPEN
                     "<file name=\"a\"><size>1\x01</size><url>http://h/a</url></file>" ML4_CLOSE,
                     ATLAS_ERROR_INVALID_INPUT, "\\x01");
}

static void
test_metalink_deep_nesting (void)
{
  g_autoptr (GString) text = g_string_new (ML4_OPEN);

  for (int i = 0; i < 100000; i++)
    g_string_append (text, "<x>");
  assert_text_fails (text->str, ATLAS_ERROR_UNSAFE_INPUT, "nests elements more than 32 deep");
}

static void
test_metalink_huge_document (void)
{
  gsize length = 20 * 1024 * 1024;
  g_autofree char *text = g_malloc (length);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = NULL;

  memset (text, ' ', length);
  memcpy (text, ML4_OPEN, strlen (ML4_OPEN));
  metalink = atlas_metalink_parse (text, length, &error);
  g_assert_null (metalink);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT);
  g_assert_nonnull (strstr (error->message, "20971520 bytes"));
}

static void
test_metalink_unknown_elements_ignored (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink =
      parse_text ("\xef\xbb\xbf<?xml version=\"1.0\"?>" ML4_OPEN
                  "<future attr=\"1\"><file name=\"not-a-file\"/></future>"
                  "<file name=\"a\" xmlns:x=\"urn:example\">"
                  "<x:url>https://ignored.example/a</x:url>"
                  "<os>Linux</os><language>en</language><copyright>© 2026</copyright>"
                  "<url>https://h/a</url></file>" ML4_CLOSE,
                  &error);
  const AtlasMetalinkFile *file;

  g_assert_no_error (error);
  g_assert_cmpuint (metalink->files->len, ==, 1);
  file = g_ptr_array_index (metalink->files, 0);
  g_assert_cmpstr (file->name, ==, "a");
  g_assert_cmpint (file->size, ==, -1);
  g_assert_cmpuint (file->urls->len, ==, 1);
  g_assert_cmpstr (url_at (file, 0)->url, ==, "https://h/a");
}

static void
assert_files_equal (const AtlasMetalinkFile *a, const AtlasMetalinkFile *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpint (a->size, ==, b->size);
  g_assert_cmpuint (a->hashes->len, ==, b->hashes->len);
  for (guint i = 0; i < a->hashes->len; i++)
    g_assert_true (atlas_checksum_equal (&g_array_index (a->hashes, AtlasChecksum, i),
                                         &g_array_index (b->hashes, AtlasChecksum, i)));
  g_assert_cmpint (a->piece_type, ==, b->piece_type);
  g_assert_cmpuint (a->piece_length, ==, b->piece_length);
  g_assert_cmpuint (a->n_pieces, ==, b->n_pieces);
  if (a->piece_digests != NULL)
    g_assert_true (g_bytes_equal (a->piece_digests, b->piece_digests));
  g_assert_cmpuint (a->urls->len, ==, b->urls->len);
  for (guint i = 0; i < a->urls->len; i++)
    {
      g_assert_cmpstr (url_at (a, i)->url, ==, url_at (b, i)->url);
      g_assert_cmpuint (url_at (a, i)->priority, ==, url_at (b, i)->priority);
      g_assert_cmpstr (url_at (a, i)->location, ==, url_at (b, i)->location);
    }
  g_assert_cmpstr (a->description, ==, b->description);
  g_assert_cmpstr (a->version, ==, b->version);
  g_assert_cmpstr (a->identity, ==, b->identity);
}

static void
test_metalink_to_xml_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) parsed = parse_fixture ("valid-multi.meta4", &error);
  g_autoptr (AtlasMetalink) built = atlas_metalink_new ();
  g_autoptr (AtlasMetalink) reparsed = NULL;
  g_autoptr (AtlasMetalink) rebuilt = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *built_xml = NULL;
  AtlasMetalinkFile *file = atlas_metalink_file_new ();
  AtlasMetalinkUrl *url = g_new0 (AtlasMetalinkUrl, 1);
  AtlasChecksum checksum;

  g_assert_no_error (error);
  xml = atlas_metalink_to_xml (parsed);
  g_assert_nonnull (strstr (xml, "urn:ietf:params:xml:ns:metalink"));
  g_assert_nonnull (strstr (xml, "README &amp; notes.txt"));
  reparsed = parse_text (xml, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reparsed->files->len, ==, parsed->files->len);
  for (guint i = 0; i < parsed->files->len; i++)
    assert_files_equal (g_ptr_array_index (parsed->files, i),
                        g_ptr_array_index (reparsed->files, i));

  /* A document built in code, as `atlas publish` does, with text that needs escaping. */
  file->name = g_strdup ("Tom & Jerry's 'best' &lt;cut&gt;.bin");
  file->size = 5;
  file->description = g_strdup ("5 < 6 && \"x\" > 'y'");
  g_assert_true (atlas_checksum_parse ("sha256:" SHA256_A, &checksum, NULL));
  g_array_append_val (file->hashes, checksum);
  url->url = g_strdup ("https://h/a?x=1&y=<2>");
  url->priority = 7;
  url->location = g_strdup ("nz");
  g_ptr_array_add (file->urls, url);
  g_ptr_array_add (built->files, file);

  built_xml = atlas_metalink_to_xml (built);
  rebuilt = parse_text (built_xml, &error);
  g_assert_no_error (error);
  assert_files_equal (file, g_ptr_array_index (rebuilt->files, 0));
}

static void
test_metalink_find_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) several =
      parse_text (ML4_OPEN "<file name=\"sub/image.iso\"><url>http://h/1</url></file>"
                           "<file name=\"image.iso\"><url>http://h/2</url></file>"
                           "<file name=\"docs/readme.txt\"><url>http://h/3</url></file>" ML4_CLOSE,
                  &error);
  g_autoptr (AtlasMetalink) single = NULL;
  g_autoptr (AtlasMetalink) empty = atlas_metalink_new ();
  const AtlasMetalinkFile *found;

  g_assert_no_error (error);

  /* The exact name wins over an earlier <file> with the same basename. */
  found = atlas_metalink_find_file (several, "image.iso");
  g_assert_nonnull (found);
  g_assert_cmpstr (found->name, ==, "image.iso");
  /* A path on disk is matched by its basename first... */
  found = atlas_metalink_find_file (several, "/home/someone/Downloads/image.iso");
  g_assert_cmpstr (found->name, ==, "image.iso");
  /* ...or as a whole when it is the name in the document. */
  found = atlas_metalink_find_file (several, "sub/image.iso");
  g_assert_cmpstr (found->name, ==, "sub/image.iso");
  /* A name in a folder of the document is found by its basename. */
  found = atlas_metalink_find_file (several, "/tmp/readme.txt");
  g_assert_cmpstr (found->name, ==, "docs/readme.txt");
  /* With several files, a name the document does not know matches none. */
  g_assert_null (atlas_metalink_find_file (several, "image-renamed.iso"));

  /* With one file, a renamed copy still belongs to it. */
  single = parse_text (ML4_OPEN "<file name=\"image.iso\"><url>http://h/1</url></file>" ML4_CLOSE,
                       &error);
  g_assert_no_error (error);
  found = atlas_metalink_find_file (single, "/tmp/image-renamed.iso");
  g_assert_nonnull (found);
  g_assert_cmpstr (found->name, ==, "image.iso");

  g_assert_null (atlas_metalink_find_file (empty, "image.iso"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/metalink/valid-multi-file", test_metalink_valid_multi_file);
  g_test_add_func ("/metalink/prefixed-namespace", test_metalink_prefixed_namespace);
  g_test_add_func ("/metalink/entities-refused", test_metalink_entities_refused);
  g_test_add_func ("/metalink/unsafe-names", test_metalink_unsafe_names);
  g_test_add_func ("/metalink/control-characters-in-names",
                   test_metalink_control_characters_in_names);
  g_test_add_func ("/metalink/line-ends", test_metalink_line_ends);
  g_test_add_func ("/metalink/sizes", test_metalink_sizes);
  g_test_add_func ("/metalink/pieces", test_metalink_pieces);
  g_test_add_func ("/metalink/pieces-unknown-type-skipped",
                   test_metalink_pieces_unknown_type_skipped);
  g_test_add_func ("/metalink/pieces-without-size", test_metalink_pieces_without_size);
  g_test_add_func ("/metalink/urls", test_metalink_urls);
  g_test_add_func ("/metalink/too-many-urls", test_metalink_too_many_urls);
  g_test_add_func ("/metalink/too-many-files", test_metalink_too_many_files);
  g_test_add_func ("/metalink/duplicate-names", test_metalink_duplicate_names);
  g_test_add_func ("/metalink/broken-documents", test_metalink_broken_documents);
  g_test_add_func ("/metalink/deep-nesting", test_metalink_deep_nesting);
  g_test_add_func ("/metalink/huge-document", test_metalink_huge_document);
  g_test_add_func ("/metalink/unknown-elements-ignored", test_metalink_unknown_elements_ignored);
  g_test_add_func ("/metalink/to-xml-round-trip", test_metalink_to_xml_round_trip);
  g_test_add_func ("/metalink/find-file", test_metalink_find_file);

  return g_test_run ();
}
