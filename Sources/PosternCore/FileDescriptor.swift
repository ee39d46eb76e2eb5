#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whole writes to a file descriptor, which `write(2)` alone does not promise.
public enum FileDescriptor {
    /// Writes all of `bytes`, retrying after EINTR and short writes; false (with errno
    /// set, or 0 when the descriptor took nothing) when it refuses.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        whole(bytes) { Glibc.write(fd, $0, $1) }
    }

    /// `writeAll` for a socket whose peer may have gone: no SIGPIPE (MSG_NOSIGNAL).
    public static func sendAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        whole(bytes) { send(fd, $0, $1, Int32(MSG_NOSIGNAL)) }
    }

    /// A blocking TCP connection to `host:port` (the first of its addresses that answers), with a
    /// send timeout so a stalled peer cannot hold the caller for long; nil if it fails.
    public static func connectTCP(host: String, port: Int, sendTimeout seconds: Int = 2) -> Int32? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0 else { return nil }
        defer { freeaddrinfo(found) }
        // Each address in turn: `localhost` may name ::1 first and a server on 127.0.0.1.
        var next = found
        while let address = next {
            next = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            close(fd)
        }
        return nil
    }

    private static func whole(_ bytes: some Collection<UInt8>, _ put: (UnsafeRawPointer, Int) -> Int) -> Bool {
        let whole = Array(bytes)
        var offset = 0
        while offset < whole.count {
            let n = whole.withUnsafeBytes { put($0.baseAddress! + offset, $0.count - offset) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { errno = 0 }
                return false
            }
            offset += n
        }
        return true
    }
}
