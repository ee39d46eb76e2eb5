import PosternCrypto

/// The SHA-256 of the exact request an approval is for: its method, normalised path, the
/// selected header fields and its body, each length-prefixed so that no two requests share
/// an encoding. A grant bound to a digest admits only a request that hashes the same.
public enum RequestDigest {
    public static func hex(method: String, path: String, headers: [(name: String, value: String)], body: [UInt8]) -> String {
        var encoded: [UInt8] = []
        func part(_ bytes: some Collection<UInt8>) {
            let count = UInt64(bytes.count)
            for shift in stride(from: 56, through: 0, by: -8) { encoded.append(UInt8(truncatingIfNeeded: count >> UInt64(shift))) }
            encoded.append(contentsOf: bytes)
        }
        part(method.utf8)
        part(path.utf8)
        let fields = headers.map { ($0.name.lowercased(), $0.value) }.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        part(String(fields.count).utf8)
        for (name, value) in fields {
            part(name.utf8)
            part(value.utf8)
        }
        part(body)
        return SHA256.hex(encoded)
    }
}
