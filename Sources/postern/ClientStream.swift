#if canImport(Glibc)
import Glibc
#endif
import PosternConfig
import PosternCore
import PosternCrypto

/// Where a command connects: a host and port, cleartext or TLS (the server's certificate
/// checked against `caFile` and the host name).
struct ServerAddress: Equatable {
    var host: String
    var port: Int
    var caFile: String?

    var isTLS: Bool { caFile != nil }

    /// `HOST:PORT` or `http://HOST:PORT` (cleartext), `https://HOST:PORT` (TLS, needing a CA file).
    static func parse(_ text: String, caFile: String?) -> Result<ServerAddress, UsageError> {
        var rest = Substring(text)
        var tls = false
        if rest.hasPrefix("https://") { rest = rest.dropFirst(8); tls = true } else if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard case .success(let hostPort) = ConfigValues.hostPort(String(rest)) else {
            return .failure(UsageError(description: "\(text) is not HOST:PORT, http://HOST:PORT or https://HOST:PORT"))
        }
        guard !tls || caFile != nil else {
            return .failure(UsageError(description: "\(text) needs --ca FILE, the CA its certificate chains to"))
        }
        return .success(ServerAddress(host: hostPort.host, port: hostPort.port, caFile: tls ? caFile : nil))
    }
}

/// One blocking connection, cleartext or TLS, for the commands' own requests.
final class ClientStream {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private let fd: Int32
    private let tls: TLSClientStream?

    private init(fd: Int32, tls: TLSClientStream?) {
        self.fd = fd
        self.tls = tls
    }

    deinit {
        tls?.shutdown()
        close(fd)
    }

    static func open(_ address: ServerAddress, alpn: [String] = []) -> Result<ClientStream, Failure> {
        guard let fd = FileDescriptor.connectTCP(host: address.host, port: address.port) else {
            return .failure(Failure("cannot connect to \(address.host):\(address.port)"))
        }
        guard let caFile = address.caFile else { return .success(ClientStream(fd: fd, tls: nil)) }
        do {
            return .success(ClientStream(fd: fd, tls: try TLSClientStream(fd: fd, serverName: address.host, caFile: caFile,
                                                                           alpn: alpn)))
        } catch {
            close(fd)
            return .failure(Failure("\(error)"))
        }
    }

    /// The protocol chosen by ALPN (TLS only).
    var negotiatedProtocol: String? { tls?.negotiatedProtocol }

    func write(_ bytes: [UInt8]) -> Bool {
        tls.map { $0.write(bytes) } ?? FileDescriptor.sendAll(fd, bytes)
    }

    /// Bytes read into `buffer`: 0 at the end of the stream, -1 on an error.
    func read(into buffer: inout [UInt8]) -> Int {
        if let tls { return tls.read(into: &buffer) }
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            return n
        }
    }
}
