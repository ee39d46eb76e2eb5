#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PosternCore

/// The few system calls the audit sink needs, with errno turned into a readable reason.
public struct AuditFile {
    let fd: Int32
    let path: String

    static func openAppending(_ path: String) throws(AuditError) -> AuditFile {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .sink("cannot open \(path): \(reason())") }
        return AuditFile(fd: fd, path: path)
    }

    /// Writes all of `bytes`, or throws; a partial write is reported as a failure.
    func write(_ bytes: [UInt8]) throws(AuditError) {
        guard FileDescriptor.writeAll(fd, bytes) else {
            throw .sink("cannot write \(path): \(errno == 0 ? "no progress" : Self.reason())")
        }
    }

    func sync() throws(AuditError) {
        guard fdatasync(fd) == 0 else { throw .sink("cannot sync \(path): \(Self.reason())") }
    }

    /// Cuts a failed partial write back off, so the file ends on a whole record.
    func truncate(to length: Int) throws(AuditError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .sink("cannot truncate \(path): \(Self.reason())") }
    }

    var size: Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func close() { _ = Glibc.close(fd) }

    /// The whole file, or nil when there is none (for the `audit` command).
    public static func readAll(_ path: String) throws(AuditError) -> [UInt8]? { try read(path) }

    /// The whole file, or nil when there is none.
    static func read(_ path: String, limit: Int = 1 << 31) throws(AuditError) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0, errno == ENOENT { return nil }
        guard fd >= 0 else { throw .sink("cannot read \(path): \(reason())") }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBufferPointer { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .sink("cannot read \(path): \(reason())") }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<n])
            guard bytes.count <= limit else { throw .sink("\(path) is larger than \(limit) bytes") }
        }
    }

    static func rename(_ from: String, _ to: String) throws(AuditError) {
        guard Glibc.rename(from, to) == 0 else { throw .sink("cannot rename \(from) to \(to): \(reason())") }
    }

    /// Replaces a small file whole: written beside it, synced, then renamed over it.
    static func replace(_ path: String, with bytes: [UInt8]) throws(AuditError) {
        let temporary = path + ".new"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .sink("cannot open \(temporary): \(reason())") }
        let file = AuditFile(fd: fd, path: temporary)
        defer { file.close() }
        try file.write(bytes)
        try file.sync()
        try rename(temporary, path)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func reason() -> String { String(cString: strerror(errno)) }
}

public enum AuditError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file system refused: the sink is failing.
    case sink(String)
    /// An existing log that Postern cannot continue.
    case unreadableLog(String)
    case signing(String)

    public var description: String {
        switch self {
        case .sink(let why), .unreadableLog(let why), .signing(let why): why
        }
    }
}
