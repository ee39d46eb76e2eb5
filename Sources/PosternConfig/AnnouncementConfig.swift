import PosternCore
import Yams

/// `announcements`: a webhook told of each new pending approval and each decision.
/// - `url`: `https://HOST:PORT/PATH` (or `http://` on loopback).
/// - `secret_file`: the key of the HMAC-SHA256 signature each POST carries.
/// - `format`: `json` (default) or `slack` (an incoming-webhook message).
/// - `ca`: the CA file an https receiver's certificate must chain to.
public struct AnnouncementConfig: Sendable, Equatable {
    public var address: HostPort
    public var useTLS: Bool
    public var path: String
    public var secretFile: String
    public var format = "json"
    public var caFile: String?

    static func decode(_ node: Node, _ d: ConfigDecoder, base: String) -> AnnouncementConfig? {
        guard let entries = d.mapping(node, "announcements", allowed: ["url", "secret_file", "format", "ca"]) else { return nil }
        var url: (HostPort, Bool, String)?
        var secretFile: String?, caFile: String?
        var format = "json"
        for (name, value) in entries {
            let key = "announcements.\(name)"
            switch name {
            case "url":
                guard let text = d.string(value, key) else { continue }
                url = ConfigValues.httpURL(text)
                if url == nil { d.report(key, value, "a webhook is https://HOST:PORT/PATH (or http:// on loopback)") }
            case "secret_file": secretFile = d.file(value, key, base: base)
            case "format":
                if let text = d.string(value, key) {
                    if ["json", "slack"].contains(text) { format = text } else { d.report(key, value, "json or slack") }
                }
            default: caFile = d.file(value, key, base: base)
            }
        }
        guard let (address, useTLS, path) = url, let secretFile else {
            if url == nil { d.report("announcements.url", node, "announcements need the webhook's url") }
            if secretFile == nil { d.report("announcements.secret_file", node, "announcements are signed: secret_file") }
            return nil
        }
        if useTLS, caFile == nil { d.report("announcements.ca", node, "https to the webhook needs the CA file its certificate chains to") }
        if !useTLS, !["127.0.0.1", "::1", "localhost"].contains(address.host) {
            d.report("announcements.url", node, "approvals are announced over https (http only to loopback)")
        }
        return AnnouncementConfig(address: address, useTLS: useTLS, path: path, secretFile: secretFile, format: format,
                                  caFile: caFile)
    }
}
