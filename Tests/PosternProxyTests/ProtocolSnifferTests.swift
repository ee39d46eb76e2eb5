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
        let (head, facts) = HeadTranslation.requestHead(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/x?y=1",
                                                                        headers: headers))
        #expect(facts == HeadTranslation.HTTP1Facts(headerListSize: 4 + 10 + 32 + 12 + 16 + 32, hostFields: 1))
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
    func facts(_ pairs: [(String, String)]) -> HeadTranslation.HTTP1Facts {
        HeadTranslation.requestHead(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: HTTPHeaders(pairs))).1
    }

    @Test func onlyDeclaredBodiesAreBodies() {
        #expect(!facts([]).declaresBody)
        #expect(!facts([("content-length", "0")]).declaresBody)
        #expect(facts([("content-length", "12")]).declaresBody)
        #expect(facts([("Transfer-Encoding", "chunked")]).declaresBody)
    }

    @Test func hostFieldsAndExpectationsAreCounted() {
        #expect(facts([("Host", "a"), ("host", "b")]).hostFields == 2)
        #expect(facts([("Expect", "100-Continue")]).expectsContinue)
        #expect(!facts([("expect", "something-else")]).expectsContinue)
    }
}
