import NIOCore
import NIOHTTP1
import Testing
@testable import PosternCore
@testable import PosternProxy

@Suite struct ProtocolSnifferTests {
    func verdict(_ text: String) -> ProtocolSniffer.Verdict {
        ProtocolSniffer.classify(ByteBuffer(string: text).readableBytesView)
    }

    @Test func recognisesThePreface() {
        #expect(verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .http2)
        #expect(verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}") == .http2)
    }

    @Test func waitsForMoreWhileAPrefixMatches() {
        #expect(verdict("") == .undecided)
        #expect(verdict("P") == .undecided)
        #expect(verdict("PRI * HTTP/2") == .undecided)
    }

    @Test func anythingElseIsHTTP1() {
        #expect(verdict("GET / HTTP/1.1\r\n") == .http1)
        #expect(verdict("POST") == .http1)
        #expect(verdict("PRI * HTTP/1.1") == .http1)
        #expect(verdict("\u{16}\u{03}\u{01}") == .http1)
    }
}

@Suite struct HeadTranslationTests {
    @Test func http1RequestBecomesNeutralWithHostAsAuthority() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "model:8000")
        headers.add(name: "Content-Type", value: "application/json")
        let head = HeadTranslation.requestHead(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/x?y=1",
                                                               headers: headers))
        #expect(head.authority == "model:8000")
        #expect(head.headers.fields == [HeaderField("content-type", "application/json")])
        #expect(head.pathWithoutQuery == "/v1/x")
    }

    @Test func bodyFramingForHTTP1Upstreams() {
        let post = RequestHead(method: "POST", authority: "a", path: "/")
        #expect(HeadTranslation.http1Request(post, hasBody: true).headers["transfer-encoding"] == ["chunked"])
        #expect(HeadTranslation.http1Request(post, hasBody: false).headers["content-length"] == ["0"])
        let get = RequestHead(method: "GET", authority: "a", path: "/")
        #expect(HeadTranslation.http1Request(get, hasBody: false).headers["content-length"].isEmpty)
        var sized = post
        sized.headers.add("content-length", "5")
        #expect(HeadTranslation.http1Request(sized, hasBody: true).headers["transfer-encoding"].isEmpty)
    }
}

@Suite struct HTTP1BodyFramingTests {
    func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

    @Test func onlyDeclaredBodiesAreBodies() {
        #expect(!HTTP1ServerHandler.declaresBody(headers([])))
        #expect(!HTTP1ServerHandler.declaresBody(headers([("content-length", "0")])))
        #expect(HTTP1ServerHandler.declaresBody(headers([("content-length", "12")])))
        #expect(HTTP1ServerHandler.declaresBody(headers([("Transfer-Encoding", "chunked")])))
    }
}
