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
    /// The client's certificate chain and key files, for mTLS.
    public var identity: (certificateFile: String, keyFile: String)?

    public init(host: String, port: Int, caFile: String? = nil, identity: (certificateFile: String, keyFile: String)? = nil) {
        self.host = host
        self.port = port
        self.caFile = caFile
        self.identity = identity
    }

    public static func == (a: ServerAddress, b: ServerAddress) -> Bool {
        a.host == b.host && a.port == b.port && a.caFile == b.caFile && a.identity?.certificateFile == b.identity?.certificateFile
            && a.identity?.keyFile == b.identity?.keyFile
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
    private var tls: TLSClientStream?

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
                                                                           alpn: alpn, identity: address.identity)))
        } catch {
            close(fd)
            return .failure(Failure("\(error)"))
        }
    }

    /// Turns a cleartext connection into TLS, for protocols that agree on it first in
    /// clear (PostgreSQL's SSLRequest): the server's certificate checked against `caFile`.
    public func startTLS(serverName: String, caFile: String) throws(Failure) {
        guard tls == nil else { return }
        do {
            tls = try TLSClientStream(fd: fd, serverName: serverName, caFile: caFile)
        } catch {
            throw Failure("\(error)")
        }
    }

    /// The protocol chosen by ALPN (TLS only).
    public var negotiatedProtocol: String? { tls?.negotiatedProtocol }

    public func write(_ bytes: [UInt8]) -> Bool {
        tls.map { $0.write(bytes) } ?? FileDescriptor.sendAll(fd, bytes)
    }

    /// Whether something can be read within `milliseconds` (without reading it).
    public func readable(within milliseconds: Int32) -> Bool {
        if tls?.hasPending == true { return true }
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let n = poll(&ready, 1, milliseconds)
            if n < 0, errno == EINTR { continue }
            return n > 0
        }
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
