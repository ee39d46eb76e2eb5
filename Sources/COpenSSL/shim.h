// The one place Swift sees OpenSSL 3. Function-like and ctrl macros that Swift cannot
// import are wrapped here as static inline functions.
#ifndef POSTERN_COPENSSL_SHIM_H
#define POSTERN_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/core_names.h>

static inline int postern_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline void postern_openssl_free(void *ptr) { OPENSSL_free(ptr); }
/// EVP_PKEY_fromdata's selection for a public key (a composite macro Swift cannot import).
static inline int postern_evp_pkey_public_key_selection(void) { return EVP_PKEY_PUBLIC_KEY; }
/// Parameter names for OSSL_PARAM_BLD, which keeps the name pointer: they must be static
/// C strings, never a Swift string bridged for the duration of one call.
static inline const char *postern_param_rsa_n(void) { return OSSL_PKEY_PARAM_RSA_N; }
static inline const char *postern_param_rsa_e(void) { return OSSL_PKEY_PARAM_RSA_E; }
static inline const char *postern_param_group_name(void) { return OSSL_PKEY_PARAM_GROUP_NAME; }
static inline const char *postern_param_public_key(void) { return OSSL_PKEY_PARAM_PUB_KEY; }

#endif
