import NIOCore

/// Splits a gRPC request body into whole length-prefixed messages, holding at most one
/// partial message, so each message can be decided on before it passes.
package struct GRPCMessageFramer {
    package enum Problem: Error {
        case compressed
        case tooLarge(limit: Int)
    }

    /// The largest message held (its payload, without the 5-byte prefix).
    let limit: Int
    private var pending: [UInt8] = []

    package init(limit: Int) { self.limit = limit }

    /// Whether a message was cut off: nothing may be left over when the request ends.
    var holdsPartialMessage: Bool { !pending.isEmpty }

    /// Takes more of the body; returns the messages now complete, prefix included, in order.
    package mutating func feed(_ bytes: ByteBufferView) -> Result<[[UInt8]], Problem> {
        pending.append(contentsOf: bytes)
        var complete: [[UInt8]] = []
        var start = 0
        while pending.count - start >= 5 {
            // A compressed message cannot be read for its model: refused, not passed unread.
            guard pending[start] == 0 else { return .failure(.compressed) }
            let length = pending[start + 1..<start + 5].reduce(0) { $0 << 8 | Int($1) }
            guard length <= limit else { return .failure(.tooLarge(limit: limit)) }
            guard pending.count - start >= 5 + length else { break }
            complete.append(Array(pending[start..<start + 5 + length]))
            start += 5 + length
        }
        if start > 0 { pending.removeFirst(start) }
        return .success(complete)
    }
}
