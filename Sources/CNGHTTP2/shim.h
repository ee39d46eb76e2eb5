// The one place Swift sees nghttp2. Only macros that Swift cannot import get adapters here.
#ifndef POSTERN_CNGHTTP2_SHIM_H
#define POSTERN_CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>

/// The 24-byte client connection preface, as a plain pointer Swift can read.
static inline const char *postern_nghttp2_client_magic(void) { return NGHTTP2_CLIENT_MAGIC; }
static inline size_t postern_nghttp2_client_magic_len(void) { return NGHTTP2_CLIENT_MAGIC_LEN; }

#endif
