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
        let whole = Array(bytes)
        var offset = 0
        while offset < whole.count {
            let n = whole.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
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
