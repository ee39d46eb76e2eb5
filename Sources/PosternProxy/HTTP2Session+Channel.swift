import NIOCore
import PosternHTTP2

extension HTTP2Session {
    /// Serialises everything nghttp2 wants to send into one buffer and queues it on the
    /// channel (the caller flushes). Only while the socket can take it: that gate is what
    /// makes a slow peer stop nghttp2 from framing more. Returns false if the session failed.
    func writePending(to context: ChannelHandlerContext) -> Bool {
        guard context.channel.isWritable else { return true }
        var buffer = context.channel.allocator.buffer(capacity: 16 << 10)
        do {
            try send(into: &buffer)
        } catch {
            return false
        }
        if buffer.readableBytes > 0 { context.write(NIOAny(buffer), promise: nil) }
        return true
    }
}
