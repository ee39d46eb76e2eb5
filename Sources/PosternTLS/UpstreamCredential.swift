import PosternConfig

/// A function's own credential for the model server, as the header Postern adds to that
/// function's requests. Its value is never logged, shown or compared with anything.
public struct UpstreamCredential: Sendable {
    public let header: String
    public let value: String
}

/// Why a function's upstream credential cannot be used: its requests fail closed.
public struct UpstreamCredentialUnavailable: Error, Sendable, CustomStringConvertible {
    /// For the log and `postern check`: names the file, never the value.
    public var description: String
}

extension UpstreamCredential {
    /// Reads `settings.file`: the token is the file's text without its final newline; one
    /// with a control character (a header injection, or a torn write) is refused.
    static func load(_ settings: PolicySettings.UpstreamCredentialSettings, function: String)
        -> Result<UpstreamCredential, UpstreamCredentialUnavailable> {
        let key = "functions.\(function).upstream_credential"
        var bytes: [UInt8]
        switch TextFile.load(settings.file) {
        case .success(let read): bytes = read
        case .failure(let error):
            return .failure(UpstreamCredentialUnavailable(description: "\(key): \(settings.file): cannot read the file: \(error)"))
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty else {
            return .failure(UpstreamCredentialUnavailable(description: "\(key): \(settings.file): the file is empty"))
        }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
            return .failure(UpstreamCredentialUnavailable(
                description: "\(key): \(settings.file): holds a control character or several lines"))
        }
        return .success(UpstreamCredential(header: settings.header, value: settings.prefix + String(decoding: bytes, as: UTF8.self)))
    }
}
