import PosternCrypto
import PosternIdentity

/// What a caller presents as its identity: bearer tokens, the key sets they are checked
/// with, SPIFFE IDs and X.509 certificates. Nothing a fuzzer writes can carry a valid
/// signature, so whatever parses must still be refused.
enum IdentityTargets {
    /// A P-256 public key (its private half was never kept): the bundle bearer tokens are
    /// checked against.
    static let jwks = """
    {"keys":[{"kty":"EC","crv":"P-256","x":"8p8Btvh8_RdkrEtCsHnHGmKnx-2XpZbAwl-TCXwkiN8",\
    "y":"NcCJusMaubfc4YuV6sMP8rL4d2pyhMYOpcWUHfBtecE","kid":"k1","use":"jwt-svid"}]}
    """

    /// A CA for spiffe://example.org (its key was not kept either).
    static let caPEM = """
    -----BEGIN CERTIFICATE-----
    MIIBvjCCAWSgAwIBAgIUfRiyLTotJk3FRu+1SLz5bDzmBYMwCgYIKoZIzj0EAwIw
    GjEYMBYGA1UECgwPcG9zdGVybiBmdXp6IENBMCAXDTI2MTIwNDE4NTY1OVoYDzIx
    MjYxMTEwMTg1NjU5WjAaMRgwFgYDVQQKDA9wb3N0ZXJuIGZ1enogQ0EwWTATBgcq
    hkjOPQIBBggqhkjOPQMBBwNCAAQmLJdUa9NTfmXUESc4botqJP8/1yKylUN3yuoB
    fHARqUshmIRUt0FCT9VMKXOGfrqKa1FhrG4jUbFx1/ZDNzGdo4GFMIGCMB0GA1Ud
    DgQWBBSMo+NtJwObEVdM0UxVtd761ObnwTAfBgNVHSMEGDAWgBSMo+NtJwObEVdM
    0UxVtd761ObnwTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAfBgNV
    HREEGDAWhhRzcGlmZmU6Ly9leGFtcGxlLm9yZzAKBggqhkjOPQQDAgNIADBFAiEA
    9Hlm+Pfjd56VMlWIWnEBOje+jl/Lfp961S0ByhS5z+ICIA27EEE5T3KeoN2JgVq8
    0Ct43BJF9Uzd1l2CmT+CR4AZ
    -----END CERTIFICATE-----

    """

    static let domain = try! TrustDomain("example.org")
    static let validator = JWTSVIDValidator(bundles: [domain: try! KeySet(jwks: Array(jwks.utf8))],
                                            audience: "spiffe://example.org/postern")
    static let verifier = X509SVIDVerifier(
        bundles: [domain: try! TrustAnchors(Certificate.parsePEM(Array(caPEM.utf8)))], maxValidity: 1 << 40)

    static let all = [
        FuzzTarget(name: "jwt", summary: "a bearer token (JWS compact form), parsed and validated") { input in
            let token = String(decoding: input, as: UTF8.self)
            _ = try? CompactJWS(token, allowed: Set(JWSAlgorithm.allCases))
            if (try? validator.validate(token, now: 1_800_000_000)) != nil { violated("an unsigned token is refused") }
        },
        FuzzTarget(name: "jwks", summary: "a JWT bundle (JWKS) as a bundle file or an OIDC issuer serves it") { input in
            guard let set = try? KeySet(jwks: input) else { return }
            _ = set.candidates(for: "k1")
            _ = set.candidates(for: nil)
        },
        FuzzTarget(name: "spiffe-id", summary: "a SPIFFE ID, as a token subject or a certificate URI names it") { input in
            guard let id = try? SPIFFEID(String(decoding: input, as: UTF8.self)) else { return }
            guard let again = try? SPIFFEID(id.description), again == id else { violated("a SPIFFE ID reads back as itself") }
        },
        FuzzTarget(name: "x509", summary: "a client certificate (DER), as X.509-SVID verification reads it") { input in
            let base64 = Array(Base64URL.encodeStandard(input))
            let lines = stride(from: 0, to: base64.count, by: 64).map { String(base64[$0..<min($0 + 64, base64.count)]) }
            let pem = "-----BEGIN CERTIFICATE-----\n" + lines.joined(separator: "\n") + "\n-----END CERTIFICATE-----\n"
            guard let chain = try? Certificate.parsePEM(Array(pem.utf8)) else { return }
            let sans = chain[0].uriSANs
            _ = chain[0].isCA
            _ = chain[0].canSignCertificates
            if let principal = try? verifier.verify(chain: chain, now: 1_800_000_000), !sans.contains(principal.id) {
                violated("a verified X.509-SVID is named by its URI SAN")
            }
        },
    ]
}
