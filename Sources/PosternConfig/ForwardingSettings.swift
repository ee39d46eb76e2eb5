import PosternCore
import Yams

/// What Postern adds to and removes from a request on its way to the model server.
///
/// YAML keys under `forwarding`:
/// - `drop_headers`: more caller fields to drop, beyond the built-in identity, address and
///   override families (`CallerClaims`): lowercase names, or prefixes ending in `*`.
/// - `caller_header`: a field in which Postern tells the model server who called (the
///   verified SPIFFE ID or OIDC identity), e.g. `x-postern-caller`. Off unless set; a
///   value a caller sends in it is always dropped.
public struct ForwardingSettings: Sendable, Equatable {
    public var dropHeaders: [String] = []
    public var callerHeader: String?

    public init() {}

    /// What the data path drops beyond the built-in families: `drop_headers` and the caller
    /// header itself.
    public var claimPatterns: [String] { dropHeaders + (callerHeader.map { [$0] } ?? []) }

    mutating func decode(_ node: Node, _ d: ConfigDecoder) {
        for (key, value) in d.mapping(node, "forwarding", allowed: ["drop_headers", "caller_header"]) ?? [] {
            let path = "forwarding.\(key)"
            if key == "drop_headers" {
                for (index, entry) in (d.sequence(value, path) ?? []).enumerated() {
                    guard let pattern = d.string(entry, "\(path)[\(index)]") else { continue }
                    if let problem = CallerClaims.problem(with: pattern) {
                        d.report("\(path)[\(index)]", entry, problem)
                    } else {
                        dropHeaders.append(pattern)
                    }
                }
            } else if let name = d.string(value, path) {
                if name.hasSuffix("*") || CallerClaims.problem(with: name) != nil {
                    d.report(path, value, "a lowercase header name, e.g. x-postern-caller")
                } else {
                    callerHeader = name
                }
            }
        }
    }
}
