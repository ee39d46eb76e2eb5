import PosternCore
import PosternTLS

/// When the credentials Postern holds run out, for `/metrics`: an alert fires before a
/// certificate or a bundle expires, not after.
enum CredentialMetrics {
    static func exposition(_ credentials: Credentials?, now: Int64) -> String {
        var text = PrometheusText()
        guard let credentials else { return "" }
        text.family("postern_serving_certificate_expiry_seconds", "gauge",
                    "Seconds until the serving certificate (Postern's own X.509-SVID) expires.")
        if let expiry = credentials.tls?.certificateExpiry {
            text.sample("postern_serving_certificate_expiry_seconds", "", expiry - now)
        }
        text.family("postern_trust_bundle_expiry_seconds", "gauge",
                    "Seconds until the first CA certificate of a trust domain's X.509 bundle expires.")
        for (domain, anchors) in (credentials.tls?.verifier?.bundles ?? [:]).sorted(by: { $0.key.name < $1.key.name }) {
            if let first = anchors.certificates.compactMap({ $0.validity?.notAfter }).min() {
                text.sample("postern_trust_bundle_expiry_seconds", "trust_domain=\(text.label(domain.name))", first - now)
            }
        }
        text.family("postern_upstream_credential_up", "gauge",
                    "Whether a function's own upstream credential could be read (0: its requests are refused).")
        for (function, result) in credentials.upstream.sorted(by: { $0.key < $1.key }) {
            let up = if case .success = result { 1 } else { 0 }
            text.sample("postern_upstream_credential_up", "function=\(text.label(function))", up)
        }
        text.family("postern_credentials_generation", "gauge", "How many times the credential files have been loaded.")
        text.sample("postern_credentials_generation", "", credentials.generation)
        return text.text
    }
}
