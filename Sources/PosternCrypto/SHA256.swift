import COpenSSL

/// SHA-256 (OpenSSL's one-shot EVP_Digest): pinned prompts, request digests.
public enum SHA256 {
    public static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let bytes = Array(message)
        let ok = bytes.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(m.baseAddress, m.count, o.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        ERR_clear_error()
        return ok == 1 && length == 32 ? out : []
    }

    /// Lower-case hex, as operators write digests (`sha256sum`).
    public static func hex(_ message: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in digest(message) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
