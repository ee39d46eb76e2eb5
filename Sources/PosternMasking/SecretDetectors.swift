/// Detectors for credentials: cloud and chat tokens, JWTs, PEM private keys.
enum SecretDetectors {
    typealias Buffer = UnsafeBufferPointer<UInt8>

    static let awsPrefixes: [StaticString] = ["AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA",
                                               "ANVA", "AROA", "APKA", "ASCA"]

    /// AWS access key ids: a known four-letter prefix and 16 upper-case letters or digits.
    static func awsKey(_ b: Buffer, _ start: Int) -> Int? {
        guard awsPrefixes.contains(where: { b.hasPrefix($0, at: start) })
                || (b.hasPrefix("A3T", at: start) && Byte.isAlnum(b.at(start + 3))) else { return nil }
        for k in 4..<20 where !(Byte.isUpper(b.at(start + k)) || Byte.isDigit(b.at(start + k))) { return nil }
        return Byte.isWord(b.at(start + 20)) ? nil : start + 20
    }

    /// GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36+ alphanumerics, or
    /// fine-grained `github_pat_` tokens.
    static func githubToken(_ b: Buffer, _ start: Int) -> Int? {
        var i: Int
        var minimum: Int
        if b.hasPrefix("github_pat_", at: start) {
            i = start + 11
            minimum = 40
        } else if b.hasPrefix("gh", at: start), [UInt8(ascii: "p"), 0x6F, 0x75, 0x73, 0x72].contains(b.at(start + 2)),
                  b.at(start + 3) == 0x5F {
            i = start + 4
            minimum = 36
        } else {
            return nil
        }
        let bodyStart = i
        while Byte.isWord(b.at(i)) { i += 1 }
        return i - bodyStart >= minimum ? i : nil
    }

    /// Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-`, `xapp-`) and
    /// incoming-webhook URLs.
    static func slackToken(_ b: Buffer, _ start: Int) -> Int? {
        var i: Int
        if b.hasPrefix("xox", at: start), [0x62, 0x70, 0x61, 0x6F, 0x73, 0x72].contains(b.at(start + 3)),
           b.at(start + 4) == 0x2D {
            i = start + 5
        } else if b.hasPrefix("xapp-", at: start) {
            i = start + 5
        } else if b.hasPrefix("https://hooks.slack.com/services/", at: start) {
            i = start + 33
        } else {
            return nil
        }
        let bodyStart = i
        while Byte.isAlnum(b.at(i)) || b.at(i) == 0x2D || b.at(i) == 0x2F { i += 1 }
        return i - bodyStart >= 10 ? i : nil
    }

    /// `eyJ…` header and `eyJ…` payload (base64url of JSON objects), then the signature.
    static func jwt(_ b: Buffer, _ start: Int) -> Int? {
        guard b.hasPrefix("eyJ", at: start) else { return nil }
        var i = start
        for part in 0..<3 {
            let partStart = i
            while isBase64URL(b.at(i)) { i += 1 }
            if part < 2 {
                guard i - partStart >= 10, b.at(i) == 0x2E else { return nil }
                i += 1
                if part == 0, !b.hasPrefix("eyJ", at: i) { return nil }
            }
        }
        return Byte.isWord(b.at(i)) ? nil : i
    }

    private static func isBase64URL(_ c: UInt8) -> Bool { Byte.isAlnum(c) || c == 0x2D || c == 0x5F }

    /// `-----BEGIN … PRIVATE KEY-----` (PKCS#1 RSA, SEC1 EC, PKCS#8 plain or encrypted,
    /// OpenSSH, DSA, PGP) through its END line; a block without END runs to the end of the
    /// text, so a truncated key is still masked.
    static func privateKey(_ b: Buffer, _ start: Int) -> Int? {
        guard b.hasPrefix("-----BEGIN ", at: start) else { return nil }
        var i = start + 11
        while i < b.count, i - start < 60, b[i] != 0x2D { i += 1 }
        let label = UnsafeBufferPointer(rebasing: b[(start + 11)..<i])
        guard b.hasPrefix("-----", at: i), contains(label, "PRIVATE KEY") else { return nil }
        i += 5
        while i < b.count {
            if b[i] == 0x2D, b.hasPrefix("-----END ", at: i) {
                var j = i + 9
                while j < b.count, j - i < 70, b[j] != 0x2D { j += 1 }
                return b.hasPrefix("-----", at: j) ? j + 5 : b.count
            }
            i += 1
        }
        return b.count
    }

    private static func contains(_ haystack: Buffer, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard haystack.count >= n else { return false }
        for k in 0...(haystack.count - n) where haystack.hasPrefix(needle, at: k) { return true }
        return false
    }
}
