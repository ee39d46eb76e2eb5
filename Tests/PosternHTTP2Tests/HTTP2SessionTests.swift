import NIOCore
import Testing
@testable import PosternCore
@testable import PosternHTTP2

/// A client and a server session wired back to back in memory.
final class SessionPair {
    let client: HTTP2Session
    let server: HTTP2Session
    var clientEvents: [HTTP2Event] = []
    var serverEvents: [HTTP2Event] = []

    init(server settings: HTTP2Settings = HTTP2Settings()) throws {
        client = try HTTP2Session(role: .client)
        server = try HTTP2Session(role: .server, settings: settings)
    }

    /// Moves bytes both ways until neither side has anything to send.
    func pump() throws {
        for _ in 0..<100 {
            var toServer = ByteBuffer()
            var toClient = ByteBuffer()
            try client.send(into: &toServer)
            try server.send(into: &toClient)
            if toServer.readableBytes == 0 && toClient.readableBytes == 0 { break }
            if toServer.readableBytes > 0 { try server.receive(toServer) }
            if toClient.readableBytes > 0 { try client.receive(toClient) }
            clientEvents += take(client)
            serverEvents += take(server)
        }
        clientEvents += take(client)
        serverEvents += take(server)
    }

    private func take(_ session: HTTP2Session) -> [HTTP2Event] {
        var events: [HTTP2Event] = []
        session.dispatchEvents { events.append($0) }
        return events
    }

    func received(_ events: [HTTP2Event], on stream: Int32) -> Int {
        events.reduce(0) {
            if case .data(stream, let data) = $1 { return $0 + data.readableBytes }
            return $0
        }
    }
}

@Suite struct HTTP2SessionTests {
    let head = RequestHead(method: "POST", authority: "model", path: "/v1/chat/completions",
                           headers: HeaderList([("content-type", "application/json")]))

    @Test func requestIDsStayOutOfTheHPACKTable() throws {
        let pair = try SessionPair()
        var sizes: [Int] = []
        for n in 0..<3 {
            var request = head
            request.headers.add("x-request-id", "0123456789abcdef0123456789abcde\(n)")
            _ = try pair.client.submitRequest(head: request, endStream: true)
            try pair.pump()
            sizes.append(pair.client.encoderTableSize)
        }
        // The other fields are the same each time: indexed once, then referenced.
        #expect(sizes[0] > 0)
        #expect(sizes[1] == sizes[0] && sizes[2] == sizes[0])
        #expect(pair.serverEvents.filter { if case .headers = $0 { true } else { false } }.count == 3)
    }

    @Test func requestAndResponseWithBodiesAndTrailers() throws {
        let pair = try SessionPair()
        let id = try pair.client.submitRequest(head: head, endStream: false)
        pair.client.sendData(streamID: id, ByteBuffer(string: "{\"q\":1}"))
        pair.client.sendEnd(streamID: id)
        try pair.pump()

        guard case .headers(id, let pseudo, let fields, false, false) = pair.serverEvents.first else {
            Issue.record("no request headers: \(pair.serverEvents)")
            return
        }
        #expect(pseudo == PseudoHeaders(method: "POST", scheme: "http", authority: "model", path: "/v1/chat/completions"))
        #expect(!fields.contains { $0.name.hasPrefix(":") })
        #expect(fields.contains(HeaderField("content-type", "application/json")))
        #expect(pair.received(pair.serverEvents, on: id) == 7)
        #expect(pair.serverEvents.contains { if case .endStream(id) = $0 { true } else { false } })

        try pair.server.submitResponse(streamID: id, head: ResponseHead(status: 200), endStream: false)
        pair.server.sendData(streamID: id, ByteBuffer(string: "hello"))
        pair.server.sendEnd(streamID: id, trailers: HeaderList([("grpc-status", "0")]))
        try pair.pump()
        let headerBlocks = pair.clientEvents.compactMap { event -> (PseudoHeaders, [HeaderField])? in
            if case .headers(id, let pseudo, let fields, _, _) = event { return (pseudo, fields) }
            return nil
        }
        #expect(headerBlocks.count == 2)
        #expect(headerBlocks.first?.0.status == "200")
        #expect(headerBlocks.last?.0 == PseudoHeaders())
        #expect(headerBlocks.last?.1 == [HeaderField("grpc-status", "0")])
        #expect(pair.received(pair.clientEvents, on: id) == 5)
        #expect(pair.clientEvents.contains { if case .streamClosed(id, 0) = $0 { true } else { false } })
    }

    @Test func windowOnlyReopensWhenConsumed() throws {
        var settings = HTTP2Settings()
        settings.initialStreamWindow = 65_535
        settings.connectionWindow = 1 << 20
        let pair = try SessionPair(server: settings)
        let id = try pair.client.submitRequest(head: head, endStream: false)
        pair.client.sendData(streamID: id, ByteBuffer(repeating: 7, count: 200_000))
        try pair.pump()
        // Nothing consumed: the server has received at most one window.
        #expect(pair.received(pair.serverEvents, on: id) == 65_535)
        #expect(pair.client.queuedBytes(streamID: id) == 200_000 - 65_535)

        pair.server.consume(streamID: id, bytes: 65_535)
        try pair.pump()
        #expect(pair.received(pair.serverEvents, on: id) == 131_070)
        let sent = pair.clientEvents.reduce(0) { if case .dataSent(id, let n) = $1 { $0 + n } else { $0 } }
        #expect(sent == 131_070)
    }

    @Test func oversizedHeaderListIsFlagged() throws {
        var settings = HTTP2Settings()
        settings.maxHeaderListSize = 1024
        let pair = try SessionPair(server: settings)
        var big = head
        big.headers.add("x-big", String(repeating: "a", count: 2000))
        let id = try pair.client.submitRequest(head: big, endStream: true)
        try pair.pump()
        guard case .headers(id, _, _, true, let oversized) = pair.serverEvents.first else {
            Issue.record("no headers event: \(pair.serverEvents)")
            return
        }
        #expect(oversized)
    }

    @Test func resetReachesThePeer() throws {
        let pair = try SessionPair()
        let id = try pair.client.submitRequest(head: head, endStream: false)
        try pair.pump()
        pair.client.reset(streamID: id, .cancel)
        try pair.pump()
        #expect(pair.serverEvents.contains {
            if case .streamClosed(id, HTTP2ErrorCode.cancel.rawValue) = $0 { true } else { false }
        })
    }

    @Test func garbageIsAnErrorNotACrash() throws {
        let server = try HTTP2Session(role: .server)
        #expect(throws: HTTP2SessionError.self) {
            try server.receive(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        }
    }

    @Test func goAwayCarriesTheLastProcessedStream() throws {
        let pair = try SessionPair()
        let id = try pair.client.submitRequest(head: head, endStream: true)
        try pair.pump()
        pair.server.goAway()
        try pair.pump()
        #expect(pair.clientEvents.contains { if case .goAway(id, 0) = $0 { true } else { false } })
    }
}
