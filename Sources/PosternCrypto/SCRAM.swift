import COpenSSL

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as PostgreSQL authenticates a
/// password without sending it: client-first, then the proof for the server's salt and
/// iteration count, then a check of the server's own signature (a server that does not
/// know the password cannot forge it).
public struct SCRAMClient: Sendable {
    public let nonce: String
    private let password: String
    private var clientFirstBare: String
    private var serverSignature: [UInt8] = []

    /// `nonce` is random unless a test vector gives it.
    public init(password: String, nonce: String? = nil) {
        self.password = password
        self.nonce = nonce ?? Base64URL.encodeStandard((0..<18).map { _ in UInt8.random(in: 0...255) })
        // PostgreSQL takes the user from the startup message: the SCRAM name stays empty.
        clientFirstBare = "n=,r=" + self.nonce
    }

    /// With a user name (the RFC's test vectors have one).
    public init(user: String, password: String, nonce: String) {
        self.init(password: password, nonce: nonce)
        clientFirstBare = "n=\(user),r=\(nonce)"
    }

    /// The first message: no channel binding.
    public var clientFirst: String { "n,," + clientFirstBare }

    public enum Failure: Error, Sendable, Equatable { case malformed, nonceMismatch, badIterations, badServerSignature }

    /// The client-final message for the server-first one.
    public mutating func clientFinal(serverFirst: String) throws(Failure) -> String {
        var fields: [Character: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 && part.dropFirst().first == "=" {
            fields[part.first!] = String(part.dropFirst(2))
        }
        guard let serverNonce = fields["r"], let saltText = fields["s"], let salt = Base64URL.decodeStandard(saltText),
              let iterationText = fields["i"] else { throw .malformed }
        guard serverNonce.hasPrefix(nonce), serverNonce.count > nonce.count else { throw .nonceMismatch }
        guard let iterations = Int(iterationText), iterations >= 4096, iterations <= 1_000_000 else { throw .badIterations }
        let salted = Self.pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations)
        let clientKey = Self.hmac(salted, "Client Key")
        let storedKey = SHA256.digest(clientKey)
        let withoutProof = "c=biws,r=" + serverNonce
        let authMessage = clientFirstBare + "," + serverFirst + "," + withoutProof
        let clientSignature = Self.hmac(storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        serverSignature = Self.hmac(Self.hmac(salted, "Server Key"), authMessage)
        return withoutProof + ",p=" + Base64URL.encodeStandard(proof)
    }

    /// Checks the server-final message (`v=` its signature).
    public func verify(serverFinal: String) throws(Failure) {
        guard serverFinal.hasPrefix("v="), let signature = Base64URL.decodeStandard(serverFinal.dropFirst(2).prefix { $0 != "," })
        else { throw .malformed }
        guard !serverSignature.isEmpty, signature == serverSignature else { throw .badServerSignature }
    }

    static func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
        var copy = text
        return copy.withUTF8 { HMACSHA256.mac(key: key, message: $0) }
    }

    static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = password.withUnsafeBufferPointer { p in
            PKCS5_PBKDF2_HMAC(p.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, Int32(p.count),
                              salt, Int32(salt.count), Int32(iterations), EVP_sha256(), 32, &out)
        }
        ERR_clear_error()
        return ok == 1 ? out : []
    }
}
