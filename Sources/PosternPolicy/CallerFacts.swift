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
        // spiffe://TRUST-DOMAIN/ns/NS/sa/SA[/…], read without splitting into an array.
        let utf8 = id.utf8
        guard utf8.starts(with: "spiffe://".utf8) else { return }
        var start = utf8.index(utf8.startIndex, offsetBy: 9)
        var found: (ns: Substring.UTF8View?, sa: Substring.UTF8View?) = (nil, nil)
        var position = 0
        while start < utf8.endIndex, position < 5 {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            let segment = Substring(id.utf8[start..<end]).utf8
            switch position {
            case 1: if !segment.elementsEqual("ns".utf8) { return }
            case 2: found.ns = segment
            case 3: if !segment.elementsEqual("sa".utf8) { return }
            case 4: found.sa = segment
            default: break
            }
            position += 1
            start = end == utf8.endIndex ? end : utf8.index(after: end)
        }
        guard let ns = found.ns, let sa = found.sa, !ns.isEmpty, !sa.isEmpty else { return }
        namespace = String(Substring(ns))
        serviceAccount = String(Substring(sa))
    }
}
