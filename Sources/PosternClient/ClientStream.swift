#if canImport(Glibc)
import Glibc
#endif
import PosternCore
import PosternCrypto

/// Where a client connects: a host and port, cleartext or TLS (the server's certificate
/// checked against `caFile` and the host name).
public struct ServerAddress: Equatable, Sendable {
    public var host: String
    public var port: Int
    public var caFile: String?

    public init(host: String, port: Int, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.caFile = caFile
    }

    public var isTLS: Bool { caFile != nil }
}

/// One blocking connection, cleartext or TLS, for the commands' own requests.
public final class ClientStream {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
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

    public static func open(_ address: ServerAddress, alpn: [String] = []) -> Result<ClientStream, Failure> {
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
    public var negotiatedProtocol: String? { tls?.negotiatedProtocol }

    public func write(_ bytes: [UInt8]) -> Bool {
        tls.map { $0.write(bytes) } ?? FileDescriptor.sendAll(fd, bytes)
    }

    /// Bytes read into `buffer`: 0 at the end of the stream, -1 on an error.
    public func read(into buffer: inout [UInt8]) -> Int {
        if let tls { return tls.read(into: &buffer) }
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            return n
        }
    }
}
