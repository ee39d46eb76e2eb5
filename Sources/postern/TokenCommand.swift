import PosternCore
import PosternIdentity
import PosternTLS

#if canImport(Glibc)
import Glibc
#endif

/// `postern token`: why is this token accepted or refused? Also times signature checks
/// (every repetition verifies afresh; the data path caches verified tokens).
enum TokenCommand {
    static func run(credentials: Credentials, repeat count: Int) -> Int32 {
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while input.count <= CompactJWS.maxLength * 2 {
            let n = read(0, &chunk, chunk.count)
            if n <= 0 { break }
            input += chunk[0..<n]
        }
        while let last = input.last, [UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: " ")].contains(last) {
            input.removeLast()
        }
        let token = Substring(String(decoding: input, as: UTF8.self)).trimmingSpaces()
        let now = Int64(time(nil))
        let started = ContinuousClock.now
        var outcome: Result<Principal, TokenError> = .failure(.notCompactJWS)
        for _ in 0..<count {
            do throws(TokenError) {
                outcome = .success(try credentials.bearer.authenticate(token, now: now))
            } catch {
                outcome = .failure(error)
            }
        }
        if count > 1 {
            let micros = Double((ContinuousClock.now - started).nanoseconds) / Double(count) / 1000
            Stderr.line("\(count) verifications, \((micros * 10).rounded() / 10) µs each")
        }
        switch outcome {
        case .success(let principal):
            var line = "{\"principal\":\(JSONText.quote(principal.id)),\"auth\":\"\(principal.source.rawValue)\""
            if let domain = principal.trustDomain { line += ",\"trust_domain\":\(JSONText.quote(domain.name))" }
            if let issuer = principal.issuer { line += ",\"issuer\":\(JSONText.quote(issuer))" }
            if let id = principal.credentialID { line += ",\"credential_id\":\(JSONText.quote(id))" }
            print(line + ",\"expiry\":\(principal.expiry)}")
            return 0
        case .failure(let error):
            Stderr.line("refused: \(error)")
            return 1
        }
    }
}
