/// The kinds of sensitive value Postern recognises, with the label a redaction shows.
public enum EntityKind: String, Sendable, CaseIterable, Hashable {
    case creditCard = "credit_card"
    case usSSN = "us_ssn"
    case email
    case phone
    case iban
    case ipAddress = "ip_address"
    case awsKey = "aws_key"
    case githubToken = "github_token"
    case slackToken = "slack_token"
    case jwt
    case privateKey = "private_key"
    /// An operator-defined pattern; its name is in `Entity.name`.
    case custom

    public var label: String {
        redaction.withUTF8Buffer { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) }
    }

    /// What `redact` writes: the label in brackets.
    var redaction: StaticString {
        switch self {
        case .creditCard: "[CREDIT_CARD]"
        case .usSSN: "[US_SSN]"
        case .email: "[EMAIL]"
        case .phone: "[PHONE]"
        case .iban: "[IBAN]"
        case .ipAddress: "[IP_ADDRESS]"
        case .awsKey: "[AWS_KEY]"
        case .githubToken: "[GITHUB_TOKEN]"
        case .slackToken: "[SLACK_TOKEN]"
        case .jwt: "[JWT]"
        case .privateKey: "[PRIVATE_KEY]"
        case .custom: "[REDACTED]"
        }
    }

    /// The built-in detectors (everything but operator patterns).
    public static let builtIn: [EntityKind] = allCases.filter { $0 != .custom }
}

/// One detected value: where it is in the scanned bytes and what it is.
public struct Entity: Sendable, Equatable {
    public var range: Range<Int>
    public var kind: EntityKind
    /// For `.custom`, the pattern's configured name.
    public var name: String?

    public init(_ range: Range<Int>, _ kind: EntityKind, name: String? = nil) {
        self.range = range
        self.kind = kind
        self.name = name
    }
}
