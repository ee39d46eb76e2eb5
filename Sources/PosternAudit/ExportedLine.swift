import PosternJSON

/// A record as it is copied out of the signed file (standard output): the log's origin
/// and the latest checkpoint's size spliced in front of the record's own members, so a
/// SIEM copy says which log it belongs to and which signature covers it. Removing the two
/// members gives back the leaf byte for byte; `postern audit verify` reads copies directly.
public enum ExportedLine {
    static let prefix = Array("{\"log_origin\":".utf8)

    public static func splice(_ line: ArraySlice<UInt8>, originMember: [UInt8], signed: UInt64,
                              into out: inout [UInt8]) {
        out.append(contentsOf: originMember)
        out.append(contentsOf: String(signed).utf8)
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: line.dropFirst())
    }

    /// `{"origin":"…","signed":` for one origin, built once.
    public static func originMember(_ origin: String) -> [UInt8] {
        Array("{\"log_origin\":\(JSONValue.string(origin).text),\"log_signed\":".utf8)
    }

    /// The leaf a spliced line was made from; nil when `line` is not spliced.
    public static func original(_ line: ArraySlice<UInt8>) -> [UInt8]? {
        guard line.starts(with: prefix) else { return nil }
        var position = line.startIndex + prefix.count
        guard position < line.endIndex, line[position] == UInt8(ascii: "\"") else { return nil }
        position += 1
        while position < line.endIndex, line[position] != UInt8(ascii: "\"") {
            position += line[position] == UInt8(ascii: "\\") ? 2 : 1
        }
        let signed = Array(",\"log_signed\":".utf8)
        position += 1
        guard position <= line.endIndex, line[position...].starts(with: signed) else { return nil }
        position += signed.count
        let digits = line[position...].prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty else { return nil }
        position += digits.count
        guard position < line.endIndex, line[position] == UInt8(ascii: ",") else { return nil }
        return [UInt8(ascii: "{")] + line[(position + 1)...]
    }
}
