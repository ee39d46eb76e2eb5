/// Backpressure for an HTTP/1.1 socket: counts body bytes read but not yet delivered to the
/// other side, holds the socket's next `read` while too many are outstanding, and releases
/// it once half have been delivered (hysteresis, so reads do not flap).
struct ReadGate {
    static let pauseAbove = 256 << 10

    private var undelivered = 0
    private var readHeld = false

    mutating func received(_ bytes: Int) { undelivered += bytes }

    /// From `read(context:)`: whether to pass the read on now (otherwise it is held).
    mutating func mayRead() -> Bool {
        guard undelivered > Self.pauseAbove else { return true }
        readHeld = true
        return false
    }

    /// Credit for delivered bytes; true when a held read should be issued now.
    mutating func delivered(_ bytes: Int) -> Bool {
        undelivered -= bytes
        return releaseIf(undelivered <= Self.pauseAbove / 2)
    }

    /// Forgets the current message's bytes; true when a held read should be issued now.
    mutating func reset() -> Bool {
        undelivered = 0
        return releaseIf(true)
    }

    private mutating func releaseIf(_ condition: Bool) -> Bool {
        guard readHeld, condition else { return false }
        readHeld = false
        return true
    }
}
