import COpenSSL
import PosternCrypto
import PosternIdentity

/// The outcome of one connection's client-certificate check, filled in by OpenSSL's
/// verification callback during the handshake.
final class PeerVerification {
    let verifier: X509SVIDVerifier?
    var principal: Principal?
    var failure: SVIDError?

    init(verifier: X509SVIDVerifier?) { self.verifier = verifier }
}

/// Replaces OpenSSL's chain verification with the SPIFFE rules: the chain is checked
/// against the bundle of the trust domain the leaf names, never a pooled store. A refusal
/// sets an X509_V_ERR code so OpenSSL sends the matching alert.
let verifyPeerChain: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { storeContext, _ in
    guard let storeContext, let ssl = postern_store_ctx_ssl(storeContext),
          let state = postern_ssl_get_app_data(ssl) else { return 0 }
    let verification = Unmanaged<PeerVerification>.fromOpaque(state).takeUnretainedValue()
    guard let verifier = verification.verifier, let leaf = X509_STORE_CTX_get0_cert(storeContext) else {
        X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
    // The untrusted stack is the peer's whole chain, leaf included.
    var chain = [Certificate(retaining: leaf)]
    let sent = X509_STORE_CTX_get0_untrusted(storeContext)
    for index in 0..<postern_x509_stack_count(sent) {
        if let certificate = postern_x509_stack_value(sent, index), certificate != leaf {
            chain.append(Certificate(retaining: certificate))
        }
    }
    do throws(SVIDError) {
        verification.principal = try verifier.verify(chain: chain)
        return 1
    } catch {
        verification.failure = error
        X509_STORE_CTX_set_error(storeContext, alertCode(for: error))
        return 0
    }
}

private func alertCode(for error: SVIDError) -> Int32 {
    switch error {
    case .chain(let failure) where failure.isExpired: X509_V_ERR_CERT_HAS_EXPIRED  // certificate_expired
    case .chain(let failure) where failure.isNotYetValid: X509_V_ERR_CERT_NOT_YET_VALID
    case .chain, .untrustedTrustDomain: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY  // unknown_ca
    default: X509_V_ERR_CERT_REJECTED  // bad_certificate
    }
}
