/// Why a key or certificate could not be built.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidKey(String)
    case weakKey(String)
    case openSSL(String)
    case invalidCertificate(String)

    public var description: String {
        switch self {
        case .invalidKey(let what): "invalid key: \(what)"
        case .weakKey(let what): "key too weak: \(what)"
        case .openSSL(let call): "OpenSSL failed in \(call)"
        case .invalidCertificate(let why): "invalid certificate: \(why)"
        }
    }
}
