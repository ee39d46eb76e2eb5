import NIOHTTP1
import PosternCore

/// Converts between NIOHTTP1 heads and Postern's protocol-neutral ones.
enum HeadTranslation {
    /// What HTTP/1.1 says about a request beyond its fields, gathered in the same pass.
    struct HTTP1Facts: Equatable {
        /// Counted as HTTP/2 counts SETTINGS_MAX_HEADER_LIST_SIZE, so one limit means the same
        /// for both protocols.
        var headerListSize = 0
        var hostFields = 0
        /// RFC 9112 §6.3: a transfer coding, or a non-zero content length. Forwarding a
        /// body-less request as if it had one would put a stray chunk terminator upstream.
        var declaresBody = false
        var expectsContinue = false
    }

    /// The neutral head and the facts the HTTP/1.1 handler checks, in one pass over the
    /// fields (four passes cost 2% of an HTTP/1.1 request's instructions).
    static func requestHead(_ head: HTTPRequestHead) -> (RequestHead, HTTP1Facts) {
        var headers = HeaderList()
        var authority = ""
        var facts = HTTP1Facts()
        for (name, value) in head.headers {
            facts.headerListSize += name.utf8.count + value.utf8.count + 32
            let lower = name.asciiLowercased()
            switch lower {
            case "host":
                facts.hostFields += 1
                if authority.isEmpty { authority = value }
                continue
            case "transfer-encoding":
                facts.declaresBody = true
            case "content-length":
                if value != "0" { facts.declaresBody = true }
            case "expect":
                if value.lowercased() == "100-continue" { facts.expectsContinue = true }
            default:
                break
            }
            headers.add(lower, value)
        }
        let request = RequestHead(method: head.method.rawValue, scheme: "http", authority: authority,
                                  path: head.uri, headers: headers)
        return (request, facts)
    }

    static func responseHead(_ head: HTTPResponseHead) -> ResponseHead {
        var headers = HeaderList()
        for (name, value) in head.headers { headers.add(name.asciiLowercased(), value) }
        return ResponseHead(status: Int(head.status.code), headers: headers)
    }

    static func nioHeaders(_ list: HeaderList) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(list.count)
        for field in list { headers.add(name: field.name, value: field.value) }
        return headers
    }

    /// Builds the head sent to an HTTP/1.1 upstream. `hasBody` decides the framing when the
    /// caller (HTTP/2) gave no content-length.
    static func http1Request(_ head: RequestHead, hasBody: Bool) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        headers.add(name: "host", value: head.authority)
        for field in head.headers { headers.add(name: field.name, value: field.value) }
        if !headers.contains(name: "content-length") {
            if hasBody {
                headers.add(name: "transfer-encoding", value: "chunked")
            } else if !["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"].contains(head.method) {
                headers.add(name: "content-length", value: "0")
            }
        }
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: head.method),
                               uri: head.path, headers: headers)
    }
}

extension String {
    /// Header names are ASCII; most arrive lowercase already, and then no copy is made.
    func asciiLowercased() -> String {
        let upper = withUTF8Bytes { $0.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") } }
        return upper ? lowercased() : self
    }
}
