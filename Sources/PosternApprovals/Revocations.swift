/// Identities and credentials that may no longer be used, whatever the rules say: an exact
/// identity, every identity under a `spiffe://td/path/*` pattern, a token id (`jti`) or a
/// certificate serial, each optionally only until a time.
public struct Revocation: Sendable, Equatable {
    public enum Subject: Sendable, Hashable {
        case identity(String)
        /// The text before `*`, ending in `/`.
        case pattern(String)
        case tokenID(String)
        case certificateSerial(String)
    }

    public var subject: Subject
    public var reason: String
    public var by: String
    public var at: Int64
    /// Lifted at this time, if set.
    public var until: Int64?

    public init(subject: Subject, reason: String, by: String, at: Int64, until: Int64? = nil) {
        self.subject = subject
        self.reason = reason
        self.by = by
        self.at = at
        self.until = until
    }

    public func inForce(at now: Int64) -> Bool { now >= at && until.map { now < $0 } ?? true }
}

/// The revocations in force, looked up per request without a scan: hashed by subject, and
/// patterns by each ancestor path of the identity.
public struct RevocationList: Sendable {
    private var exact: [Revocation.Subject: Revocation] = [:]
    private var patterns: [String: Revocation] = [:]

    public init(_ revocations: [Revocation] = []) {
        for var revocation in revocations {
            switch revocation.subject {
            case .pattern(let base): patterns[base] = revocation
            case .certificateSerial(let serial):
                // Serials are hex: one spelling, whatever case the operator typed.
                revocation.subject = .certificateSerial(serial.lowercased())
                exact[revocation.subject] = revocation
            default: exact[revocation.subject] = revocation
            }
        }
    }

    public var isEmpty: Bool { exact.isEmpty && patterns.isEmpty }

    /// The revocation that stops this caller now, if any.
    public func stopping(identity: String, tokenID: String?, certificateSerial: String?, at now: Int64) -> Revocation? {
        guard !isEmpty else { return nil }
        var candidates: [Revocation?] = [exact[.identity(identity)]]
        if let tokenID { candidates.append(exact[.tokenID(tokenID)]) }
        if let certificateSerial { candidates.append(exact[.certificateSerial(certificateSerial.lowercased())]) }
        if !patterns.isEmpty, let colon = identity.firstIndex(of: ":"), identity[colon...].hasPrefix("://") {
            var index = identity.index(colon, offsetBy: 3)
            while let slash = identity[index...].firstIndex(of: "/") {
                let ancestor = identity[...slash]
                if ancestor.endIndex < identity.endIndex { candidates.append(patterns[String(ancestor)]) }
                index = identity.index(after: slash)
            }
        }
        return candidates.lazy.compactMap { $0 }.first { $0.inForce(at: now) }
    }
}
