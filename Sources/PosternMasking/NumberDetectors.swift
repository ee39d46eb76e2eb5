/// Detectors for values made of digits: payment cards, US SSNs, phone numbers, IPv4.
/// Each is called at the start of a digit run (or `+`/`(` for phones) and returns where
/// the value ends, or nil. Validation is what keeps look-alikes (order ids, timestamps,
/// dates, versions) intact.
enum NumberDetectors {
    typealias Buffer = UnsafeBufferPointer<UInt8>

    /// 13-19 digits, optionally grouped by single spaces or dashes, with a known issuer
    /// prefix for the length and a valid Luhn check digit. With groups, the longest valid
    /// prefix ending at a group boundary wins ("4111 1111 1111 1111 2024").
    static func card(_ b: Buffer, _ start: Int) -> Int? {
        // Called at every digit run: the digits and group ends live on the stack, not the heap.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 19) { digits in
            withUnsafeTemporaryAllocation(of: (end: Int, count: Int).self, capacity: 20) { candidates in
                card(b, start, digits: digits, candidates: candidates)
            }
        }
    }

    private static func card(_ b: Buffer, _ start: Int, digits: UnsafeMutableBufferPointer<UInt8>,
                             candidates: UnsafeMutableBufferPointer<(end: Int, count: Int)>) -> Int? {
        var count = 0, found = 0
        var i = start
        var separator: UInt8 = 0
        while i < b.count {
            let c = b[i]
            if Byte.isDigit(c) {
                guard count < 19 else {
                    if separator == 0 { return nil }  // one run of 20+ digits is not a card
                    break
                }
                digits[count] = c &- 0x30
                count += 1
                i += 1
                continue
            }
            if (c == 0x20 || c == 0x2D), Byte.isDigit(b.at(i + 1)), separator == 0 || separator == c {
                separator = c
                candidates[found] = (i, count)  // at most 18 group ends before the 19th digit
                found += 1
                i += 1
                continue
            }
            break
        }
        if count <= 19, !Byte.isDigit(b.at(i)) {
            candidates[found] = (i, count)
            found += 1
        }
        for (end, n) in candidates[..<found].reversed() where (13...19).contains(n) {
            if separator == 0, end != i { continue }
            guard !isDecimalContinuation(b, end), !Byte.isWord(b.at(end)) else { continue }
            let number = UnsafeBufferPointer(rebasing: digits[0..<n])
            if issuerAccepts(number), luhn(number) { return end }
        }
        return nil
    }

    /// Issuer identification ranges (ISO/IEC 7812) with the lengths each issues.
    static func issuerAccepts(_ d: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = d.count
        let two = Int(d[0]) * 10 + Int(d[1])
        let four = two * 100 + Int(d[2]) * 10 + Int(d[3])
        switch d[0] {
        case 4: return n == 13 || n == 16 || n == 19                           // Visa
        case 2: return (2221...2720).contains(four) && n == 16                   // Mastercard 2-series
        case 5: return (51...55).contains(two) ? n == 16 : n >= 12               // Mastercard, Maestro
        case 3:
            if two == 34 || two == 37 { return n == 15 }                         // Amex
            if (3528...3589).contains(four) { return n >= 16 }                   // JCB
            if two == 36 || two == 38 || two == 39 || (300...305).contains(four / 10) { return n >= 14 }  // Diners
            return false
        case 6: return n >= 16 || (n >= 12 && [60, 63, 67].contains(two))        // Discover, UnionPay, Maestro
        default: return false
        }
    }

    static func luhn(_ d: UnsafeBufferPointer<UInt8>) -> Bool {
        var sum = 0
        for (offset, digit) in d.reversed().enumerated() {
            var v = Int(digit)
            if offset & 1 == 1 {
                v *= 2
                if v > 9 { v -= 9 }
            }
            sum += v
        }
        return sum % 10 == 0
    }

    /// `123-45-6789` or `123 45 6789` with a valid area, group and serial; 9 digits in a
    /// row only where the context names an SSN (`ssnContext`).
    static func ssn(_ b: Buffer, _ start: Int, ssnContext: () -> Bool) -> Int? {
        func digits(_ at: Int, _ n: Int) -> Int? {
            var v = 0
            for k in 0..<n {
                let c = b.at(at + k)
                guard Byte.isDigit(c) else { return nil }
                v = v * 10 + Byte.digit(c)
            }
            return v
        }
        let sep = b.at(start + 3)
        let grouped = (sep == 0x2D || sep == 0x20) && b.at(start + 6) == sep
        guard grouped || (Byte.isDigit(b.at(start + 8)) && !Byte.isDigit(b.at(start + 9)) && ssnContext()) else { return nil }
        let groupAt = grouped ? start + 4 : start + 3
        let serialAt = grouped ? start + 7 : start + 5
        let end = serialAt + 4
        guard let area = digits(start, 3), let group = digits(groupAt, 2), let serial = digits(serialAt, 4),
              !Byte.isWord(b.at(end)), !isDecimalContinuation(b, end),
              !continuesWithDigitGroup(b, end, separator: grouped ? sep : 0x2D) else { return nil }
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return nil }
        return end
    }

    /// Seven or eight digits from the start of `b`: an SSN whose leading zeros a number
    /// dropped, valid once they are put back (area 001-099).
    static func ssnWithoutLeadingZeros(_ b: Buffer) -> Int? {
        var end = 0
        var value = 0
        while end < b.count, Byte.isDigit(b[end]) {
            value = value * 10 + Byte.digit(b[end])
            end += 1
            if end > 8 { return nil }
        }
        guard end >= 7 else { return nil }
        let area = value / 1_000_000, group = value / 10_000 % 100, serial = value % 10_000
        guard area != 0, group != 0, serial != 0 else { return nil }
        return end
    }

    /// After `end`, `separator` and a group of digits that ends the word: the value so far is
    /// part of a longer number (`123-45-6789-12`), not a word that starts with digits
    /// (`123 45 6789 110eecd`, a hash after it).
    private static func continuesWithDigitGroup(_ b: Buffer, _ end: Int, separator: UInt8) -> Bool {
        guard b.at(end) == separator, Byte.isDigit(b.at(end + 1)) else { return false }
        var i = end + 1
        while Byte.isDigit(b.at(i)) { i += 1 }
        return !Byte.isLetter(b.at(i))
    }

    /// E.164 (`+` and 8-15 digits, spaces, dashes, dots or one parenthesised group),
    /// North American `(555) 123-4567` / `555-123-4567` / `1-800-555-0199`, and national
    /// numbers with a trunk 0 (`020 7946 0958`, `01 23 45 67 89`, `(02) 9876 5432`).
    static func phone(_ b: Buffer, _ start: Int) -> Int? {
        let first = b[start]
        if first == UInt8(ascii: "+") { return international(b, start) }
        if first == UInt8(ascii: "(") { return b.at(start + 1) == 0x30 ? national(b, start) : northAmerican(b, start) }
        if first == UInt8(ascii: "0") { return national(b, start) }
        return northAmerican(b, start)
    }

    private static func international(_ b: Buffer, _ start: Int) -> Int? {
        guard Byte.isDigit(b.at(start + 1)), b.at(start + 1) != 0x30 else { return nil }
        var i = start + 1, digits = 0, end = start
        var open = false
        while i < b.count {
            let c = b[i]
            if Byte.isDigit(c) {
                digits += 1
                i += 1
                end = i
            } else if (c == 0x20 || c == 0x2D || c == 0x2E), Byte.isDigit(b.at(i + 1)) || b.at(i + 1) == 0x28 {
                i += 1
            } else if c == 0x28, !open, Byte.isDigit(b.at(i + 1)) {
                open = true
                i += 1
            } else if c == 0x29, open, b.at(i + 1) == 0x20 || Byte.isDigit(b.at(i + 1)) {
                open = false
                i += 1
            } else {
                break
            }
            if digits > 15 { return nil }
        }
        guard (8...15).contains(digits), !open, endsPhone(b, end), !isDecimalContinuation(b, end) else { return nil }
        return end
    }

    private static func northAmerican(_ b: Buffer, _ start: Int) -> Int? {
        var i = start
        if b.at(i) == 0x31, [0x2D, 0x20, 0x2E].contains(b.at(i + 1)) { i += 2 }  // leading 1-
        let areaStart = b.at(i) == 0x28 ? i + 1 : i
        guard let afterArea = run(b, areaStart, 3), (0x32...0x39).contains(b.at(areaStart)) else { return nil }
        var sep: UInt8
        var j: Int
        if b.at(i) == 0x28 {
            guard b.at(afterArea) == 0x29 else { return nil }
            j = afterArea + 1
            if b.at(j) == 0x20 { j += 1 }
            sep = 0
        } else {
            sep = b.at(afterArea)
            guard sep == 0x2D || sep == 0x2E || sep == 0x20 else { return nil }
            j = afterArea + 1
        }
        guard let afterExchange = run(b, j, 3) else { return nil }
        let sep2 = b.at(afterExchange)
        guard sep2 == 0x2D || sep2 == 0x2E || sep2 == 0x20, sep == 0 || sep2 == sep,
              let end = run(b, afterExchange + 1, 4) else { return nil }
        guard endsPhone(b, end), !isDecimalContinuation(b, end),
              !((b.at(end) == sep2) && Byte.isDigit(b.at(end + 1))) else { return nil }
        return end
    }

    /// A trunk-0 national number: two or three groups of 3+ digits, the first maybe of two
    /// (`020 7946 0958`, `0412 345 678`, `02 9876 5432`), five pairs (`01 23 45 67 89`,
    /// `06.12.34.56.78`), or an area code in brackets before the rest (`(030) 1234567`).
    private static func national(_ b: Buffer, _ start: Int) -> Int? {
        var i = start
        let bracketed = b[start] == 0x28
        if bracketed { i += 1 }
        guard b.at(i) == 0x30, Byte.isDigit(b.at(i + 1)), b.at(i + 1) != 0x30 else { return nil }
        var groups: [(length: Int, end: Int)] = []
        var length = 0
        var sep: UInt8 = 0
        while i < b.count {
            let c = b[i]
            if Byte.isDigit(c) {
                length += 1
                i += 1
            } else if bracketed, groups.isEmpty, c == 0x29 {
                groups.append((length, i + 1))
                length = 0
                i += b.at(i + 1) == 0x20 ? 2 : 1
                guard Byte.isDigit(b.at(i)) else { return nil }
            } else if c == 0x20 || c == 0x2D || c == 0x2E, sep == 0 || sep == c, length > 0,
                      !(bracketed && groups.isEmpty), Byte.isDigit(b.at(i + 1)) {
                sep = c
                groups.append((length, i))
                length = 0
                i += 1
            } else {
                break
            }
        }
        groups.append((length, i))  // the loop stops right after a digit
        // The whole run, or, with spaces, its longest leading groups that make a number
        // (`02 76 57 53 31 172…`: another number follows).
        for count in stride(from: groups.count, through: 2, by: -1) where count == groups.count || sep == 0x20 {
            let end = groups[count - 1].end
            if nationalShape(groups[..<count].map(\.length), bracketed: bracketed), endsPhone(b, end),
               !isDecimalContinuation(b, end) {
                return end
            }
        }
        return nil
    }

    private static func nationalShape(_ groups: [Int], bracketed: Bool) -> Bool {
        let digits = groups.reduce(0, +)
        let rest = groups.dropFirst()
        if bracketed {
            return (2...5).contains(groups[0]) && rest.count <= 2 && rest.allSatisfy({ $0 >= 3 }) && (9...11).contains(digits)
        }
        if groups.count == 5 { return groups.allSatisfy { $0 == 2 } }
        // The first group may be a two-digit area code (`02 9876 5432`, `06 1234 5678`).
        return (2...3).contains(groups.count) && groups[0] >= 2 && rest.allSatisfy({ $0 >= 3 }) && (10...11).contains(digits)
    }

    /// 8-15 digits in one run, optionally after `+`: a phone number only where the context
    /// names one (a `phone`/`mobile` member), as with nine-digit SSNs.
    /// `shortest`: 8 under a member named for a phone (Singapore's, Denmark's eight digits),
    /// 10 where only the words before say so.
    static func bareDigitsPhone(_ b: Buffer, _ start: Int, shortest: Int = 10) -> Int? {
        var i = b[start] == 0x2B ? start + 1 : start
        let first = i
        while Byte.isDigit(b.at(i)) { i += 1 }
        guard (shortest...15).contains(i - first), !Byte.isWord(b.at(i)), !isDecimalContinuation(b, i) else { return nil }
        return i
    }

    /// Dotted quad, each part 0-255 without leading zeros, not inside a longer dotted run.
    static func ipv4(_ b: Buffer, _ start: Int) -> Int? {
        var i = start
        for part in 0..<4 {
            var value = 0, length = 0
            while Byte.isDigit(b.at(i)), length < 4 {
                value = value * 10 + Byte.digit(b[i])
                length += 1
                i += 1
            }
            guard (1...3).contains(length), value <= 255, length == 1 || b[i - length] != 0x30 else { return nil }
            if part < 3 {
                guard b.at(i) == 0x2E else { return nil }
                i += 1
            }
        }
        guard !Byte.isWord(b.at(i)), !(b.at(i) == 0x2E && Byte.isAlnum(b.at(i + 1))) else { return nil }
        return i
    }

    /// Exactly `n` digits from `at`; the index after them.
    private static func run(_ b: Buffer, _ at: Int, _ n: Int) -> Int? {
        for k in 0..<n where !Byte.isDigit(b.at(at + k)) { return nil }
        return at + n
    }

    /// A phone number ends at a word boundary, or where an extension starts (`…2671x12`).
    static func endsPhone(_ b: Buffer, _ end: Int) -> Bool {
        !Byte.isWord(b.at(end)) || (b.at(end) == 0x78 && Byte.isDigit(b.at(end + 1)))
    }

    /// `end` is followed by `.5`: the digits were the integer part of a decimal.
    static func isDecimalContinuation(_ b: Buffer, _ end: Int) -> Bool {
        b.at(end) == 0x2E && Byte.isDigit(b.at(end + 1))
    }
}
