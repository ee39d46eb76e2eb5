import NIOCore
import PosternCore
import PosternIdentity

/// What Postern knows of a caller's connection, the same for every request on it: built
/// once per connection and shared by reference with each of its exchanges.
final class CallerConnection {
    /// The address the connection came from, as the socket says (never as a header says).
    let address: SocketAddress?
    let isTLS: Bool
    /// The verified client X.509-SVID, if the caller presented one.
    let certificate: Principal?
    /// `https` over TLS, else `http`: what `x-forwarded-proto` tells the model server.
    let scheme: String
    /// `HOST:PORT` for the record.
    let hostPort: String?
    /// `x-forwarded-for` and `forwarded` as Postern sets them, built once per connection.
    let forwardedFor: String?
    let forwarded: String?
    /// The peer's address as bytes (4 or 16), for rules on source ranges.
    let sourceBytes: [UInt8]?

    init(address: SocketAddress?, isTLS: Bool, certificate: Principal?) {
        self.address = address
        self.isTLS = isTLS
        self.certificate = certificate
        scheme = isTLS ? "https" : "http"
        hostPort = address?.hostPort
        let ip = address?.ipAddress
        forwardedFor = ip
        let scheme = self.scheme
        forwarded = ip.map { "for=" + ($0.contains(":") ? "\"[\($0)]\"" : $0) + ";proto=" + scheme }
        switch address {
        case .v4(let v4)?: sourceBytes = withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6)?: sourceBytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default: sourceBytes = nil
        }
    }
}
