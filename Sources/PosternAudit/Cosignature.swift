import PosternCrypto

/// C2SP `tlog-cosignature` v1 (Ed25519): a witness's statement that, at its timestamp,
/// the checkpoint was the largest consistent tree it had seen of the log. A signature line
/// `— <witness> base64(key id ‖ u64 timestamp ‖ Ed25519 signature)` over
/// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint's text.
public enum Cosignature {
    /// The timestamp of the first line of `lines` that is a valid cosignature of
    /// `checkpointText` by `witness`; lines by other keys are ignored.
    public static func verify(_ lines: String, checkpointText: String, witness: NoteVerifierKey) -> UInt64? {
        guard witness.type == NoteVerifierKey.cosignatureV1 else { return nil }
        for line in lines.split(separator: "\n") where line.hasPrefix(SignedNote.dash) {
            let fields = line.dropFirst(SignedNote.dash.count).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, fields[0] == witness.name, let blob = Base64URL.decodeStandard(fields[1]),
                  blob.count == 4 + 8 + 64, Array(blob.prefix(4)) == witness.id else { continue }
            let timestamp = blob[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp < 1 << 63 else { continue }
            let message = "cosignature/v1\ntime \(timestamp)\n" + checkpointText
            if witness.publicKey.verify(Array(blob[12...]), of: Array(message.utf8), scheme: .ed25519) { return timestamp }
        }
        return nil
    }
}
