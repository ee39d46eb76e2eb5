import Foundation
import NIOCore
import NIOEmbedded
import PosternConfig
import PosternProxy
import PosternTLS

/// Whole caller connections: the bytes a caller sends go through the protocol sniffer, the
/// HTTP/1.1 or HTTP/2 codec, path normalisation, routing and authentication, on an embedded
/// loop. Every route needs a JWT-SVID, which a fuzzer cannot sign, so no request reaches
/// the point of opening an upstream connection (an embedded loop has no sockets).
enum CallerTargets {
    static let all = [
        FuzzTarget(name: "caller-http1", summary: "an HTTP/1.1 caller connection, end to end up to the upstream") {
            Harness.shared.run(Chunking($0).chunks)
        },
        FuzzTarget(name: "caller-http2", summary: "an HTTP/2 caller connection after its preface, end to end up to the upstream") {
            Harness.shared.run([HTTP2Targets.clientPreface] + Chunking($0).chunks)
        },
    ]

    final class Harness {
        nonisolated(unsafe) static let shared = Harness()
        let loop = EmbeddedEventLoop()
        /// POSTERN_FUZZ_ECHO=1: print what the caller is sent (for writing seeds).
        let echo = ProcessInfo.processInfo.environment["POSTERN_FUZZ_ECHO"] == "1"
        let pipeline: CallerPipeline

        init() {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("postern-fuzz-\(getpid())")
            try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let bundle = directory.appendingPathComponent("bundle.json").path
            try! Data(IdentityTargets.jwks.utf8).write(to: URL(fileURLWithPath: bundle))
            let yaml = """
            listen: { address: 127.0.0.1:0 }
            upstreams: { model: { url: http://127.0.0.1:9 } }
            routes:
              - { prefix: /v1/, upstream: model }
              - { prefix: /v2/, upstream: model }
            identity:
              trust_domain: example.org
              jwt_issuers: [{ kind: jwt-svid, bundle: \(bundle), audience: spiffe://example.org/postern }]
            limits: { max_header_list_size: 4KiB, max_request_body: 64KiB }
            """
            let config: PosternConfig
            switch PosternConfig.parse(yaml: yaml, file: "fuzz.yaml") {
            case .success(let parsed): config = parsed
            case .failure(let problems): fatalError("the harness configuration is invalid: \(problems)")
            }
            guard case .success(let credentials) = Credentials.load(config) else {
                fatalError("the harness credentials do not load")
            }
            pipeline = CallerPipeline(eventLoop: loop, config: config, credentials: credentials)
        }

        func run(_ chunks: [[UInt8]]) {
            let channel = EmbeddedChannel(loop: loop)
            do {
                try pipeline.setUp(channel)
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            } catch { fatalError("the embedded caller connection did not open: \(error)") }
            for chunk in chunks where channel.isActive {
                _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
                loop.run()
                while let out = (try? channel.readOutbound(as: ByteBuffer.self)) ?? nil {
                    if echo { FileHandle.standardOutput.write(Data(out.readableBytesView)) }
                }
            }
            // Timers (header read, idle) fire, then the caller goes.
            loop.advanceTime(by: .seconds(120))
            _ = try? channel.close().wait()
            loop.run()
            _ = try? channel.finish()
        }
    }
}
