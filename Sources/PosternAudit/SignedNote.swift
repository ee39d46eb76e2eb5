import PosternCrypto

/// C2SP `signed-note` with Ed25519 signatures: the text, a blank line, then one line per
/// signature, "— <name> base64(key id ‖ signature)".
public enum SignedNote {
    static let dash = "\u{2014} "

    /// Signs `text` (which ends in a newline) as `name`.
    public static func sign(_ text: String, name: String, key: SigningKey) throws(CryptoError) -> String {
        let signature = try key.sign(Array(text.utf8))
        let id = NoteVerifierKey.keyID(name: name, publicKey: key.publicKey)
        return text + "\n" + dash + name + " " + Base64URL.encodeStandard(id + signature) + "\n"
    }

    /// The note's text when a signature by `key` over it is valid; nil otherwise.
    /// Signatures by other keys are ignored, as the spec asks.
    public static func open(_ note: String, key: NoteVerifierKey) -> String? {
        guard let (text, signatures) = parts(note) else { return nil }
        for line in signatures.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix(dash) else { return nil }
            let fields = line.dropFirst(dash.count).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let blob = Base64URL.decodeStandard(fields[1]), blob.count > 4 else { return nil }
            guard key.type == NoteVerifierKey.ed25519, fields[0] == key.name, Array(blob.prefix(4)) == key.id else { continue }
            if key.publicKey.verify(Array(blob.dropFirst(4)), of: text, scheme: .ed25519) {
                return String(decoding: text, as: UTF8.self)
            }
        }
        return nil
    }

    /// The text (up to its newline before the last blank line) and the signature lines
    /// without their final newline; signature lines never contain a blank line.
    public static func parts(_ note: String) -> (text: [UInt8], signatures: String)? {
        let bytes = Array(note.utf8)
        guard bytes.last == 0x0A,
              let blank = (1..<max(bytes.count, 1)).last(where: { bytes[$0] == 0x0A && bytes[$0 - 1] == 0x0A })
        else { return nil }
        return (Array(bytes[..<blank]), String(decoding: bytes[(blank + 1)...].dropLast(), as: UTF8.self))
    }
}

/// A note verifier key, `<name>+<hex key id>+<base64(type ‖ public key)>`: what an
/// auditor is given to check a log (type 0x01, Ed25519 note signatures), and what
/// `postern audit key` prints; a witness's key has type 0x04 (cosignature/v1).
public struct NoteVerifierKey: Sendable {
    public static let ed25519: UInt8 = 0x01
    public static let cosignatureV1: UInt8 = 0x04

    public let name: String
    public let type: UInt8
    public let id: [UInt8]
    public let raw: [UInt8]
    let publicKey: PublicKey

    public init(name: String, publicKey raw: [UInt8], type: UInt8 = NoteVerifierKey.ed25519) throws(CryptoError) {
        guard Self.isValidName(name) else { throw .invalidKey("note key name \"\(name)\"") }
        self.name = name
        self.type = type
        self.raw = raw
        self.id = Self.keyID(name: name, publicKey: raw, type: type)
        self.publicKey = try .ed25519(raw)
    }

    /// `type` is the signature type the key must have.
    public init(encoded: String, type: UInt8 = NoteVerifierKey.ed25519) throws(CryptoError) {
        let trimmed = encoded.split(whereSeparator: \.isWhitespace).first ?? ""  // as read from a file
        let parts = trimmed.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)  // base64 may hold "+"
        guard parts.count == 3, let blob = Base64URL.decodeStandard(parts[2]), blob.count == 33, blob[0] == type else {
            throw .invalidKey(type == Self.ed25519 ? "not a note verifier key (name+id+key)"
                                                   : "not a cosignature/v1 verifier key (name+id+key, type 0x04)")
        }
        try self.init(name: String(parts[0]), publicKey: Array(blob.dropFirst()), type: type)
        guard parts[1] == Hex.encode(id) else { throw .invalidKey("the key id does not match the key") }
    }

    public var encoded: String { "\(name)+\(Hex.encode(id))+\(Base64URL.encodeStandard([type] + raw))" }

    /// The first four bytes of SHA-256(name ‖ "\n" ‖ type ‖ key).
    static func keyID(name: String, publicKey: [UInt8], type: UInt8 = NoteVerifierKey.ed25519) -> [UInt8] {
        Array(SHA256.digest(Array(name.utf8) + [0x0A, type] + publicKey).prefix(4))
    }

    /// Names are non-empty, without spaces, newlines or '+'.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains(where: { $0 == "+" || $0.isWhitespace || !$0.isASCII || $0.asciiValue! < 0x21 })
    }
}
