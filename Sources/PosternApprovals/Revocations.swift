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
/// patterns by a running hash of each ancestor path of the identity (no string is built
/// per request).
public struct RevocationList: Sendable {
    private var exact: [Revocation.Subject: Revocation] = [:]
    /// Pattern bases by the FNV-1a hash of their bytes (collisions are checked byte for byte).
    private var patterns: [UInt64: [(base: String, revocation: Revocation)]] = [:]

    public init(_ revocations: [Revocation] = []) {
        for var revocation in revocations {
            switch revocation.subject {
            case .pattern(let base): patterns[Self.hash(base.utf8), default: []].append((base, revocation))
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
        if let found = exact[.identity(identity)], found.inForce(at: now) { return found }
        if let tokenID, let found = exact[.tokenID(tokenID)], found.inForce(at: now) { return found }
        if let certificateSerial, let found = exact[.certificateSerial(certificateSerial.lowercased())], found.inForce(at: now) {
            return found
        }
        return patterns.isEmpty ? nil : pattern(stopping: identity, at: now)
    }

    /// A pattern `scheme://…/` that is a proper ancestor path of `identity`.
    private func pattern(stopping identity: String, at now: Int64) -> Revocation? {
        let bytes = identity.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), bytes[colon...].starts(with: "://".utf8) else { return nil }
        let pathStart = bytes.index(colon, offsetBy: 3)
        var hash = Self.offsetBasis
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            hash = (hash ^ UInt64(byte)) &* Self.prime
            index = bytes.index(after: index)
            guard byte == UInt8(ascii: "/"), index > pathStart, index < bytes.endIndex, let entries = patterns[hash] else { continue }
            for entry in entries where entry.revocation.inForce(at: now) && bytes[..<index].elementsEqual(entry.base.utf8) {
                return entry.revocation
            }
        }
        return nil
    }

    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    static func hash(_ bytes: String.UTF8View) -> UInt64 {
        bytes.reduce(offsetBasis) { ($0 ^ UInt64($1)) &* prime }
    }
}
