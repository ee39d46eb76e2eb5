/// A small JSON tree for documents Postern rewrites as a whole (one SSE event's data):
/// members keep their order, numbers keep their text, strings their decoded bytes.
indirect enum JSONNode: Equatable {
    case object([(String, JSONNode)])
    case array([JSONNode])
    case string([UInt8])
    /// A string already masked (a streamed text released by its held stream): written as
    /// a string, never masked again on its own, which would lose the context it was judged in.
    case masked([UInt8])
    case number([UInt8])
    case bool(Bool)
    case null

    static func == (a: JSONNode, b: JSONNode) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): x == y
        case (.string(let x), .string(let y)), (.masked(let x), .masked(let y)), (.number(let x), .number(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    subscript(key: String) -> JSONNode? {
        get {
            guard case .object(let members) = self else { return nil }
            return members.first { $0.0 == key }?.1
        }
        set {
            guard case .object(var members) = self else { return }
            if let index = members.firstIndex(where: { $0.0 == key }) {
                if let newValue { members[index].1 = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key, newValue))
            }
            self = .object(members)
        }
    }

    /// Some object, at any depth, has two members of one name (parsers disagree on which wins).
    var hasRepeatedMember: Bool {
        switch self {
        case .object(let members):
            var names = Set<String>()
            return members.contains { !names.insert($0.0).inserted || $0.1.hasRepeatedMember }
        case .array(let items):
            return items.contains { $0.hasRepeatedMember }
        default:
            return false
        }
    }

    // MARK: Parsing (strict: the whole input, one value, bounded depth)

    static func parse(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONNode? {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.i == bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        }

        mutating func value(depth: Int) -> JSONNode? {
            skipSpace()
            guard i < bytes.count, depth < maxDepth else { return nil }
            switch bytes[i] {
            case 0x7B:
                i += 1
                var members: [(String, JSONNode)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == 0x7D { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard case .string(let key)? = string(), JSONString.isValidUTF8(key) else { return nil }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == 0x3A else { return nil }
                    i += 1
                    guard let v = value(depth: depth + 1) else { return nil }
                    members.append((String(decoding: key, as: UTF8.self), v))
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x7D { i += 1; return .object(members) }
                    return nil
                }
            case 0x5B:
                i += 1
                var items: [JSONNode] = []
                skipSpace()
                if i < bytes.count, bytes[i] == 0x5D { i += 1; return .array(items) }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    items.append(v)
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x5D { i += 1; return .array(items) }
                    return nil
                }
            case 0x22:
                return string()
            case 0x74: return literal("true", .bool(true))
            case 0x66: return literal("false", .bool(false))
            case 0x6E: return literal("null", .null)
            default:
                let start = i
                while i < bytes.count, Byte.isDigit(bytes[i]) || [0x2D, 0x2B, 0x2E, 0x65, 0x45].contains(bytes[i]) { i += 1 }
                let number = Array(bytes[start..<i])
                return JSONMasker.isNumber(number) ? .number(number) : nil
            }
        }

        mutating func string() -> JSONNode? {
            guard i < bytes.count, bytes[i] == 0x22 else { return nil }
            let start = i + 1
            var j = start
            while j < bytes.count, bytes[j] != 0x22 {
                j += bytes[j] == 0x5C ? 2 : 1
            }
            guard j < bytes.count else { return nil }
            i = j + 1
            let decoded = bytes.withUnsafeBufferPointer { JSONString.decode(UnsafeBufferPointer(rebasing: $0[start..<j])) }
            return decoded.map { .string($0) }
        }

        mutating func literal(_ word: StaticString, _ node: JSONNode) -> JSONNode? {
            let n = word.utf8CodeUnitCount
            let matches = bytes.withUnsafeBufferPointer { $0.hasPrefix(word, at: i) }
            guard matches else { return nil }
            i += n
            return node
        }
    }

    // MARK: Writing (compact)

    func write(into out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(0x7B)
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(0x2C) }
                JSONString.encode(Array(key.utf8), into: &out)
                out.append(0x3A)
                value.write(into: &out)
            }
            out.append(0x7D)
        case .array(let items):
            out.append(0x5B)
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(0x2C) }
                item.write(into: &out)
            }
            out.append(0x5D)
        case .string(let bytes), .masked(let bytes): JSONString.encode(bytes, into: &out)
        case .number(let bytes): out += bytes
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .null: out += Array("null".utf8)
        }
    }
}
