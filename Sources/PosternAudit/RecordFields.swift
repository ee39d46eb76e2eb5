/// Reads the few fields of a record line that the verifier reports (its time and kind)
/// without parsing the whole record: they sit at fixed places near its start.
enum RecordFields {
    static func timeAndKind(_ line: ArraySlice<UInt8>) -> (Double?, String?) {
        let head = line.prefix(160)
        return (value(after: tsKey, in: head).flatMap { Double(String(decoding: $0, as: UTF8.self)) },
                value(after: kindKey, in: head).map { String(decoding: $0, as: UTF8.self) })
    }

    /// A request record's outcome (written last but one or last: searched from the end).
    static func outcome(_ line: [UInt8]) -> String? {
        let tail = line.suffix(400)
        var found: ArraySlice<UInt8>?
        var rest = tail[...]
        while let value = value(after: outcomeKey, in: rest) {
            found = value
            rest = rest[value.endIndex...]
        }
        return found.map { String(decoding: $0, as: UTF8.self) }
    }

    private static let outcomeKey = Array(",\"outcome\":\"".utf8)
    private static let tsKey = Array("\"ts\":".utf8)
    private static let kindKey = Array("\"kind\":\"".utf8)

    /// The bytes after `key` up to the next ',', '"' or '}'.
    private static func value(after key: [UInt8], in bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var i = bytes.startIndex
        while i + key.count <= bytes.endIndex {
            if bytes[i..<(i + key.count)].elementsEqual(key) {
                let start = i + key.count
                let end = bytes[start...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "}") }
                return bytes[start..<(end ?? bytes.endIndex)]
            }
            i += 1
        }
        return nil
    }
}

extension AuditVerifier {
    /// Files in log order: by the tree size their header begins at, then by name.
    public static func order(_ files: [(name: String, bytes: [UInt8])]) -> [(name: String, bytes: [UInt8])] {
        func begins(_ bytes: [UInt8]) -> UInt64 {
            let first = bytes.prefix { $0 != 0x0A }
            if case .header(let frontier, _)? = AuditLine.parse(first) { return frontier.size }
            return .max
        }
        return files.map { ($0, begins($0.bytes)) }
            .sorted { ($0.1, $0.0.name) < ($1.1, $1.0.name) }
            .map(\.0)
    }
}
