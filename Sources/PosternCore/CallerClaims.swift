#if canImport(Glibc)
import Glibc
#endif

/// Request fields through which a caller proves or claims who it is, where it came from, or
/// which request it "really" made. They stop at Postern: the model server sees Postern's own
/// credential and the fields Postern sets (`x-forwarded-for`, `x-forwarded-proto`,
/// `forwarded`, optionally a caller header), never what a caller wrote there, because a
/// server behind a proxy tends to believe them.
///
/// Matched by exact name and by name prefix (`x-pomerium-` covers that proxy's whole
/// family); the configuration adds its own (`forwarding.drop_headers`).
public struct CallerClaims: Sendable {
    /// Credentials, and identity or address claims no proxy family owns.
    public static let builtInNames: [String] = [
        "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
        "x-access-token", "x-id-token", "x-user", "x-user-id", "x-user-email", "x-user-groups", "x-email",
        "forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "x-cluster-client-ip", "fastly-client-ip",
        "x-original-forwarded-for",
        // Path and method overrides some frameworks honour: they would undo classification.
        "x-original-url", "x-original-uri", "x-rewrite-url", "x-original-method",
        "x-http-method-override", "x-http-method", "x-method-override",
        // oauth2-proxy's basic-auth and signature fields.
        "gap-auth", "gap-signature",
        // Azure App Service client certificates.
        "x-arr-clientcert",
        "x-serverless-authorization",
    ]

    /// Whole families, by prefix.
    public static let builtInPrefixes: [String] = [
        "x-forwarded-",                 // -for, -proto, -host, -prefix, -user, -email, -groups, -client-cert, …
        "x-auth-request-",              // oauth2-proxy
        "x-remote-", "remote-",         // Kubernetes authenticating proxies, Authelia, Apache
        "x-envoy-", "x-istio-",         // Envoy and Istio internal fields
        "x-pomerium-",                  // Pomerium
        "x-amzn-", "x-apigateway-",     // AWS ALB (OIDC, mTLS), API Gateway
        "x-goog-authenticated-", "x-goog-iap-", "x-endpoint-api-userinfo",  // Google IAP, ESP
        "x-ms-client-principal", "x-ms-token-",                              // Azure App Service
        "cf-access-", "cf-connecting-ip",                                    // Cloudflare Access
        "x-ssl-client-", "ssl-client-", "x-client-cert", "x-client-verify", "x-client-dn",
        "tailscale-user-", "x-spiffe-",
        "x-postern-",                   // Postern's own, whatever a caller writes there
    ]

    /// Names and prefixes as bytes, by first byte: a header is compared with the few
    /// entries that start like it, byte by byte, on every request.
    private let byFirstByte: [[(bytes: [UInt8], isPrefix: Bool)]]

    /// The built-in families plus `patterns`: lowercase names, or prefixes ending in `*`.
    public init(adding patterns: [String] = []) {
        var table = [[(bytes: [UInt8], isPrefix: Bool)]](repeating: [], count: 256)
        func add(_ text: Substring, isPrefix: Bool) {
            guard let first = text.utf8.first else { return }
            table[Int(first)].append((Array(text.utf8), isPrefix))
        }
        for name in Self.builtInNames { add(name[...], isPrefix: false) }
        for prefix in Self.builtInPrefixes { add(prefix[...], isPrefix: true) }
        for pattern in patterns {
            if pattern.hasSuffix("*") { add(pattern.dropLast(), isPrefix: true) } else { add(pattern[...], isPrefix: false) }
        }
        self.byFirstByte = table
    }

    /// `name` is lowercase, as in `HeaderList`.
    public func isClaim(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            guard let first = bytes.first else { return false }
            for entry in byFirstByte[Int(first)] {
                let length = entry.bytes.count
                guard entry.isPrefix ? bytes.count >= length : bytes.count == length else { continue }
                if entry.bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, bytes.baseAddress!, length) == 0 }) {
                    return true
                }
            }
            return false
        }
    }

    /// Why `pattern` is not a usable entry of `forwarding.drop_headers`, or nil.
    public static func problem(with pattern: String) -> String? {
        let name = pattern.hasSuffix("*") ? pattern.dropLast() : pattern[...]
        if name.isEmpty { return "an empty pattern would drop every header" }
        let valid = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        return valid ? nil : "'\(pattern)': a lowercase header name, optionally ending in * (a prefix)"
    }
}
