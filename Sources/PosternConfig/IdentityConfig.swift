import Yams

/// `listen.tls`: TLS on the data-path listener. Paths are files the platform mounts
/// (spiffe-helper's, cert-manager's); they are re-read when they change.
public struct TLSSettings: Sendable, Equatable {
    public enum ClientCertificates: String, Sendable, CaseIterable { case none, optional, required }

    /// PEM chain, leaf first.
    public var certificate = ""
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    public var privateKey = ""
    /// `1.2` (default) or `1.3`.
    public var minimumVersion = "1.2"
    /// X.509-SVIDs from callers: `none`, `optional` (default; otherwise a token is needed)
    /// or `required`.
    public var clientCertificates = ClientCertificates.optional
    /// Also serve cleartext HTTP/1.1 and h2c on the same port (off by default).
    public var cleartext = false

    public init() {}
}

/// `identity`: who may call, proven by short-lived credentials only.
public struct IdentitySettings: Sendable, Equatable {
    /// Postern's own trust domain.
    public var trustDomain: String?
    /// X.509 bundles (PEM CA certificates) per trust domain, for client certificates;
    /// federated trust domains are simply more entries. Never pooled.
    public var x509Bundles: [String: String] = [:]
    public var jwtIssuers: [JWTIssuer] = []
    /// A token valid for longer than this (`exp - iat`) is a standing credential.
    public var maxTokenLifetime: Duration = .seconds(900)
    /// A client certificate valid for longer than this is refused the same way.
    public var maxCertificateLifetime: Duration = .seconds(86_400)
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    public var leeway: Duration = .seconds(30)
    /// How often credential files are checked for changes; a change is applied once the
    /// files have stayed the same for one more interval (spiffe-helper writes in steps).
    public var reloadInterval: Duration = .seconds(1)
    /// At start-up, how long to wait for credential files that do not exist yet (SPIRE
    /// issues the first SVID a moment after the pod starts); not ready meanwhile. 0: no wait.
    public var waitForCredentials: Duration = .seconds(120)

    public init() {}

    public var isEmpty: Bool { x509Bundles.isEmpty && jwtIssuers.isEmpty }
}

/// One source of bearer tokens.
public struct JWTIssuer: Sendable, Equatable {
    public enum Kind: String, Sendable { case jwtSVID = "jwt-svid", oidc }

    public var kind: Kind
    /// jwt-svid: a JWKS for `trustDomain`, or spiffe-helper's JWT bundle file (a JSON object
    /// of trust domain to base64 JWKS). oidc: the issuer's JWKS.
    public var keys: String
    /// The audience tokens must carry.
    public var audience: String
    /// jwt-svid with a plain JWKS: the trust domain it belongs to.
    public var trustDomain: String?
    /// oidc: the exact `iss` (required). jwt-svid: if set, the exact `iss` (optional there).
    public var issuer: String?
    /// oidc: the claim naming the caller (`sub`, `email`, …).
    public var identityClaim = "sub"
    /// OIDC: the claim listing the caller's groups, which `group:NAME` callers match.
    public var groupsClaim: String?

    public init(kind: Kind, keys: String, audience: String) {
        self.kind = kind
        self.keys = keys
        self.audience = audience
    }
}

extension TLSSettings {
    static func decode(_ node: Node, _ key: String, _ d: ConfigDecoder, base: String) -> TLSSettings? {
        let allowed: Set = ["certificate", "private_key", "min_version", "client_certificates", "cleartext"]
        guard let entries = d.mapping(node, key, allowed: allowed) else { return nil }
        var tls = TLSSettings()
        for (name, value) in entries {
            let path = "\(key).\(name)"
            switch name {
            case "certificate": tls.certificate = d.file(value, path, base: base) ?? ""
            case "private_key": tls.privateKey = d.file(value, path, base: base) ?? ""
            case "min_version":
                guard let text = d.string(value, path) else { continue }
                if text == "1.2" || text == "1.3" { tls.minimumVersion = text } else {
                    d.report(path, value, "expected 1.2 or 1.3, got '\(text)'")
                }
            case "client_certificates":
                if let mode = d.choice(value, path, ClientCertificates.self) { tls.clientCertificates = mode }
            case "cleartext":
                if let on = d.boolean(value, path) { tls.cleartext = on }
            default: break
            }
        }
        if tls.certificate.isEmpty || tls.privateKey.isEmpty {
            d.report(key, node, "TLS needs certificate and private_key")
            return nil
        }
        return tls
    }
}

extension IdentitySettings {
    mutating func decode(_ node: Node, _ d: ConfigDecoder, base: String) {
        let durations: [String: WritableKeyPath<IdentitySettings, Duration>] = [
            "max_token_lifetime": \.maxTokenLifetime, "max_certificate_lifetime": \.maxCertificateLifetime,
            "leeway": \.leeway, "reload_interval": \.reloadInterval,
            "wait_for_credentials": \.waitForCredentials,
        ]
        let allowed = Set(durations.keys).union(["trust_domain", "x509_bundles", "jwt_issuers"])
        for (name, value) in d.mapping(node, "identity", allowed: allowed) ?? [] {
            let path = "identity.\(name)"
            switch name {
            case "trust_domain": trustDomain = d.string(value, path)
            case "x509_bundles":
                for (domain, file) in d.mapping(value, path, allowed: nil) ?? [] {
                    if let file = d.file(file, "\(path).\(domain)", base: base) { x509Bundles[domain] = file }
                }
            case "jwt_issuers":
                for (index, entry) in (d.sequence(value, path) ?? []).enumerated() {
                    if let issuer = JWTIssuer.decode(entry, "\(path)[\(index)]", d, base: base) { jwtIssuers.append(issuer) }
                }
            default:
                if let field = durations[name], let v = d.parse(value, path, ConfigValues.duration) { self[keyPath: field] = v }
            }
        }
    }
}

extension JWTIssuer {
    static func decode(_ node: Node, _ key: String, _ d: ConfigDecoder, base: String) -> JWTIssuer? {
        let allowed: Set = ["kind", "bundle", "jwks", "audience", "trust_domain", "issuer", "identity_claim", "groups_claim"]
        guard let entries = d.mapping(node, key, allowed: allowed) else { return nil }
        var values: [String: String] = [:]
        for (name, value) in entries {
            guard let text = (name == "bundle" || name == "jwks") ? d.file(value, "\(key).\(name)", base: base)
                                                                   : d.string(value, "\(key).\(name)") else { return nil }
            values[name] = text
        }
        guard let kind = values["kind"].flatMap(Kind.init(rawValue:)) else {
            d.report("\(key).kind", node, "expected jwt-svid or oidc")
            return nil
        }
        let keysKey = kind == .jwtSVID ? "bundle" : "jwks"
        guard let keys = values[keysKey], let audience = values["audience"], !audience.isEmpty else {
            d.report(key, node, "a \(kind.rawValue) issuer needs \(keysKey) and audience")
            return nil
        }
        var issuer = JWTIssuer(kind: kind, keys: keys, audience: audience)
        issuer.trustDomain = values["trust_domain"]
        issuer.issuer = values["issuer"]
        if let claim = values["identity_claim"] { issuer.identityClaim = claim }
        issuer.groupsClaim = values["groups_claim"]
        if kind == .jwtSVID, values["groups_claim"] != nil {
            d.report(key, node, "groups_claim is for oidc")
            return nil
        }
        if kind == .oidc, issuer.issuer?.isEmpty ?? true {
            d.report(key, node, "an oidc issuer needs issuer (the exact iss of its tokens)")
            return nil
        }
        if kind == .jwtSVID, values["identity_claim"] != nil {
            d.report(key, node, "identity_claim is for oidc; a JWT-SVID's identity is its sub")
            return nil
        }
        return issuer
    }
}

extension ConfigDecoder {
    /// A file path; relative ones are relative to the configuration file's folder.
    func file(_ node: Node, _ key: String, base: String) -> String? {
        guard let text = string(node, key) else { return nil }
        guard !text.isEmpty else {
            report(key, node, "expected a file path")
            return nil
        }
        return text.hasPrefix("/") || base.isEmpty ? text : "\(base)/\(text)"
    }
}
