/// Which masker a `content-type` calls for, read on its bytes: every masked response asks,
/// and splitting and lowercasing the field as Characters cost more than masking a small
/// JSON answer.
enum MediaType {
    enum Kind { case json, sse, ndjson, text }

    private static let names: [(String, Kind)] = [
        ("application/json", .json), ("text/event-stream", .sse),
        ("application/x-ndjson", .ndjson), ("application/ndjson", .ndjson), ("application/jsonl", .ndjson),
        ("application/x-jsonlines", .ndjson), ("application/jsonlines", .ndjson),
        ("text/plain", .text), ("text/markdown", .text),
    ]
    private static let kinds = names.map { (name: Array($0.0.utf8), kind: $0.1) }
    private static let jsonSuffix = Array("+json".utf8)

    /// The kind of the media type (parameters ignored, case-insensitive, RFC 9110 §8.3.1).
    static func kind(of contentType: String) -> Kind? {
        var contentType = contentType
        return contentType.withUTF8 { field in
            let whitespace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            var media = field[..<(field.firstIndex(of: UInt8(ascii: ";")) ?? field.endIndex)].drop(while: whitespace)
            while let last = media.last, whitespace(last) { media = media.dropLast() }
            if let known = kinds.first(where: { equalIgnoringCase(media, $0.name[...]) }) { return known.kind }
            let suffix = media.suffix(jsonSuffix.count)
            return suffix.count == jsonSuffix.count && equalIgnoringCase(suffix, jsonSuffix[...]) ? .json : nil
        }
    }

    private static func equalIgnoringCase(_ text: Slice<UnsafeBufferPointer<UInt8>>, _ name: ArraySlice<UInt8>) -> Bool {
        text.count == name.count && zip(text, name).allSatisfy { lower($0) == $1 }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
