#ifndef POSTERN_CZLIB_SHIM_H
#define POSTERN_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro; Swift needs a function. windowBits 47 (32 + 15) reads
   both the gzip and the zlib wrapper, which is what gRPC's gzip and deflate mean. */
static inline int postern_inflate_init(z_stream *stream) {
    return inflateInit2(stream, 32 + 15);
}
#endif
