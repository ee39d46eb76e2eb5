import NIOCore
import PosternIdentity

/// What Postern knows of a caller's connection, the same for every request on it.
struct CallerConnection {
    /// The address the connection came from, as the socket says (never as a header says).
    var address: SocketAddress?
    var isTLS: Bool
    /// The verified client X.509-SVID, if the caller presented one.
    var certificate: Principal?

    /// `https` over TLS, else `http`: what `x-forwarded-proto` tells the model server.
    var scheme: String { isTLS ? "https" : "http" }
}
