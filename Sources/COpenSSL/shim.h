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
#include <openssl/bn.h>

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

/* Stacks are macros over OPENSSL_sk_*; these give Swift typed access. */
static inline int postern_general_names_count(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
/// The URI of the i-th subjectAltName entry, or NULL when that entry is not a URI.
static inline const ASN1_IA5STRING *postern_general_name_uri(const GENERAL_NAMES *names, int i) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    return name != NULL && name->type == GEN_URI ? name->d.uniformResourceIdentifier : NULL;
}
static inline STACK_OF(X509) *postern_x509_stack_new(void) { return sk_X509_new_null(); }
static inline int postern_x509_stack_push(STACK_OF(X509) *stack, X509 *cert) { return sk_X509_push(stack, cert); }
static inline void postern_x509_stack_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }
static inline int postern_x509_stack_count(const STACK_OF(X509) *stack) { return stack == NULL ? 0 : sk_X509_num(stack); }
static inline X509 *postern_x509_stack_value(const STACK_OF(X509) *stack, int i) { return sk_X509_value(stack, i); }
static inline unsigned int postern_ku_cert_or_crl_sign(void) { return KU_KEY_CERT_SIGN | KU_CRL_SIGN; }
static inline unsigned int postern_ku_digital_signature(void) { return KU_DIGITAL_SIGNATURE; }
static inline unsigned int postern_exflag_ca(void) { return EXFLAG_CA; }

/* TLS server context helpers (ctrl macros). */
static inline long postern_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) { return SSL_CTX_add1_chain_cert(ctx, cert); }
static inline long postern_ssl_ctx_disable_session_cache(SSL_CTX *ctx) { return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); }
/// SNI for a client connection (a ctrl macro).
static inline long postern_ssl_set_server_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
/// No renegotiation, no resumption (every connection proves its identity afresh), and
/// the server's cipher order.
static inline void postern_ssl_ctx_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
}
static inline int postern_ssl_set_app_data(SSL *ssl, void *data) { return SSL_set_app_data(ssl, data); }
static inline void *postern_ssl_get_app_data(const SSL *ssl) { return SSL_get_app_data(ssl); }
/// The TLS connection a certificate verification runs for.
static inline SSL *postern_store_ctx_ssl(X509_STORE_CTX *ctx) {
    return (SSL *)X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
}

/// ALPN (RFC 7301): h2 if the client offers it, else http/1.1; a client that offers
/// neither gets the no_application_protocol alert. Written in C because OpenSSL calls it.
static int postern_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                               const unsigned char *in, unsigned int inlen, void *arg) {
    /* arg set: HTTP/1.1 only (the admin listener). */
    static const unsigned char supported[] = "\x02h2\x08http/1.1";
    const unsigned char *offered = arg ? supported + 3 : supported;
    unsigned int offeredLength = arg ? sizeof(supported) - 4 : sizeof(supported) - 1;
    unsigned char *selected = NULL;
    unsigned char length = 0;
    (void)ssl;
    if (SSL_select_next_proto(&selected, &length, offered, offeredLength, in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    *outlen = length;
    return SSL_TLSEXT_ERR_OK;
}
static inline void postern_ssl_ctx_use_alpn(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, postern_alpn_select, NULL); }
static inline void postern_ssl_ctx_use_alpn_http1(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, postern_alpn_select, (void *)1); }

#endif
