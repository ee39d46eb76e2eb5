#if canImport(Glibc)
import Glibc
#endif
import PosternPolicy

/// Parsers for the value syntaxes the configuration and the command line share.
/// Each returns nil or a reason, never traps.
public enum ConfigValues {
    /// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces).
    public static func hostPort(_ text: String) -> Result<HostPort, ConfigValueError> {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure("missing ']' in \(text)") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure("expected :PORT after ] in \(text)") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure("expected HOST:PORT, got \(text)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return .failure("an IPv6 address needs brackets: [\(host)]:PORT") }
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            return .failure("port must be 0-65535, got '\(portText)'")
        }
        return .success(HostPort(host: String(host), port: port))
    }

    /// `http://host:port` (HTTP/1.1) or `h2c://host:port` (cleartext HTTP/2).
    public static func upstreamURL(_ text: String) -> Result<(Upstream.WireProtocol, HostPort), ConfigValueError> {
        let kinds: [(String, Upstream.WireProtocol)] = [("http://", .http1), ("h2c://", .h2c)]
        guard let (prefix, kind) = kinds.first(where: { text.hasPrefix($0.0) }) else {
            return .failure("upstream URL must start with http:// or h2c://, got \(text)")
        }
        var rest = String(text.dropFirst(prefix.count))
        if rest.hasSuffix("/") { rest.removeLast() }
        if rest.contains("/") { return .failure("upstream URL takes no path: \(text)") }
        return hostPort(rest).flatMap { address in
            address.port == 0 ? .failure("upstream port must not be 0") : .success((kind, address))
        }
    }

    /// The longest duration any setting accepts; longer values are typos, and would overflow
    /// nanosecond arithmetic further on.
    public static let maxDuration = Duration.seconds(7 * 24 * 3600)
    /// The largest size any setting accepts.
    public static let maxByteSize = 1 << 40

    /// `250ms`, `10s`, `5m`, `1h` (or `0`); at most 7 days. A bare number is refused: is
    /// `idle_timeout: 300` seconds or milliseconds?
    public static func duration(_ text: String) -> Result<Duration, ConfigValueError> {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var millis: Int64?
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            // "5ms" also ends in "s": only accept a plain integer before the unit.
            guard let value = Int64(text.dropLast(suffix.count)), value >= 0 else { continue }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            millis = overflow ? Int64.max : product
            break
        }
        if millis == nil, let number = Int64(text), number >= 0 {
            guard number == 0 else { return .failure("'\(text)' needs a unit: \(text)s, \(text)m, \(text)ms or \(text)h") }
            millis = 0
        }
        guard let millis else {
            return .failure("expected a duration like 250ms, 10s, 5m or 1h, got '\(text)'")
        }
        guard millis <= maxDuration.components.seconds * 1000 else {
            return .failure("'\(text)' is longer than 7 days")
        }
        return .success(.milliseconds(millis))
    }

    /// `512` (bytes), `64KiB`, `16MiB`, `1GiB`, in any case (`64mib`), also KB/MB/GB and
    /// K/M/G, all read as powers of 1024; at most 1 TiB.
    public static func byteSize(_ text: String) -> Result<Int, ConfigValueError> {
        let units: [(String, Int)] = [("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30),
                                      ("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30),
                                      ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        let lower = text.lowercased()
        var size: Int?
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let value = Int(lower.dropLast(suffix.count).trimmingCharacters(" ")), value >= 0 else { break }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            size = overflow ? Int.max : product
            break
        }
        if size == nil, let value = Int(text), value >= 0 { size = value }
        guard let size else { return .failure("expected a size like 65536, 64KiB or 16MiB, got '\(text)'") }
        guard size <= maxByteSize else { return .failure("'\(text)' is larger than 1TiB") }
        return .success(size)
    }
}

extension ConfigValues {
    /// `http(s)://HOST:PORT[/PATH]`: the address, whether TLS, and the path (`/` when none).
    static func httpURL(_ text: String) -> (HostPort, Bool, String)? {
        let tls = text.hasPrefix("https://")
        guard tls || text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst(tls ? 8 : 7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard case .success(let address) = ConfigValues.hostPort(String(rest[..<slash])) else { return nil }
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard !path.contains("?"), !path.contains("#"), !path.contains(" ") else { return nil }
        return (address, tls, path)
    }

    /// `10.0.0.0/8`, `fd00::/8`, or a single address (all of its bits).
    public static func addressRange(_ text: String) -> AddressRange? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let host = String(parts[0])
        var bytes: [UInt8]
        if host.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, host, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: address) { Array($0) }
        }
        let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let length else { return nil }
        return AddressRange(network: bytes, prefixLength: length)
    }
}

/// Why a value did not parse.
public struct ConfigValueError: Error, Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
    public init(stringLiteral value: String) { self.description = value }
}

extension Result where Failure == ConfigValueError {
    static func failure(_ message: String) -> Result { .failure(ConfigValueError(message)) }
}

extension Substring {
    func trimmingCharacters(_ character: Character) -> Substring {
        var s = self
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return s
    }
}
