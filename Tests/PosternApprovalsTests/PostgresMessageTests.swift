import Testing
@testable import PosternStore

/// The PostgreSQL messages the store builds and reads, byte for byte.
@Suite struct PostgresMessageTests {
    @Test func theStartupMessageNamesProtocolThreeAndTheUser() {
        let message = PostgresMessage.startup(user: "u", database: "d")
        #expect(Array(message[0..<8]) == [0, 0, 0, UInt8(message.count), 0, 3, 0, 0])
        #expect(String(decoding: message[8...], as: UTF8.self).hasPrefix("user\u{0}u\u{0}database\u{0}d\u{0}"))
        #expect(message.last == 0)
        #expect(PostgresMessage.sslRequest == [0, 0, 0, 8, 4, 210, 22, 47])
    }

    @Test func parametersAreBoundAsTextNeverSpliced() {
        let message = PostgresMessage.extended("SELECT $1", ["it's", nil])
        let text = String(decoding: message, as: UTF8.self)
        #expect(text.contains("SELECT $1") && text.contains("it's"))
        // Bind: two parameters, the second NULL (length -1).
        #expect(message.windowsContain([0, 2, 0, 0, 0, 4] + Array("it's".utf8) + [255, 255, 255, 255]))
    }

    @Test func backendMessagesAreFramedRowsAndErrorsRead() throws {
        var buffer: [UInt8] = [UInt8(ascii: "D"), 0, 0, 0, 15, 0, 2, 0, 0, 0, 1, UInt8(ascii: "7"), 255, 255, 255, 255,
                               UInt8(ascii: "Z"), 0, 0]
        let row = try #require(try PostgresMessage.next(&buffer))
        #expect(try PostgresMessage.row(row.body) == ["7", nil])
        #expect(try PostgresMessage.next(&buffer) == nil)  // ReadyForQuery not whole yet
        buffer += [0, 5, UInt8(ascii: "I")]
        #expect(try PostgresMessage.next(&buffer)?.type == UInt8(ascii: "Z"))
        let error = PostgresMessage.error(Array("SERROR\u{0}C42P01\u{0}Mrelation \"x\" does not exist\u{0}\u{0}".utf8))
        #expect(error.code == "42P01" && error.description.contains("does not exist"))
        var hostile: [UInt8] = [UInt8(ascii: "D"), 0x7F, 0xFF, 0xFF, 0xFF]
        #expect(throws: PostgresError.self) { _ = try PostgresMessage.next(&hostile) }
        #expect(throws: PostgresError.self) { _ = try PostgresMessage.row([0, 1, 0, 0, 0, 9, 1]) }
    }
}

private extension Array where Element == UInt8 {
    func windowsContain(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
