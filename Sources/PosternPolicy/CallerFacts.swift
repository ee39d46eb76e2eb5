/// What authorization knows of a caller: its verified identity and what that identity says
/// (a SPIFFE ID's Kubernetes namespace and service account, by the `/ns/NS/sa/SA` convention).
public struct CallerFacts: Sendable, Equatable {
    public var id: String
    public var namespace: String?
    public var serviceAccount: String?

    public init(id: String) {
        self.id = id
        let parts = id.hasPrefix("spiffe://") ? id.dropFirst("spiffe://".count).split(separator: "/") : []
        // trust domain, "ns", NS, "sa", SA
        if parts.count >= 5, parts[1] == "ns", parts[3] == "sa" {
            namespace = String(parts[2])
            serviceAccount = String(parts[4])
        }
    }
}
