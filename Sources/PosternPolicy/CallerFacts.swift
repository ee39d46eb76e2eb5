/// What authorization knows of a caller: its verified identity and what that identity says
/// (a SPIFFE ID's Kubernetes namespace and service account, by the `/ns/NS/sa/SA` convention).
public struct CallerFacts: Sendable, Equatable {
    public var id: String
    public var namespace: String?
    public var serviceAccount: String?
    /// OIDC groups; a `group:NAME` caller pattern matches a caller in group NAME.
    public var groups: [String]

    public init(id: String, groups: [String] = []) {
        self.id = id
        self.groups = groups
        // spiffe://TRUST-DOMAIN/ns/NS/sa/SA[/…], read in place on the ID's bytes.
        var text = id
        let found: (ns: String, sa: String)? = text.withUTF8 { bytes in
            guard bytes.count > 9, bytes.starts(with: "spiffe://".utf8) else { return nil }
            var ns = 0..<0, sa = 0..<0
            var start = 9, position = 0
            while start <= bytes.count, position < 5 {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
                let segment = start..<end
                switch position {
                case 1: guard end - start == 2, bytes[start] == UInt8(ascii: "n"), bytes[start + 1] == UInt8(ascii: "s") else { return nil }
                case 2: ns = segment
                case 3: guard end - start == 2, bytes[start] == UInt8(ascii: "s"), bytes[start + 1] == UInt8(ascii: "a") else { return nil }
                case 4: sa = segment
                default: break
                }
                position += 1
                start = end + 1
            }
            guard position == 5, !ns.isEmpty, !sa.isEmpty else { return nil }
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            return (text(ns), text(sa))
        }
        namespace = found?.ns
        serviceAccount = found?.sa
    }
}
