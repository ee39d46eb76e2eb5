#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read, in words an operator acts on.
public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    /// The file does not exist (yet): what a caller waiting for spiffe-helper looks for.
    public var isMissing: Bool
    public var description: String { reason }
}

/// Reads small files (configurations, certificates, bundles) without Foundation.
public enum TextFile {
    /// The largest file Postern reads: far above any certificate, bundle or configuration.
    public static let maxBytes = 16 << 20

    public static func read(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The whole file, or nil if it cannot be read or is over 16 MiB.
    public static func bytes(_ path: String) -> [UInt8]? {
        try? load(path).get()
    }

    /// The whole file, or why not: no such file, permission denied, a directory, too large.
    public static func load(_ path: String) -> Result<[UInt8], FileReadError> {
        guard let file = fopen(path, "rb") else { return .failure(reason(errno)) }
        defer { fclose(file) }
        var info = stat()
        if fstat(fileno(file), &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            return .failure(FileReadError(reason: "is a directory, not a file", isMissing: false))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
            if bytes.count > maxBytes {
                return .failure(FileReadError(reason: "larger than 16MiB", isMissing: false))
            }
        }
        if ferror(file) != 0 { return .failure(reason(errno)) }
        return .success(bytes)
    }

    private static func reason(_ code: Int32) -> FileReadError {
        switch code {
        case ENOENT: FileReadError(reason: "no such file", isMissing: true)
        case ENOTDIR: FileReadError(reason: "a folder on the path is a file", isMissing: true)
        case EACCES, EPERM: FileReadError(reason: "permission denied (Postern runs as uid \(getuid()))", isMissing: false)
        case EISDIR: FileReadError(reason: "is a directory, not a file", isMissing: false)
        default: FileReadError(reason: String(cString: strerror(code)), isMissing: false)
        }
    }

    /// What identifies one version of a file: a rewrite in place changes the modification
    /// time or size, an atomic rename changes the inode. Nil when the file is missing.
    public static func stamp(_ path: String) -> [Int64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
