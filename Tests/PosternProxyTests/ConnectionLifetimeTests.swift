import NIOCore
import NIOEmbedded
import Testing
@testable import PosternConfig
@testable import PosternProxy
@testable import PosternTLS

/// A caller connection's handlers go when the connection does, whatever was in flight: a
/// handler kept alive by a cycle (the flusher holding the context holding the handler) cost
/// about a kilobyte per closed HTTP/1.1 connection, for ever.
@Suite struct ConnectionLifetimeTests {
    static let config: PosternConfig = {
        let yaml = """
        listen: { address: 127.0.0.1:0 }
        upstreams: { model: { url: http://127.0.0.1:9 } }
        routes: [{ prefix: /v1/, upstream: model, public: true }]
        """
        return try! PosternConfig.parse(yaml: yaml, file: "lifetime.yaml").get()
    }()

    /// Opens a caller connection on an embedded loop, sends `bytes`, closes it, and says
    /// whether the handler of `type` is gone afterwards.
    func handlerIsFreed<Handler: ChannelHandler & AnyObject>(_ type: Handler.Type, after bytes: [UInt8], decidedAfter split: Int = 4) throws -> Bool {
        let loop = EmbeddedEventLoop()
        let pipeline = CallerPipeline(eventLoop: loop, config: Self.config, credentials: try Credentials.load(Self.config).get())
        weak var handler: Handler?
        do {
            let channel = EmbeddedChannel(loop: loop)
            try pipeline.setUp(channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            // The first bytes choose the protocol and put its handler in place; the rest is
            // the request (whose answer may close the connection).
            try channel.writeInbound(ByteBuffer(bytes: bytes.prefix(split)))
            handler = try channel.pipeline.syncOperations.handler(type: Handler.self)
            #expect(handler != nil)
            try channel.writeInbound(ByteBuffer(bytes: bytes.dropFirst(split)))
            loop.run()
            _ = try? channel.close().wait()
            loop.run()
            _ = try? channel.finish()
        }
        loop.run()
        let freed = handler == nil
        try loop.syncShutdownGracefully()  // the sweeper's repeating tick goes with the loop
        return freed
    }

    @Test func anHTTP1ConnectionIsFreedWhenItCloses() throws {
        // A request the route table answers itself (404), then the caller goes.
        #expect(try handlerIsFreed(HTTP1ServerHandler.self, after: Array("GET /other HTTP/1.1\r\nHost: a\r\n\r\n".utf8)))
        // The caller goes in the middle of a request head.
        #expect(try handlerIsFreed(HTTP1ServerHandler.self, after: Array("GET /other HTTP/1.1\r\nHo".utf8)))
    }

    @Test func anHTTP2ConnectionIsFreedWhenItCloses() throws {
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        #expect(try handlerIsFreed(HTTP2ServerHandler.self, after: preface, decidedAfter: 24))
    }
}
