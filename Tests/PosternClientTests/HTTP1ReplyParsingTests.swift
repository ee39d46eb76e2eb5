import Testing
@testable import PosternClient

@Suite struct HTTP1ReplyParsingTests {
    private func parse(_ text: String, complete: Bool = false) -> Result<HTTP1Reply, HTTP1Client.Failure> {
        HTTP1Client.parse(Array(text.utf8), complete: complete)
    }

    @Test func aChunkedBodyIsJoined() throws {
        let reply = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").get()
        #expect(reply.status == 200 && reply.body == Array("abcde".utf8))
    }

    @Test func aContentLengthBodyIsWholeOnlyWhenItsBytesHaveCome() throws {
        #expect(throws: HTTP1Client.Failure.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", complete: true).get() }
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").get().body == Array("abc".utf8))
    }

    /// Found by the http1-reply fuzz target: Swift's `Int(_:radix:)` reads a sign, so a
    /// chunk of "-5" made a backwards range (a crash), as a huge size made an overflow.
    @Test(arguments: ["-5", "+5", "7fffffffffffffff", "ffffffffffffffffffff", " ", "0x5", "5 5"])
    func aChunkSizeThatIsNotPlainHexIsRefused(_ size: String) {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabcde\r\n0\r\n\r\n"
        #expect(throws: HTTP1Client.Failure.self) { try parse(text).get() }
        #expect(throws: HTTP1Client.Failure.self) { try parse(text, complete: true).get() }
    }

    @Test(arguments: ["-5", "+3", "3 3", "0x3", "99999999999999999999", ""])
    func aContentLengthThatIsNotPlainDigitsIsRefused(_ length: String) {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: \(length)\r\n\r\nabc"
        #expect(throws: HTTP1Client.Failure.self) { try parse(text).get() }
        #expect(throws: HTTP1Client.Failure.self) { try parse(text, complete: true).get() }
    }
}
