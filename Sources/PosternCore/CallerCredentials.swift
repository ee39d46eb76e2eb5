/// Request fields that carry a caller's credential or an identity claim. They stop at
/// Postern: the upstream sees Postern's own credential and identity headers Postern sets,
/// never what a caller sent (a forged `x-forwarded-client-cert` must not be believed).
public enum CallerCredentials {
    static let exact: Set<String> = [
        "authorization", "proxy-authorization",
        "x-forwarded-client-cert", "x-client-cert", "x-ssl-client-cert", "x-ssl-client-verify",
        "x-ssl-client-s-dn", "x-forwarded-user", "x-forwarded-email", "x-forwarded-groups",
        "x-auth-request-user", "x-auth-request-email", "x-remote-user", "remote-user",
    ]

    /// `name` is lowercase, as in `HeaderList`.
    public static func isCredential(_ name: String) -> Bool {
        exact.contains(name) || name.hasPrefix("x-postern-")
    }
}
