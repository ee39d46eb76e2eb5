/// Who a function or rule is for: an exact identity (a SPIFFE ID or an OIDC identity), or a
/// pattern that ends in `/*` and covers every ID under that path, by whole segments
/// (`spiffe://prod.example.org/ns/app/*` covers `…/ns/app/sa/web`, not `…/ns/application`).
/// A pattern is anchored at its trust domain: it must name one. `group:NAME` names an OIDC
/// group (from the issuer's `groups_claim`).
public enum CallerPattern: Hashable, Sendable, CustomStringConvertible {
    case exact(String)
    /// The text before `*`, ending in `/`.
    case under(String)

    public init?(_ text: String) {
        if text.hasSuffix("/*") {
            let base = String(text.dropLast())
            // `spiffe://td/*` at least: a trust domain, then the path.
            guard base.hasPrefix("spiffe://"), base.dropFirst("spiffe://".count).dropLast().count > 0,
                  !base.dropFirst("spiffe://".count).dropLast().contains("*") else { return nil }
            self = .under(base)
        } else {
            guard !text.isEmpty, !text.contains("*"), text != "group:" else { return nil }
            self = .exact(text)
        }
    }

    public func covers(_ id: String) -> Bool {
        switch self {
        case .exact(let exact): id == exact
        case .under(let base): id.utf8.count > base.utf8.count && id.utf8.starts(with: base.utf8)
        }
    }

    public var description: String {
        switch self {
        case .exact(let id): id
        case .under(let base): base + "*"
        }
    }
}
