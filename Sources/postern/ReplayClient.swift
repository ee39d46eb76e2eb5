import PosternClient
import PosternCore

/// A minimal blocking HTTP/1.1 client for `postern audit replay`: one request with
/// `Connection: close` to a model server the operator names.
enum ReplayClient {
    typealias ReplayError = ClientStream.Failure

    typealias Reply = HTTP1Reply

    /// Fields that belong to one connection, not to the recorded request.
    static let connectionFields: Set<String> = ["host", "connection", "content-length", "transfer-encoding",
                                                "keep-alive", "te", "upgrade", "x-request-id"]

    static func send(_ address: ServerAddress, method: String, path: String, headers: [(String, String)],
                     body: [UInt8]) -> Result<Reply, ReplayError> {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: \(address.host):\(address.port)\r\nconnection: close\r\n"
        for (name, value) in headers where !connectionFields.contains(name) && !name.hasPrefix(":") {
            text += "\(name): \(value)\r\n"
        }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "content-length: \(body.count)\r\n" }
        text += "\r\n"
        return HTTP1Client.exchange(address, request: Array(text.utf8) + body)
    }
}
