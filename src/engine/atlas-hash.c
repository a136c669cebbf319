#include "atlas-hash.h"

#include <gnutls/crypto.h>
#include <string.h>

struct _AtlasHasher
{
  AtlasHashType type;
  gnutls_hash_hd_t handle;
};

static gnutls_digest_algorithm_t
to_gnutls (AtlasHashType type)
{
  switch (type)
    {
    case ATLAS_HASH_MD5:
      return GNUTLS_DIG_MD5;
    case ATLAS_HASH_SHA1:
      return GNUTLS_DIG_SHA1;
    case ATLAS_HASH_SHA256:
      return GNUTLS_DIG_SHA256;
    case ATLAS_HASH_SHA512:
      return GNUTLS_DIG_SHA512;
    case ATLAS_HASH_NONE:
    default:
      return GNUTLS_DIG_UNKNOWN;
    }
}

gsize
atlas_hash_type_digest_length (AtlasHashType type)
{
  switch (type)
    {
    case ATLAS_HASH_MD5:
      return 16;
    case ATLAS_HASH_SHA1:
      return 20;
    case ATLAS_HASH_SHA256:
      return 32;
    case ATLAS_HASH_SHA512:
      return 64;
    case ATLAS_HASH_NONE:
    default:
      return 0;
    }
}

const char *
atlas_hash_type_to_name (AtlasHashType type)
{
  switch (type)
    {
    case ATLAS_HASH_MD5:
      return "md5";
    case ATLAS_HASH_SHA1:
      return "sha-1";
    case ATLAS_HASH_SHA256:
      return "sha-256";
    case ATLAS_HASH_SHA512:
      return "sha-512";
    case ATLAS_HASH_NONE:
    default:
      return "none";
    }
}

AtlasHashType
atlas_hash_type_from_name (const char *name)
{
  char canonical[16];
  gsize n = 0;

  if (name == NULL)
    return ATLAS_HASH_NONE;

  /* Fold case and drop '-' and '_' so "SHA-256", "sha256" and "Sha_256" all match. */
  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '-' || *p == '_')
        continue;
      if (n + 1 >= sizeof canonical)
        return ATLAS_HASH_NONE;
      canonical[n++] = g_ascii_tolower (*p);
    }
  canonical[n] = '\0';

  if (strcmp (canonical, "md5") == 0)
    return ATLAS_HASH_MD5;
  if (strcmp (canonical, "sha1") == 0)
    return ATLAS_HASH_SHA1;
  if (strcmp (canonical, "sha256") == 0)
    return ATLAS_HASH_SHA256;
  if (strcmp (canonical, "sha512") == 0)
    return ATLAS_HASH_SHA512;
  return ATLAS_HASH_NONE;
}

AtlasHashType
atlas_hash_type_from_digest_length (gsize length)
{
  switch (length)
    {
    case 16:
      return ATLAS_HASH_MD5;
    case 20:
      return ATLAS_HASH_SHA1;
    case 32:
      return ATLAS_HASH_SHA256;
    case 64:
      return ATLAS_HASH_SHA512;
    default:
      return ATLAS_HASH_NONE;
    }
}

int
atlas_hash_type_strength (AtlasHashType type)
{
  /* SHA-256 ranks above SHA-512 on purpose: both are unbroken, and SHA-256 is the
   * one with hardware acceleration (SHA-NI) on the machines our users have. */
  switch (type)
    {
    case ATLAS_HASH_SHA256:
      return 4;
    case ATLAS_HASH_SHA512:
      return 3;
    case ATLAS_HASH_SHA1:
      return 2;
    case ATLAS_HASH_MD5:
      return 1;
    case ATLAS_HASH_NONE:
    default:
      return 0;
    }
}

AtlasHasher *
atlas_hasher_new (AtlasHashType type)
{
  AtlasHasher *hasher;

  g_return_val_if_fail (to_gnutls (type) != GNUTLS_DIG_UNKNOWN, NULL);

  hasher = g_new0 (AtlasHasher, 1);
  hasher->type = type;
  if (gnutls_hash_init (&hasher->handle, to_gnutls (type)) < 0)
    g_error ("GnuTLS cannot create a %s hash", atlas_hash_type_to_name (type));
  return hasher;
}

void
atlas_hasher_update (AtlasHasher *hasher, const void *data, gsize length)
{
  gnutls_hash (hasher->handle, data, length);
}

void
atlas_hasher_finish (AtlasHasher *hasher, guint8 *digest)
{
  /* gnutls_hash_output also resets the context, so the hasher can be reused. */
  gnutls_hash_output (hasher->handle, digest);
}

void
atlas_hasher_free (AtlasHasher *hasher)
{
  if (hasher == NULL)
    return;
  gnutls_hash_deinit (hasher->handle, NULL);
  g_free (hasher);
}

void
atlas_hash_buffer (AtlasHashType type, const void *data, gsize length, guint8 *digest)
{
  gnutls_hash_fast (to_gnutls (type), data, length, digest);
}

char *
atlas_hex_encode (const guint8 *bytes, gsize length)
{
  static const char digits[] = "0123456789abcdef";
  char *hex = g_malloc (length * 2 + 1);

  for (gsize i = 0; i < length; i++)
    {
      hex[2 * i] = digits[bytes[i] >> 4];
      hex[2 * i + 1] = digits[bytes[i] & 0xf];
    }
  hex[length * 2] = '\0';
  return hex;
}

gboolean
atlas_hex_decode (const char *hex, guint8 *bytes, gsize length)
{
  for (gsize i = 0; i < length; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = hi < 0 ? -1 : g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      bytes[i] = (guint8) (hi << 4 | lo);
    }
  return hex[length * 2] == '\0';
}
