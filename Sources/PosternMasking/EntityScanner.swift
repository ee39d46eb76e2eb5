/// Finds sensitive values in UTF-8 text in one pass. Plain prose is skipped sixteen bytes at
/// a time; only bytes that can begin a value (digits, `+`, `(`, `@`, capitals, a few
/// letters, `-`, `:`) start a detector, letters and digits only at the start of a word, so
/// the rest of each word is skipped in a tight loop.
public struct EntityScanner: Sendable {
    public let kinds: Set<EntityKind>
    /// The regions whose national phone numbers (without `+` and country code) are found.
    public let phonePlans: [PhonePlan]
    // One flag per detector, read in the hot loop (a Set lookup would hash every time).
    private let card, ssn, email, phone, iban, ip, aws, github, slack, jwt, key: Bool

    public init(kinds: Set<EntityKind> = Set(EntityKind.builtIn), phonePlans: [PhonePlan] = PhonePlan.defaults) {
        self.kinds = kinds
        self.phonePlans = phonePlans
        card = kinds.contains(.creditCard)
        ssn = kinds.contains(.usSSN)
        email = kinds.contains(.email)
        phone = kinds.contains(.phone)
        iban = kinds.contains(.iban)
        ip = kinds.contains(.ipAddress)
        aws = kinds.contains(.awsKey)
        github = kinds.contains(.githubToken)
        slack = kinds.contains(.slackToken)
        jwt = kinds.contains(.jwt)
        key = kinds.contains(.privateKey)
    }

    @inline(__always) private func on(_ kind: EntityKind) -> Bool {
        switch kind {
        case .creditCard: card
        case .usSSN: ssn
        case .email: email
        case .phone: phone
        case .iban: iban
        case .ipAddress: ip
        case .awsKey: aws
        case .githubToken: github
        case .slackToken: slack
        case .jwt: jwt
        case .privateKey: key
        case .custom: false
        }
    }

    /// Entities in `b`, in order, not overlapping. `keyHint` is the JSON member name the
    /// text is the value of, if any (an SSN written as nine digits counts under `ssn`).
    public func scan(_ b: UnsafeBufferPointer<UInt8>, keyHint: String? = nil) -> [Entity] {
        Byte.withUTF8(of: keyHint) { scan(b, key: $0) }
    }

    /// `scan(_:keyHint:)` with the member name as UTF-8 bytes.
    func scan(_ b: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>?) -> [Entity] {
        var found: [Entity] = []
        var i = 0
        let n = b.count
        let classes = Self.classes
        while i < n {
            // Lower-case letters and bytes of no class never begin a value on their own, and
            // every value that begins with lower-case letters has a trigger byte a few bytes
            // in (`eyJ`, `ghp_`, `xoxb-`, `https:`, `fe80:`; an email is found from its `@`).
            // So prose is skipped sixteen bytes at a time up to the next trigger, and scanning
            // resumes at the start of its word: the same result as visiting every byte.
            let t = Self.nextTrigger(b, from: i)
            guard t < n else { break }
            var wordStart = t
            while wordStart > i, classes[Int(b[wordStart - 1])] & Self.wordByte != 0 { wordStart -= 1 }
            i = wordStart
            let c = b[i]
            let k = classes[Int(c)]  // never 0: a trigger or a word byte
            // A lower-case word (most of prose) can only be a token (`eyJ…`, `ghp_…`, `xoxb-…`,
            // `https://hooks…`) or an IPv6 group (`fe80:`): anything else is skipped whole
            // without a detector call.
            if k & Self.lowerStart != 0 {
                var end = i + 1
                while end < n, classes[Int(b[end])] & Self.wordByte != 0 { end += 1 }
                if !(b.at(end) == 0x3A && end - i <= 4) && !Self.mayStartToken(c, b.at(i + 1)) {
                    i = end
                    continue
                }
            }
            // Here a word starts (whole words are skipped below) or a byte that can begin a
            // value anywhere (`@`, `-`, …) stands.
            if k != Self.wordByte, let (range, kind) = detect(b, i, c, key: key),
               found.last.map({ range.lowerBound >= $0.range.upperBound }) ?? true {
                if found.isEmpty { found.reserveCapacity(8) }  // grown once, not at 1, 2 and 4
                found.append(Entity(range, kind))
                i = max(range.upperBound, i + 1)
            } else {
                i += 1
            }
            // The rest of a word cannot begin a value.
            if i > 0, i < n, classes[Int(b[i - 1])] & Self.wordByte != 0 {
                while i < n, classes[Int(b[i])] & Self.wordByte != 0 { i += 1 }
            }
        }
        return found
    }

    public func scan(_ text: String) -> [Entity] {
        var copy = text
        return copy.withUTF8 { scan($0) }
    }

    private func detect(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ c: UInt8,
                        key: UnsafeBufferPointer<UInt8>?) -> (Range<Int>, EntityKind)? {
        if c == 0x40 {  // @
            guard on(.email), let range = TextDetectors.email(b, at: i) else { return nil }
            return (range, .email)
        }
        if c == 0x2D {  // -
            guard on(.privateKey), let end = SecretDetectors.privateKey(b, i) else { return nil }
            return (i..<end, .privateKey)
        }
        let previous = b.at(i - 1)
        guard !Byte.isWord(previous) else { return nil }
        if Byte.isDigit(c) {
            // Inside a dotted, dashed or timed run (a version's 2nd part, a date, `SO-800`, `12:30`):
            // not a start. After a label (`card:4111…`) it is.
            if previous == 0x2E || previous == 0x2D ? Byte.isAlnum(b.at(i - 2))
                : previous == 0x3A && Byte.isDigit(b.at(i - 2)) { return nil }
            if on(.creditCard), let end = NumberDetectors.card(b, i) { return (i..<end, .creditCard) }
            if on(.usSSN), let end = NumberDetectors.ssn(b, i, ssnContext: {
                Self.named(b, before: i, key, keys: Self.ssnKeys, words: Self.ssnWords)
            }) {
                return (i..<end, .usSSN)
            }
            // An SSN kept as a number loses its leading zeros (078-05-1120 is 78051120): seven
            // or eight digits that are the whole value of a member named for one.
            if on(.usSSN), i == 0, let key, Self.named(b, before: 0, key, keys: Self.ssnKeys, words: []),
               let end = NumberDetectors.ssnWithoutLeadingZeros(b), end == b.count {
                return (0..<end, .usSSN)
            }
            if on(.ipAddress) {
                if let end = NumberDetectors.ipv4(b, i), !Self.isVersion(b, i, end) { return (i..<end, .ipAddress) }
                if colonSoon(b, i), let end = TextDetectors.ipv6(b, i) { return (i..<end, .ipAddress) }
            }
            // A phone does not start inside a run of spaced digit groups (`3797 038281 74595`).
            if on(.phone), previous != 0x2B, !(previous == 0x20 && Byte.isDigit(b.at(i - 2))) {
                if let end = NumberDetectors.phone(b, i) ?? NumberDetectors.regionalPhone(b, i, plans: phonePlans) {
                    return (i..<end, .phone)
                }
                // Eight digits and more, only under a member named for a phone; ten and more
                // also after the words for one.
                if let end = NumberDetectors.bareDigitsPhone(b, i, shortest: 8),
                   Self.named(b, before: i, key, keys: Self.phoneKeys, words: []) || Self.isWholePhoneKey(key)
                    || end - i >= 10 && Self.named(b, before: i, nil, keys: [], words: Self.phoneWords) {
                    return (i..<end, .phone)
                }
            }
            return nil
        }
        switch c {
        case 0x2B, 0x28:  // + (
            if on(.phone), !Byte.isDigit(previous),
               let end = NumberDetectors.phone(b, i) ?? (c == 0x28 ? NumberDetectors.regionalPhone(b, i, plans: phonePlans) : nil) {
                return (i..<end, .phone)
            }
        case 0x3A:  // :
            if on(.ipAddress), previous != 0x3A, let end = TextDetectors.ipv6(b, i) { return (i..<end, .ipAddress) }
        default:
            if Byte.isUpper(c) {
                if on(.awsKey), c == 0x41, let end = SecretDetectors.awsKey(b, i) { return (i..<end, .awsKey) }
                if on(.iban), let end = TextDetectors.iban(b, i) { return (i..<end, .iban) }
            }
            if on(.jwt), c == 0x65, let end = SecretDetectors.jwt(b, i) { return (i..<end, .jwt) }
            if on(.githubToken), c == 0x67, let end = SecretDetectors.githubToken(b, i) { return (i..<end, .githubToken) }
            if on(.slackToken), c == 0x78 || c == 0x68, let end = SecretDetectors.slackToken(b, i) {
                return (i..<end, .slackToken)
            }
            if on(.ipAddress), Byte.isHex(c), colonSoon(b, i), let end = TextDetectors.ipv6(b, i) {
                return (i..<end, .ipAddress)
            }
        }
        return nil
    }

    /// One to four hex digits and a `:` from `i`: only then can an IPv6 address start there.
    private func colonSoon(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        var k = i
        let end = min(b.count, i + 4)
        while k < end, Byte.isHex(b[k]) { k += 1 }
        return k > i && b.at(k) == 0x3A
    }

    /// The fewest characters of a built-in value written as a bare number (a nine-digit SSN):
    /// a shorter JSON number needs no scan.
    static let shortestBareNumber = 7

    static let ssnKeys: [StaticString] = ["ssn", "social", "tax_id", "taxid"], ssnWords: [StaticString] = ["ssn", "social", "ss#"]
    static let phoneKeys: [StaticString] = ["phone", "mobile", "msisdn", "cell", "fax"]
    static let phoneWords: [StaticString] = ["phone", "mobile", "tel:", "tel.", "cell", "fax", "call", "sms"]
    /// Member names for phones too short to look for inside other names (`hotel_id`).
    static let wholePhoneKeys: [StaticString] = ["tel", "tel_no", "telno", "tel_number"]

    /// The value is labelled as what `keys`/`words` name: by its JSON member name, or by
    /// the words just before it (`SSN 123456789`, `phone: 4155552671`).
    private static func named(_ b: UnsafeBufferPointer<UInt8>, before i: Int, _ key: UnsafeBufferPointer<UInt8>?,
                              keys: [StaticString], words: [StaticString]) -> Bool {
        if let key, keys.contains(where: { containsWord(key, 0..<key.count, $0) }) { return true }

        let window = max(0, i - 24)..<i
        return words.contains { containsWord(b, window, $0) }
    }

    private static func isWholePhoneKey(_ key: UnsafeBufferPointer<UInt8>?) -> Bool {
        guard let key else { return false }
        return wholePhoneKeys.contains { key.count == $0.utf8CodeUnitCount && containsWord(key, 0..<key.count, $0) }
    }

    /// A dotted quad that is a version: `1.2.3.4-beta`, or after `version`/`build`/`v`.
    private static func isVersion(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        if b.at(end) == 0x2D, Byte.isLetter(b.at(end + 1)) { return true }
        var k = start
        while k > 0, b[k - 1] == 0x20 || b[k - 1] == 0x3A || b[k - 1] == 0x3D, start - k < 3 { k -= 1 }
        var wordStart = k
        while wordStart > 0, Byte.isLetter(b[wordStart - 1]), k - wordStart < 9 { wordStart -= 1 }
        guard wordStart < k, wordStart == 0 || !Byte.isWord(b[wordStart - 1]) else { return false }
        let word = wordStart..<k
        return versionWords.contains { word.count == $0.utf8CodeUnitCount && containsWord(b, word, $0) }
    }

    static let versionWords: [StaticString] = ["version", "ver", "v", "build", "release", "firmware"]

    /// `needle` (lower case) in `b[range]`, ignoring ASCII case.
    private static func containsWord(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard range.count >= n else { return false }
        return needle.withUTF8Buffer { p in
            for start in range.lowerBound...(range.upperBound - n) {
                var k = 0
                while k < n, b[start + k] | (Byte.isUpper(b[start + k]) ? 0x20 : 0) == p[k] { k += 1 }
                if k == n { return true }
            }
            return false
        }
    }

    static let wordByte: UInt8 = 1, startsValue: UInt8 = 2, lowerStart: UInt8 = 4, trigger: UInt8 = 8

    /// The lanes of `v` in `(`…`:` or `@`…`_`, the two ranges that hold every trigger byte
    /// (and a few others). Text without one holds no value.
    @inline(__always) static func triggerCandidates(_ v: Lanes.Bytes) -> Lanes.Mask {
        (v &- Lanes.splat(0x28)) .< Lanes.splat(0x3B - 0x28) .| (v &- Lanes.splat(0x40)) .< Lanes.splat(0x20)
    }

    /// The first byte from `i` that is a digit, a capital, `_` or one of `+ ( @ - :`: the
    /// bytes every value holds within its first few. Sixteen bytes at a time: candidates
    /// are found by `triggerCandidates`, the table confirms them.
    @inline(__always) private static func nextTrigger(_ b: UnsafeBufferPointer<UInt8>, from i: Int) -> Int {
        let n = b.count
        var t = i
        while t < n {
            if t + 16 <= n {
                let candidates = triggerCandidates(Lanes.load(b, t))
                guard Lanes.any(candidates) else {
                    t += 16
                    continue
                }
                t += Lanes.first(candidates)
            }
            if classes[Int(b[t])] & trigger != 0 { return t }
            t += 1
        }
        return n
    }

    /// The first two bytes of a JWT, GitHub or Slack token or webhook.
    @inline(__always) private static func mayStartToken(_ c: UInt8, _ next: UInt8) -> Bool {
        switch c {
        case 0x65: next == 0x79                  // eyJ
        case 0x67: next == 0x68 || next == 0x69  // gh…, github_pat_
        case 0x78: next == 0x6F || next == 0x61  // xox…, xapp-
        case 0x68: next == 0x74                  // https://hooks.slack.com
        default: false
        }
    }

    /// Per byte: `wordByte` if it continues a word (`Byte.isWord`), plus `startsValue` if a
    /// value can begin with it (letters and digits only at the start of a word; `+ ( @ - :`
    /// anywhere), plus `lowerStart` for the lower-case letters among those, plus `trigger`
    /// for what `nextTrigger` stops at (word bytes but lower-case letters, and `+ ( @ - :`). Allocated once
    /// and never freed: the hot loop reads it without checks.
    nonisolated(unsafe) static let classes: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for c in 0..<256 {
            let byte = UInt8(c)
            var k: UInt8 = Byte.isWord(byte) ? wordByte : 0
            if Byte.isDigit(byte) || Byte.isUpper(byte) || (Byte.isHex(byte) && Byte.isLower(byte))
                || "gxh+(@-:".utf8.contains(byte) {
                k |= startsValue
                if Byte.isLower(byte) { k |= lowerStart }
            }
            if Byte.isWord(byte) && !Byte.isLower(byte) || "+(@-:".utf8.contains(byte) { k |= trigger }
            table[c] = k
        }
        return UnsafePointer(table)
    }()
}
