/// Turns bytes written to an HTTP/1.1 channel into credit for their source.
///
/// Bytes written while the channel is writable are credited at once: NIO holds at most its
/// write-buffer high-water mark before it turns unwritable. Bytes written while it is not
/// are credited when it becomes writable again, so a slow reader stops the source. No
/// promise or closure is allocated per write. Each method returns the bytes to credit now.
struct WriteCredit {
    private var withheld = 0

    mutating func wrote(_ bytes: Int, writable: Bool) -> Int {
        if writable && withheld == 0 { return bytes }
        withheld += bytes
        return 0
    }

    mutating func writabilityChanged(writable: Bool) -> Int {
        guard writable else { return 0 }
        defer { withheld = 0 }
        return withheld
    }

    mutating func reset() { withheld = 0 }
}
