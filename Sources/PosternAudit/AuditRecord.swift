import PosternCore

/// One audit record under construction: a JSON object that begins, in every kind, with
/// the schema version, the time and the kind (the writer puts the index before them).
/// The schema is documented in docs/audit.md; `version` changes when a field changes
/// meaning or goes away, never when one is added.
public struct AuditRecord: Sendable {
    public static let version = 1
    private(set) var text: String

    public init(kind: String, at seconds: Double = AuditClock.now()) {
        text = Self.head(kind: kind, at: seconds)
    }

    /// The opening every record shares, for encoders that build the rest themselves.
    public static func head(kind: String, at seconds: Double) -> String {
        "{\"v\":\(version),\"ts\":\(AuditClock.text(seconds)),\"kind\":\(JSONText.quote(kind))"
    }

    public func string(_ name: String, _ value: String?) -> AuditRecord {
        guard let value else { return self }
        return appending(name, JSONText.quote(value))
    }

    public func number(_ name: String, _ value: some BinaryInteger) -> AuditRecord {
        appending(name, String(value))
    }

    public func flag(_ name: String, _ value: Bool) -> AuditRecord {
        appending(name, value ? "true" : "false")
    }

    public func strings(_ name: String, _ values: [String]) -> AuditRecord {
        appending(name, "[" + values.map(JSONText.quote).joined(separator: ",") + "]")
    }

    /// A member whose value is already JSON text.
    public func raw(_ name: String, _ json: String) -> AuditRecord {
        appending(name, json)
    }

    public var bytes: [UInt8] { Array((text + "}").utf8) }

    /// A flat JSON object of strings, keys in the order given, for nested members.
    public static func object(_ members: KeyValuePairs<String, String>) -> String {
        "{" + members.map { JSONText.quote($0.key) + ":" + JSONText.quote($0.value) }.joined(separator: ",") + "}"
    }

    private func appending(_ name: String, _ json: String) -> AuditRecord {
        var copy = self
        copy.text += "," + JSONText.quote(name) + ":" + json
        return copy
    }
}
