/// Detectors for values with letters: email addresses, IBANs, IPv6 addresses.
enum TextDetectors {
    typealias Buffer = UnsafeBufferPointer<UInt8>

    /// Called at an `@`: the address around it, as (start, end).
    static func email(_ b: Buffer, at: Int) -> Range<Int>? {
        var start = at
        while start > 0, at - start < 64, isLocal(b[start - 1]) { start -= 1 }
        while start < at, b[start] & 0xC0 == 0x80 { start += 1 }  // the 64-byte bound cut a character
        while start < at, b[start] == 0x2E { start += 1 }  // a local part does not start with a dot
        guard start < at, b.at(at - 1) != 0x2E else { return nil }
        var i = at + 1, labelLength = 0, lastDot = -1, labels = 0
        while i < b.count, i - at <= 253 {
            let c = b[i]
            if Byte.isAlnum(c) || c >= 0x80 || (c == 0x2D && labelLength > 0) {
                labelLength += 1
            } else if c == 0x2E, labelLength > 0, Byte.isAlnum(b.at(i + 1)) || b.at(i + 1) >= 0x80 {
                lastDot = i
                labels += 1
                labelLength = 0
            } else {
                break
            }
            i += 1
        }
        var end = i
        while end < b.count, b[end] & 0xC0 == 0x80 { end += 1 }  // never end inside a character
        while end > at + 1, b[end - 1] == 0x2D { end -= 1 }
        guard labels >= 1, lastDot > at, end - lastDot - 1 >= 2 else { return nil }
        for k in (lastDot + 1)..<end where !Byte.isLetter(b[k]) && b[k] < 0x80 { return nil }  // the TLD is letters
        return start..<end
    }

    /// Local part bytes; UTF-8 beyond ASCII counts too (RFC 6531 addresses: `josé@…`).
    private static func isLocal(_ c: UInt8) -> Bool {
        Byte.isAlnum(c) || c >= 0x80 || c == 0x2E || c == 0x5F || c == 0x25 || c == 0x2B || c == 0x2D
    }

    /// Country code, check digits and BBAN of the country's exact length, optionally in
    /// groups of four separated by spaces; the mod-97 check (ISO 13616) must hold.
    static func iban(_ b: Buffer, _ start: Int) -> Int? {
        guard Byte.isUpper(b.at(start + 1)), Byte.isDigit(b.at(start + 2)), Byte.isDigit(b.at(start + 3)),
              let length = ibanLengths[String(decoding: [b[start], b[start + 1]], as: UTF8.self)] else { return nil }
        var chars: [UInt8] = []
        chars.reserveCapacity(length)
        var i = start
        while chars.count < length, i < b.count {
            let c = b[i]
            if Byte.isUpper(c) || Byte.isDigit(c) {
                chars.append(c)
                i += 1
            } else if c == 0x20, chars.count % 4 == 0, Byte.isAlnum(b.at(i + 1)) {
                i += 1
            } else {
                break
            }
        }
        guard chars.count == length, !Byte.isWord(b.at(i)) else { return nil }
        // Rearranged (first four to the end), letters as 10-35, the number mod 97 must be 1.
        var remainder = 0
        for c in chars[4...] + chars[..<4] {
            if Byte.isDigit(c) {
                remainder = (remainder * 10 + Byte.digit(c)) % 97
            } else {
                remainder = (remainder * 100 + Int(c) - 55) % 97
            }
        }
        return remainder == 1 ? i : nil
    }

    /// IBAN lengths by country (SWIFT IBAN registry).
    static let ibanLengths: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
        "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
        "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
        "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
        "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
        "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
        "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
        "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    ]

    /// RFC 4291 text forms: eight groups, or fewer with one `::`, optionally ending in a
    /// dotted quad. Times (`12:30:45`) and MAC addresses have neither shape.
    static func ipv6(_ b: Buffer, _ start: Int) -> Int? {
        var i = start, groups = 0, compressed = false, end = start
        if b.at(i) == 0x3A {
            guard b.at(i + 1) == 0x3A else { return nil }
            compressed = true
            i += 2
            end = i
        }
        while groups < 8 {
            var length = 0
            while length < 5, Byte.isHex(b.at(i + length)) { length += 1 }
            if length == 0 || length > 4 { break }
            if b.at(i + length) == 0x2E, groups <= 6, let v4end = NumberDetectors.ipv4(b, i) {
                groups += 2
                end = v4end
                i = v4end
                break
            }
            groups += 1
            i += length
            end = i
            guard b.at(i) == 0x3A else { break }
            if b.at(i + 1) == 0x3A {
                guard !compressed else { return nil }
                compressed = true
                i += 2
                end = i
            } else if Byte.isHex(b.at(i + 1)) {
                i += 1
            } else {
                break
            }
        }
        // `::1` stands alone; after a word (`Vec::add`) it is a path in code.
        let leading = b.at(start) == 0x3A && !Byte.isWord(b.at(start - 1))
        guard compressed ? (groups >= (leading ? 1 : 2) && groups <= 7) : groups == 8 else { return nil }
        guard !Byte.isWord(b.at(end)), b.at(end) != 0x3A else { return nil }
        return end
    }
}
