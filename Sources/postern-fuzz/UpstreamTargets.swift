import Foundation
import NIOCore
import NIOEmbedded
import PosternConfig
import PosternProxy

/// What a model server answers on a pooled HTTP/1.1 connection: NIO's response parser and
/// the pool's connection handler, on an embedded loop. Whatever the bytes, the exchange is
/// told a coherent story: interim heads, at most one final head, its body, then an end or a
/// failure, and nothing after either.
enum UpstreamTargets {
    static let all = [
        FuzzTarget(name: "http1-upstream", summary: "a model server's HTTP/1.1 reply on a pooled upstream connection") { input in
            Harness.shared.run(Chunking(input).chunks)
        },
    ]

    final class Harness {
        nonisolated(unsafe) static let shared = Harness()
        let loop = EmbeddedEventLoop()
        let upstream: UpstreamReplyHarness
        /// POSTERN_FUZZ_ECHO=1: print what the exchange was told (for writing seeds).
        let echo = ProcessInfo.processInfo.environment["POSTERN_FUZZ_ECHO"] == "1"

        init() {
            let yaml = "upstreams: { model: { url: http://127.0.0.1:9 } }\nlisten: { address: 127.0.0.1:0 }\n"
            guard case .success(let config) = PosternConfig.parse(yaml: yaml, file: "fuzz.yaml") else {
                fatalError("the harness configuration is invalid")
            }
            upstream = UpstreamReplyHarness(eventLoop: loop, upstream: config.upstreams[0])
        }

        func run(_ chunks: [[UInt8]]) {
            let channel = EmbeddedChannel(loop: loop)
            let recorder: UpstreamReplyHarness.Recorder
            do {
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
                recorder = try upstream.open(on: channel)
            } catch { fatalError("the embedded upstream connection did not open: \(error)") }
            for chunk in chunks where channel.isActive {
                _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
                loop.run()
                while (try? channel.readOutbound(as: IOData.self)) ?? nil != nil {}
            }
            _ = try? channel.close().wait()
            loop.run()
            _ = try? channel.finish()
            if echo { print(recorder.events) }
            check(recorder.events)
        }

        func check(_ events: [UpstreamReplyHarness.Recorder.Event]) {
            var final = false
            var over = false
            for event in events {
                if over { violated("nothing reaches the exchange after its end or failure: \(events)") }
                switch event {
                case .head(let status, _) where status < 200:
                    if final { violated("no interim head after the final one: \(events)") }
                case .head:
                    if final { violated("one final head: \(events)") }
                    final = true
                case .body:
                    if !final { violated("a body only after a final head: \(events)") }
                case .end, .failed:
                    over = true
                }
            }
        }
    }
}
