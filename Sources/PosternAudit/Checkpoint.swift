import PosternCrypto

/// A C2SP `tlog-checkpoint` body: origin, tree size and root hash, one line each.
/// Postern writes no extension lines (the spec does not recommend them); the time of a
/// checkpoint is carried by the records it covers.
public struct Checkpoint: Equatable, Sendable {
    public var origin: String
    public var size: UInt64
    public var root: [UInt8]

    public init(origin: String, size: UInt64, root: [UInt8]) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    public var text: String { "\(origin)\n\(size)\n\(Base64URL.encodeStandard(root))\n" }

    /// Parses a note text strictly: a decimal size without leading zeros, a 32-byte root;
    /// extension lines, if any, must be non-empty and are ignored.
    public init?(text: String) {
        guard text.hasSuffix("\n") else { return nil }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, lines.allSatisfy({ !$0.isEmpty }),
              lines[1].allSatisfy({ $0.isASCII && $0.isNumber }), lines[1] == "0" || !lines[1].hasPrefix("0"),
              let size = UInt64(lines[1]),
              let root = Base64URL.decodeStandard(lines[2]), root.count == 32,
              Base64URL.encodeStandard(root) == lines[2]
        else { return nil }
        self.init(origin: String(lines[0]), size: size, root: root)
    }
}
