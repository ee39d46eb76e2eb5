import PosternCore
import PosternCrypto
import PosternJSON

/// The three kinds of line in an audit file (JSON Lines, so `jq` and collectors read it):
///
///     {"log":"postern.audit/1","frontier":[…],"checkpoint":"…"}   first line of every file
///     {"index":N,"v":1,"ts":…,"kind":"…",…}                     a record: leaf N of the tree
///     {"checkpoint":"…"}                                         a signed tree head
///
/// A record's leaf is its line's exact bytes without the newline. The header carries the
/// right edge of the tree where the file begins and a checkpoint signed over it, so each
/// rotated file can be checked alone and files can be checked to follow one another.
public enum AuditLine: Equatable {
    case header(frontier: MerkleFrontier, note: String)
    case record(index: UInt64)
    case checkpoint(note: String)

    public static let logFormat = "postern.audit/1"
    static let recordPrefix = Array("{\"index\":".utf8)
    static let checkpointPrefix = Array("{\"checkpoint\":".utf8)
    static let headerPrefix = Array("{\"log\":".utf8)

    /// Classifies one line; nil when it is none of the three (or malformed).
    public static func parse(_ line: ArraySlice<UInt8>) -> AuditLine? {
        if line.starts(with: recordPrefix) {
            var digits = line.dropFirst(recordPrefix.count)
            var index: UInt64 = 0
            var count = 0
            while let d = digits.first, d >= 0x30, d <= 0x39, count < 20 {
                let (next, overflow) = index.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                index = next + UInt64(d - 0x30)
                digits = digits.dropFirst()
                count += 1
            }
            guard count > 0, digits.first == UInt8(ascii: ",") || digits.first == UInt8(ascii: "}"),
                  count == 1 || line[line.startIndex + recordPrefix.count] != 0x30
            else { return nil }
            return .record(index: index)
        }
        guard line.starts(with: checkpointPrefix) || line.starts(with: headerPrefix),
              let value = JSONValue.parse(Array(line)), let note = value["checkpoint"]?.string
        else { return nil }
        guard line.starts(with: headerPrefix) else { return .checkpoint(note: note) }
        guard value["log"]?.string == logFormat, case .array(let items)? = value["frontier"] else { return nil }
        var hashes: [[UInt8]] = []
        for item in items {
            guard let text = item.string, let hash = Base64URL.decodeStandard(text) else { return nil }
            hashes.append(hash)
        }
        guard let checkpoint = Checkpoint(text: noteText(note)),
              let frontier = MerkleFrontier(size: checkpoint.size, subtrees: hashes) else { return nil }
        return .header(frontier: frontier, note: note)
    }

    public static func header(frontier: MerkleFrontier, note: String) -> [UInt8] {
        let hashes = frontier.subtrees.map { JSONText.quote(Base64URL.encodeStandard($0)) }.joined(separator: ",")
        return Array("{\"log\":\"\(logFormat)\",\"frontier\":[\(hashes)],\"checkpoint\":\(JSONText.quote(note))}\n".utf8)
    }

    public static func checkpoint(note: String) -> [UInt8] {
        Array("{\"checkpoint\":\(JSONText.quote(note))}\n".utf8)
    }

    /// The text part of a signed note, unverified: for reading the size a header claims
    /// before its signature is checked.
    static func noteText(_ note: String) -> String {
        SignedNote.parts(note).map { String(decoding: $0.text, as: UTF8.self) } ?? ""
    }
}
