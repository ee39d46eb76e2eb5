import PosternConfig
import PosternCore

#if canImport(Glibc)
import Glibc
#endif

/// Postern's own messages on standard error (start-up, waiting, reloads, shutdown, problems):
/// plain lines, or JSON lines with `ts`, `level` and `message` (`runtime.log_format: json`)
/// for collectors. The request log on standard output is separate.
enum Log {
    enum Level: String { case info, warning, error }

    /// Set once, from the configuration, before any other thread logs.
    nonisolated(unsafe) static var format = LogFormat.text

    static func info(_ message: String) { write(.info, message) }
    static func warning(_ message: String) { write(.warning, message) }
    static func error(_ message: String) { write(.error, message) }

    private static func write(_ level: Level, _ message: String) {
        switch format {
        case .text:
            Stderr.line(message)
        case .json:
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let millis = String(Int(ts.tv_nsec) / 1_000_000)
            Stderr.line("{\"ts\":\(ts.tv_sec).\(String(repeating: "0", count: 3 - millis.count) + millis),"
                + "\"level\":\"\(level.rawValue)\",\"message\":\(JSONText.quote(message))}")
        }
    }
}

enum Stderr {
    static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
