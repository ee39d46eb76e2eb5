/// An operator-defined pattern from the configuration (`masking.NAME.patterns`): a regular
/// expression (Swift Regex syntax, which accepts the usual PCRE-style forms) and the label
/// its matches are masked as.
public final class CustomPattern: @unchecked Sendable {
    // A compiled Regex is immutable; matching from several threads is safe.
    private let regex: Regex<AnyRegexOutput>
    public let name: String
    public let action: MaskAction?

    public init(name: String, pattern: String, action: MaskAction? = nil) throws(MaskingError) {
        do {
            regex = try Regex(pattern)
        } catch {
            throw MaskingError("pattern '\(name)' does not compile: \(error)")
        }
        self.name = name
        self.action = action
    }

    /// Byte ranges of the matches in `text` (UTF-8).
    func matches(in text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let string = String(decoding: text, as: UTF8.self)
        let utf8 = string.utf8
        var ranges: [Range<Int>] = []
        for match in string.matches(of: regex) where !match.range.isEmpty {
            let start = utf8.distance(from: utf8.startIndex, to: match.range.lowerBound)
            let end = utf8.distance(from: utf8.startIndex, to: match.range.upperBound)
            ranges.append(start..<end)
        }
        return ranges
    }

    var label: String { name.uppercased() }
}
