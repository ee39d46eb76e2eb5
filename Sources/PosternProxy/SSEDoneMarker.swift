/// Whether the event stream sent to a caller so far ends with OpenAI's terminal event
/// (`data: [DONE]` and its blank line). Clients close as soon as they read it, often before
/// the upstream's own end arrives: that is a finished exchange, not a caller reset.
struct SSEDoneMarker {
    private static let marker = Array("[DONE]".utf8)
    /// The last bytes sent, enough to hold `data: [DONE]\r\n\r\n`.
    private var tail: [UInt8] = []

    mutating func sent(_ bytes: some Collection<UInt8>) {
        tail.append(contentsOf: bytes.suffix(32))
        if tail.count > 32 { tail.removeFirst(tail.count - 32) }
    }

    var endsWithDone: Bool {
        var end = tail.endIndex
        var newlines = 0
        while end > tail.startIndex, tail[end - 1] == UInt8(ascii: "\n") || tail[end - 1] == UInt8(ascii: "\r") {
            if tail[end - 1] == UInt8(ascii: "\n") || end == tail.endIndex || tail[end] != UInt8(ascii: "\n") {
                newlines += 1
            }
            end -= 1
        }
        guard newlines >= 2, end >= Self.marker.count,
              Array(tail[(end - Self.marker.count)..<end]) == Self.marker else { return false }
        // `data:` then optional space, right before the marker, at the start of a line.
        var start = end - Self.marker.count
        if start > 0, tail[start - 1] == UInt8(ascii: " ") { start -= 1 }
        let field = Array("data:".utf8)
        guard start >= field.count, Array(tail[(start - field.count)..<start]) == field else { return false }
        let lineStart = start - field.count
        return lineStart == 0 || tail[lineStart - 1] == UInt8(ascii: "\n") || tail[lineStart - 1] == UInt8(ascii: "\r")
    }
}
