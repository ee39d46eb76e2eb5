/// The few messages of PostgreSQL's frontend/backend protocol (version 3) the journal
/// store speaks: start-up and authentication, the extended query protocol with text
/// parameters, and notifications. Pure byte building and parsing.
package enum PostgresMessage {
    // MARK: Frontend

    static func startup(user: String, database: String) -> [UInt8] {
        var body = int32(196_608)  // protocol 3.0
        for (key, value) in [("user", user), ("database", database), ("application_name", "postern"),
                             ("client_encoding", "UTF8")] {
            body += cString(key) + cString(value)
        }
        body.append(0)
        return int32(Int32(body.count + 4)) + body
    }

    static let sslRequest = int32(8) + int32(80_877_103)

    static func saslInitial(mechanism: String, _ data: String) -> [UInt8] {
        message("p", cString(mechanism) + int32(Int32(data.utf8.count)) + Array(data.utf8))
    }

    static func saslResponse(_ data: String) -> [UInt8] { message("p", Array(data.utf8)) }

    static func query(_ sql: String) -> [UInt8] { message("Q", cString(sql)) }

    /// Parse, Bind, Execute and Sync for one statement with text parameters (nil: NULL).
    static func extended(_ sql: String, _ parameters: [String?]) -> [UInt8] {
        var bind = cString("") + cString("") + int16(0) + int16(Int16(parameters.count))
        for parameter in parameters {
            if let parameter {
                bind += int32(Int32(parameter.utf8.count)) + Array(parameter.utf8)
            } else {
                bind += int32(-1)
            }
        }
        bind += int16(0)
        return message("P", cString("") + cString(sql) + int16(0)) + message("B", bind)
            + message("E", cString("") + int32(0)) + message("S", [])
    }

    static let terminate = message("X", [])

    // MARK: Backend

    /// One backend message: its type and body.
    package struct Backend: Equatable {
        package var type: UInt8
        package var body: [UInt8]
    }

    /// The next whole message in `buffer` (removed from it), or nil when more bytes are needed.
    package static func next(_ buffer: inout [UInt8]) throws(PostgresError) -> Backend? {
        guard buffer.count >= 5 else { return nil }
        let length = Int(buffer[1]) << 24 | Int(buffer[2]) << 16 | Int(buffer[3]) << 8 | Int(buffer[4])
        guard length >= 4, length <= 64 << 20 else { throw PostgresError("a malformed message from the server") }
        guard buffer.count >= 1 + length else { return nil }
        let message = Backend(type: buffer[0], body: Array(buffer[5..<(1 + length)]))
        buffer.removeFirst(1 + length)
        return message
    }

    /// An ErrorResponse's severity, code and message.
    package static func error(_ body: [UInt8]) -> PostgresError {
        var fields: [UInt8: String] = [:]
        var index = 0
        while index < body.count, body[index] != 0 {
            let type = body[index]
            let end = body[(index + 1)...].firstIndex(of: 0) ?? body.count
            fields[type] = String(decoding: body[(index + 1)..<end], as: UTF8.self)
            index = end + 1
        }
        return PostgresError("\(fields[UInt8(ascii: "S")] ?? "ERROR") \(fields[UInt8(ascii: "C")] ?? ""): "
                             + (fields[UInt8(ascii: "M")] ?? "unknown error"), code: fields[UInt8(ascii: "C")])
    }

    /// A DataRow's columns, as text (nil: NULL).
    package static func row(_ body: [UInt8]) throws(PostgresError) -> [String?] {
        guard body.count >= 2 else { throw PostgresError("a malformed row") }
        let count = Int(body[0]) << 8 | Int(body[1])
        var columns: [String?] = []
        var index = 2
        for _ in 0..<count {
            guard index + 4 <= body.count else { throw PostgresError("a malformed row") }
            let length = Int32(bitPattern: UInt32(body[index]) << 24 | UInt32(body[index + 1]) << 16
                               | UInt32(body[index + 2]) << 8 | UInt32(body[index + 3]))
            index += 4
            if length < 0 {
                columns.append(nil)
                continue
            }
            guard index + Int(length) <= body.count else { throw PostgresError("a malformed row") }
            columns.append(String(decoding: body[index..<(index + Int(length))], as: UTF8.self))
            index += Int(length)
        }
        return columns
    }

    package static func uint32(_ body: [UInt8], at index: Int = 0) -> UInt32? {
        guard body.count >= index + 4 else { return nil }
        return UInt32(body[index]) << 24 | UInt32(body[index + 1]) << 16 | UInt32(body[index + 2]) << 8 | UInt32(body[index + 3])
    }

    /// NUL-terminated strings in a body, from `index`.
    package static func strings(_ body: [UInt8], from index: Int = 0) -> [String] {
        guard index < body.count else { return [] }
        return body[index...].split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Parts

    private static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        [type.asciiValue!] + int32(Int32(body.count + 4)) + body
    }

    private static func cString(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }

    private static func int32(_ value: Int32) -> [UInt8] {
        let bits = UInt32(bitPattern: value)
        return [UInt8(bits >> 24), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits & 0xFF)]
    }

    private static func int16(_ value: Int16) -> [UInt8] {
        let bits = UInt16(bitPattern: value)
        return [UInt8(bits >> 8), UInt8(bits & 0xFF)]
    }
}

public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The SQLSTATE, for a server's error.
    public var code: String?
    init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }
}
