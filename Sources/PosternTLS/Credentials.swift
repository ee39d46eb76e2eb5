import PosternJSON
import PosternConfig
import PosternCrypto
import PosternIdentity

/// Everything Postern proves identities with, loaded from files as one consistent set: the
/// TLS context (server certificate, key, client-certificate verifier) and the bearer-token
/// validators. A reload builds a whole new set or keeps the old one.
public final class Credentials: Sendable {
    public let tls: TLSServerContext?
    public let bearer: BearerAuthenticator
    public let leeway: Int64
    /// Each function's own credential for the model server, or why it cannot be used (that
    /// function's requests are then refused; the others are not affected).
    public let upstream: [String: Result<UpstreamCredential, UpstreamCredentialUnavailable>]
    /// Counts successful loads; caches of verified tokens are per generation.
    public let generation: Int
    /// The files this set was read from, and their stamps at the time.
    let files: [String: [Int64]]

    /// The admin listener's TLS (`admin.tls`): the same certificate, client certificates
    /// optional (an operator's X.509-SVID, or a token), HTTP/1.1 only.
    public let adminTLS: TLSServerContext?

    init(tls: TLSServerContext?, adminTLS: TLSServerContext? = nil, bearer: BearerAuthenticator, leeway: Int64,
         upstream: [String: Result<UpstreamCredential, UpstreamCredentialUnavailable>], generation: Int,
         files: [String: [Int64]]) {
        self.tls = tls
        self.adminTLS = adminTLS
        self.bearer = bearer
        self.leeway = leeway
        self.upstream = upstream
        self.generation = generation
        self.files = files
    }

    /// Loads every credential file `config` names; any problem fails the whole set.
    public static func load(_ config: PosternConfig, generation: Int = 1) -> Result<Credentials, CredentialProblems> {
        var loader = Loader(identity: config.identity)
        let verifier = loader.x509Verifier()
        var tls: TLSServerContext?, adminTLS: TLSServerContext?
        if let settings = config.tls {
            tls = loader.tlsContext(settings, verifier: verifier)
            if config.adminTLS {
                var admin = settings
                admin.clientCertificates = .optional
                adminTLS = loader.tlsContext(admin, verifier: verifier, http1Only: true)
            }
        }
        let bearer = loader.bearerAuthenticator()
        var upstream: [String: Result<UpstreamCredential, UpstreamCredentialUnavailable>] = [:]
        for (function, settings) in config.policy.upstreamCredentials {
            loader.stamps[settings.file] = TextFile.stamp(settings.file) ?? []
            upstream[function] = UpstreamCredential.load(settings, function: function)
        }
        guard loader.problems.isEmpty else {
            return .failure(CredentialProblems(problems: loader.problems, missing: loader.missing))
        }
        return .success(Credentials(tls: tls, adminTLS: adminTLS, bearer: bearer,
                                    leeway: Int64(config.identity.leeway.components.seconds),
                                    upstream: upstream, generation: generation, files: loader.stamps))
    }

    /// Why each function's upstream credential that cannot be used cannot, sorted.
    public var unavailableUpstreamCredentials: [String] {
        upstream.values.compactMap { result in
            if case .failure(let unavailable) = result { return unavailable.description }
            return nil
        }.sorted()
    }

    /// The current stamps of the files this set was read from, to compare with `files`.
    func stampsNow() -> [String: [Int64]] {
        var now: [String: [Int64]] = [:]
        for path in files.keys { now[path] = TextFile.stamp(path) ?? [] }
        return now
    }
}

/// Why credential files could not be used, one line per problem (`key: file: why`).
public struct CredentialProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    /// Files that do not exist (yet): at start-up, Postern waits for them.
    public var missing: [String] = []
    public var description: String { problems.joined(separator: "\n") }
}

private struct Loader {
    let identity: IdentitySettings
    var problems: [String] = []
    var missing: [String] = []
    var stamps: [String: [Int64]] = [:]

    init(identity: IdentitySettings) { self.identity = identity }

    mutating func read(_ path: String, _ key: String) -> [UInt8]? {
        stamps[path] = TextFile.stamp(path) ?? []
        switch TextFile.load(path) {
        case .success(let bytes):
            return bytes
        case .failure(let error):
            problems.append("\(key): \(path): cannot read the file: \(error)")
            if error.isMissing { missing.append(path) }
            return nil
        }
    }

    mutating func trustDomain(_ name: String, _ key: String) -> TrustDomain? {
        do {
            return try TrustDomain(name)
        } catch {
            problems.append("\(key): '\(name)' is not a trust domain name: \(error)")
            return nil
        }
    }

    mutating func x509Verifier() -> X509SVIDVerifier? {
        guard !identity.x509Bundles.isEmpty else { return nil }
        var bundles: [TrustDomain: TrustAnchors] = [:]
        for (name, path) in identity.x509Bundles.sorted(by: { $0.key < $1.key }) {
            let key = "identity.x509_bundles.\(name)"
            guard let domain = trustDomain(name, key), let pem = read(path, key) else { continue }
            do {
                bundles[domain] = try TrustAnchors(Certificate.parsePEM(pem))
            } catch {
                problems.append("\(key): \(path): \(error)")
            }
        }
        return X509SVIDVerifier(bundles: bundles, maxValidity: Int64(identity.maxCertificateLifetime.components.seconds))
    }

    mutating func tlsContext(_ settings: TLSSettings, verifier: X509SVIDVerifier?, http1Only: Bool = false) -> TLSServerContext? {
        guard let pem = read(settings.certificate, "listen.tls.certificate"),
              let key = read(settings.privateKey, "listen.tls.private_key") else { return nil }
        let chain: [Certificate]
        do {
            chain = try Certificate.parsePEM(pem)
        } catch {
            problems.append("listen.tls: \(settings.certificate): certificate: \(error)")
            return nil
        }
        // Without trust bundles there is nothing to verify a client certificate against.
        let mode = verifier == nil ? .none : settings.clientCertificates
        if let verifier, let problem = Self.unanchored(chain, verifier) {
            problems.append("listen.tls.certificate: \(settings.certificate): \(problem)")
            return nil
        }
        do {
            return try TLSServerContext(certificateChain: chain, privateKeyPEM: key,
                                        minimumVersion: settings.minimumVersion == "1.3" ? .tls13 : .tls12,
                                        clientCertificates: mode, verifier: verifier, http1Only: http1Only)
        } catch {
            problems.append("listen.tls: \(settings.certificate): \(error)")
            return nil
        }
    }

    /// Why the server's own chain verifies against none of the configured bundles (a torn
    /// or mismatched chain file, an expired certificate), or nil when one anchors it.
    static func unanchored(_ chain: [Certificate], _ verifier: X509SVIDVerifier) -> String? {
        guard !verifier.bundles.isEmpty else { return nil }
        var reasons: [String] = []
        for (domain, anchors) in verifier.bundles.sorted(by: { $0.key.name < $1.key.name }) {
            guard let failure = anchors.verify(chain[0], intermediates: Array(chain.dropFirst())) else { return nil }
            reasons.append("\(domain.name): \(failure.reason)")
        }
        return "does not chain to any trust bundle (" + reasons.joined(separator: "; ") + ")"
    }

    mutating func bearerAuthenticator() -> BearerAuthenticator {
        var svid: [JWTSVIDValidator] = []
        var oidc: [OIDCValidator] = []
        let leeway = Int64(identity.leeway.components.seconds)
        let maxLifetime = Int64(identity.maxTokenLifetime.components.seconds)
        for (index, issuer) in identity.jwtIssuers.enumerated() {
            let key = "identity.jwt_issuers[\(index)]"
            guard let bytes = read(issuer.keys, key) else { continue }
            switch issuer.kind {
            case .jwtSVID:
                guard let bundles = jwtBundles(bytes, issuer, key) else { continue }
                svid.append(JWTSVIDValidator(bundles: bundles, audience: issuer.audience, issuer: issuer.issuer,
                                             leeway: leeway, maxLifetime: maxLifetime))
            case .oidc:
                do {
                    var validator = OIDCValidator(issuer: issuer.issuer ?? "", audience: issuer.audience,
                                                  keys: try KeySet(jwks: bytes), identityClaim: issuer.identityClaim,
                                                  leeway: leeway, maxLifetime: maxLifetime)
                    validator.groupsClaim = issuer.groupsClaim
                    oidc.append(validator)
                } catch {
                    problems.append("\(key): \(issuer.keys): \(error)")
                }
            }
        }
        return BearerAuthenticator(jwtSVID: svid, oidc: oidc)
    }

    /// A JWKS for one trust domain, or spiffe-helper's file: `{"<trust domain>": "<base64 JWKS>"}`.
    mutating func jwtBundles(_ bytes: [UInt8], _ issuer: JWTIssuer, _ key: String) -> [TrustDomain: KeySet]? {
        guard let document = JSONValue.parse(bytes), case .object(let members) = document else {
            problems.append("\(key): \(issuer.keys): not a JSON object")
            return nil
        }
        do {
            if members["keys"] != nil {
                guard let name = issuer.trustDomain ?? identity.trustDomain else {
                    problems.append("\(key): a plain JWKS needs trust_domain (or identity.trust_domain)")
                    return nil
                }
                guard let domain = trustDomain(name, key) else { return nil }
                return [domain: try KeySet(jwks: bytes)]
            }
            var bundles: [TrustDomain: KeySet] = [:]
            for (name, value) in members {
                guard let domain = trustDomain(name, key) else { return nil }
                guard let encoded = value.string, let jwks = Base64URL.decodeStandard(encoded) else {
                    problems.append("\(key): \(issuer.keys): the bundle of '\(name)' is not base64")
                    return nil
                }
                bundles[domain] = try KeySet(jwks: jwks)
            }
            return bundles
        } catch {
            problems.append("\(key): \(issuer.keys): \(error)")
            return nil
        }
    }
}
