import Testing
@testable import PosternCore

@Suite struct RequestIDTests {
    @Test(arguments: ["abc", "trace-123.abc", "0af7651916cd43dd8448eb211c80319c", "a:b_c"])
    func acceptsSafeIDs(_ id: String) {
        #expect(RequestID.isAcceptable(id))
        #expect(RequestID.resolve(id) == id)
    }

    @Test(arguments: ["", "has space", "new\nline", "quote\"", String(repeating: "a", count: 129), "é"])
    func replacesUnsafeIDs(_ id: String) {
        #expect(!RequestID.isAcceptable(id))
        let resolved = RequestID.resolve(id)
        #expect(resolved != id && resolved.utf8.count == 32)
    }

    @Test func generatedIDsAreHexAndDistinct() {
        let ids = (0..<1000).map { _ in RequestID.generate() }
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }
}

@Suite struct HopByHopTests {
    @Test func dropsConnectionSpecificFieldsAndThoseNamedByConnection() {
        let headers = HeaderList([("Connection", "keep-alive, X-Hop"), ("x-hop", "1"), ("keep-alive", "5"),
                                  ("transfer-encoding", "chunked"), ("upgrade", "h2c"), ("te", "trailers"),
                                  ("expect", "100-continue"), ("content-type", "application/json")])
        let forwarded = HopByHop.forwarded(headers, requestID: "r1")
        #expect(forwarded.fields == [HeaderField("content-type", "application/json"), HeaderField("x-request-id", "r1")])
    }

    @Test func replacesTheCallersRequestID() {
        let headers = HeaderList([("x-request-id", "theirs"), ("accept", "*/*")])
        #expect(HopByHop.forwarded(headers, requestID: "ours").fields
            == [HeaderField("accept", "*/*"), HeaderField("x-request-id", "ours")])
    }

    @Test func keepsTETrailersForHTTP2Upstreams() {
        let headers = HeaderList([("te", "trailers"), ("content-type", "application/grpc")])
        #expect(HopByHop.forwarded(headers, requestID: "r", keepTETrailers: true)["te"] == "trailers")
        #expect(HopByHop.forwarded(headers, requestID: "r")["te"] == nil)
        let gzip = HeaderList([("te", "gzip")])
        #expect(HopByHop.forwarded(gzip, requestID: "r", keepTETrailers: true)["te"] == nil)
    }
}

@Suite struct ErrorResponseTests {
    @Test func httpErrorIsJSONWithCodeMessageAndRequestID() {
        let (head, body) = ErrorResponse.http(.upstreamUnavailable("cannot \"connect\"\n"), requestID: "r1")
        #expect(head.status == 502)
        #expect(head.headers["content-type"] == "application/json")
        #expect(head.headers["content-length"] == String(body.utf8.count))
        #expect(head.headers["x-request-id"] == "r1")
        #expect(body == #"{"error":{"code":"upstream_unavailable","message":"cannot \"connect\"\n","request_id":"r1"}}"# + "\n")
    }

    @Test func openInferenceErrorsAreAMessageString() {
        let (head, body) = ErrorResponse.http(.noRoute("/v2/x"), requestID: "r1", dialect: .openInference)
        #expect(head.status == 404 && head.headers["content-length"] == String(body.utf8.count))
        #expect(body == #"{"error":"no route for /v2/x","code":"no_route","request_id":"r1"}"# + "\n")
        #expect(ErrorDialect.forPath("/v2/models/m/infer") == .openInference)
        #expect(ErrorDialect.forPath("/v2") == .openInference)
        #expect(ErrorDialect.forPath("/v1/chat/completions") == .openAI)
        #expect(ErrorDialect.forPath("/v2x") == .openAI)
    }

    @Test func grpcErrorIsTrailersOnlyWithStatus() {
        let head = ErrorResponse.grpc(.upstreamTimeout("slow"), requestID: "r2")
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "application/grpc")
        #expect(head.headers["grpc-status"] == "4")
        #expect(head.headers["grpc-message"] == "slow")
    }

    @Test func grpcMessageIsPercentEncoded() {
        #expect(GRPCStatus.encodeMessage("100% ok") == "100%25 ok")
        #expect(GRPCStatus.encodeMessage("naïve\n") == "na%C3%AFve%0A")
    }

    @Test func jsonQuoteEscapesControlCharacters() {
        #expect(JSONText.quote("a\u{01}b\tc") == #""a\u0001b\tc""#)
    }
}
