import COpenSSL

/// HMAC-SHA256 (OpenSSL's one-shot EVP_Q_mac): keyed pseudonyms for masking.
public enum HMACSHA256 {
    public static func mac(key: [UInt8], message: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = key.withUnsafeBufferPointer { k in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, k.count, message.baseAddress, message.count,
                          o.baseAddress, o.count, &length)
            }
        }
        ERR_clear_error()
        return ok != nil && length == 32 ? out : []
    }
}
