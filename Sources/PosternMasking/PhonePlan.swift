/// A region's numbering plan, as far as a detector needs it: the trunk prefix national
/// numbers are written with, and for fixed and mobile numbers the lengths of the national
/// number and the three-digit prefixes it can start with. The tables are generated from
/// libphonenumber's metadata (`scripts/phone-plans`), so that digit groups that are not a
/// number anyone can dial (prices, ids, dates) stay as they are.
public struct PhonePlan: Sendable {
    struct Kind: Sendable {
        /// Bit n: a national number of n digits.
        var lengths: UInt32
        /// Bit p (0-999): a national number can start with the three digits of p.
        var prefixes: [UInt64]

        func accepts(length: Int, prefix: Int) -> Bool {
            length < 32 && lengths & (1 << UInt32(length)) != 0 && prefixes[prefix >> 6] & (1 << UInt64(prefix & 63)) != 0
        }
    }

    public let region: String
    /// "0" for most; empty where numbers are written whole (Spain, Italy, Singapore...).
    let trunk: String
    /// People write mobiles without the trunk prefix too (India, Brazil, China...).
    let trunkOptional: Bool
    let kinds: [Kind]
    /// How its national numbers are written: the digits of each group (the trunk prefix in
    /// the first), four bits a group, from libphonenumber's national formats.
    let shapes: [UInt64]

    /// The plans of `regions` (ISO 3166 codes, any case); nil names the unknown ones.
    public static func named(_ regions: [String]) -> (plans: [PhonePlan], unknown: [String]) {
        var plans: [PhonePlan] = [], unknown: [String] = []
        for region in regions {
            if let plan = all.first(where: { $0.region == region.uppercased() }) { plans.append(plan) } else { unknown.append(region) }
        }
        return (plans, unknown)
    }

    public static var regions: [String] { all.map(\.region) }

    /// The plans used when a policy names no `phone_regions`.
    public static let defaults = named(defaultRegions).plans

    /// `digits` (a whole number as written nationally, at most 15), in groups of `shape`
    /// (packed as `shapes`), is a number of this region.
    func accepts(_ digits: UnsafeBufferPointer<UInt8>, shape: UInt64) -> Bool {
        guard shapes.contains(shape) else { return false }
        if !trunk.isEmpty, digits.first == 0x30 {
            return acceptsNational(UnsafeBufferPointer(rebasing: digits[1...]))
        }
        return (trunk.isEmpty || trunkOptional) && digits.first != 0x30 && acceptsNational(digits)
    }

    private func acceptsNational(_ n: UnsafeBufferPointer<UInt8>) -> Bool {
        guard n.count >= 8 else { return false }
        let prefix = Byte.digit(n[0]) * 100 + Byte.digit(n[1]) * 10 + Byte.digit(n[2])
        return kinds.contains { $0.accepts(length: n.count, prefix: prefix) }
    }
}

extension NumberDetectors {
    /// A national number as people write it in `plans`' regions, without the international
    /// prefix: digit groups split by single spaces, dashes or dots, or an area code in
    /// brackets (`030 12345678`, `079 123 45 67`, `612 34 56 78`, `(11) 91234-5678`,
    /// `9123 4567`, `98765 43210`, `03-1234-5678`), valid in one region's plan and written in
    /// one of its shapes. Dates and dotted thousands are not numbers.
    static func regionalPhone(_ b: Buffer, _ start: Int, plans: [PhonePlan]) -> Int? {
        guard !plans.isEmpty else { return nil }
        // One pass, nothing allocated: most digit runs (counts, floats, prices) stop here.
        var i = start, digits = 0, length = 0, groups = 0
        var shape: UInt64 = 0
        var separators: (UInt8, UInt8) = (0, 0), dotted = false, threesAfterFirst = true
        func close(_ separator: UInt8) -> Bool {
            guard groups < 8, length < 16 else { return false }
            shape |= UInt64(length) << UInt64(4 * groups)
            if groups > 0, length != 3 { threesAfterFirst = false }
            if groups == 0 { separators.0 = separator } else if groups == 1 { separators.1 = separator }
            if separator == 0x2E { dotted = true }
            groups += 1
            length = 0
            return true
        }
        if b[i] == 0x28 {  // (11) 91234-5678
            i += 1
            while Byte.isDigit(b.at(i)) { length += 1; i += 1 }
            digits = length
            guard (2...5).contains(length), b.at(i) == 0x29, close(0x29) else { return nil }
            i += b.at(i + 1) == 0x20 ? 2 : 1
            guard Byte.isDigit(b.at(i)) else { return nil }
        }
        while i < b.count {
            let c = b[i]
            if Byte.isDigit(c) {
                digits += 1
                length += 1
                i += 1
            } else if c == 0x20 || c == 0x2D || c == 0x2E, length > 0, Byte.isDigit(b.at(i + 1)) {
                guard close(c) else { return nil }
                i += 1
            } else {
                break
            }
            if digits > 15 { return nil }
        }
        guard close(0), groups >= 2, digits >= 8 else { return nil }
        if dotted, threesAfterFirst { return nil }  // 1.299.000
        // 0577-0300-2636: dashed groups of four are ids and serials (Germany's plan allows
        // nearly any digits after the trunk 0, so the plan alone would take them).
        if groups >= 3, separators == (0x2D, 0x2D), shape & 0xFFF == 0x444 { return nil }
        if groups >= 3, separators.0 == separators.1, separators.0 != 0x20, separators.0 != 0x29,
           isDate(b, start, shape) { return nil }
        // The whole run of groups, or nothing: digit groups that go on past a number are an
        // id or a card more likely than a number with another after it.
        guard endsPhone(b, i), !isDecimalContinuation(b, i) else { return nil }
        let end = i
        let accepted = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { number -> Bool in
            var n = 0
            for k in start..<end where Byte.isDigit(b[k]) {
                number[n] = b[k]
                n += 1
            }
            let whole = UnsafeBufferPointer(rebasing: number[..<n])
            return plans.contains { $0.accepts(whole, shape: shape) }
        }
        return accepted ? end : nil
    }

    /// `05.12.2023`, `2023-12-05`, `12-05-2023 10:30`: day, month and year first (groups of
    /// `shape` from `start`, one separator between each), not a number to call.
    private static func isDate(_ b: Buffer, _ start: Int, _ shape: UInt64) -> Bool {
        let lengths = (Int(shape & 0xF), Int(shape >> 4 & 0xF), Int(shape >> 8 & 0xF))
        func value(_ at: Int, _ n: Int) -> Int { (at..<(at + n)).reduce(0) { $0 * 10 + Byte.digit(b[$1]) } }
        let first = value(start, lengths.0)
        let second = value(start + lengths.0 + 1, lengths.1)
        let third = value(start + lengths.0 + lengths.1 + 2, lengths.2)
        let year: Int, a: Int, c: Int
        switch lengths {
        case (4, 2, 2): (year, a, c) = (first, second, third)
        case (2, 2, 4): (a, c, year) = (first, second, third)
        default: return false
        }
        return (1900...2199).contains(year) && (1...31).contains(a) && (1...31).contains(c) && min(a, c) <= 12
    }
}
