import NIOHTTP1
import PosternCore

/// Converts between NIOHTTP1 heads and Postern's protocol-neutral ones.
enum HeadTranslation {
    static func requestHead(_ head: HTTPRequestHead) -> RequestHead {
        var headers = HeaderList()
        var authority = ""
        for (name, value) in head.headers {
            let lower = name.asciiLowercased()
            if lower == "host" {
                if authority.isEmpty { authority = value }
                continue
            }
            headers.add(lower, value)
        }
        return RequestHead(method: head.method.rawValue, scheme: "http", authority: authority,
                           path: head.uri, headers: headers)
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
        utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? lowercased() : self
    }
}
