import Testing
@testable import PosternCore

@Suite struct RequestTargetTests {
    private func normalized(_ target: String, absolute: Bool = true) -> String? {
        try? RequestTarget.normalize(target, allowAbsoluteForm: absolute).get().path
    }

    @Test(arguments: ["/", "/v1/chat/completions", "/v2/models/llama-3/infer?x=1&y=%2F..", "/v1/models/",
                      "/inference.GRPCInferenceService/ModelInfer", "/a.b/c..d/.e"])
    func normalPathsPassUnchanged(_ path: String) {
        #expect(normalized(path) == path)
    }

    @Test(arguments: [
        ("/v2/health/../../v1/chat/completions", "/v1/chat/completions"),
        ("/v2/health/%2e%2e/%2E%2E/v1/chat/completions", "/v1/chat/completions"),
        ("/v2/health/.%2e/.%2E/v1/chat", "/v1/chat"),
        ("/v2/./health/.", "/v2/health/"),
        ("/v2/health/..", "/v2/"),
        ("//v1//chat///completions", "/v1/chat/completions"),
        ("/v1/%63hat/completions", "/v1/chat/completions"),
        ("/v2/models/my%20model/infer", "/v2/models/my%20model/infer"),
        ("/v2/models/caf%c3%a9", "/v2/models/caf%C3%A9"),
        ("/v1/chat?next=/../admin", "/v1/chat?next=/../admin"),
    ])
    func normalisesAsRFC3986(_ input: String, _ expected: String) {
        #expect(normalized(input) == expected)
    }

    @Test(arguments: ["/v2/health/..%2f..%2fv1/chat", "/v2/health%2F..", "/v2\\..\\v1", "/v2/health/..;/v1/chat",
                      "/v1/chat;jsessionid=1", "/v2/%5c../v1", "/v1/%252e%252e/x", "/../v1/chat", "/v1/../../x",
                      "/v1/chat#frag", "/v1/%zz", "/v1/%4", "/v1/%00", "/v1/a\u{1}b", "*", "v1/chat", "", "/v1/%0a"])
    func refusesAmbiguousSpellings(_ target: String) {
        guard case .failure(let error) = RequestTarget.normalize(target, allowAbsoluteForm: true) else {
            Issue.record("accepted \(target)")
            return
        }
        #expect(error.httpStatus == 400)
    }

    @Test func absoluteFormGivesPathAndAuthority() throws {
        let result = try RequestTarget.normalize("HTTP://model.local:8000/v2/health/../models?x", allowAbsoluteForm: true).get()
        #expect(result == RequestTarget.Normalized(path: "/v2/models?x", authority: "model.local:8000"))
        #expect(normalized("http://model.local", absolute: true) == "/")
        #expect(normalized("http://model.local/v1", absolute: false) == nil)
    }

    @Test(arguments: [
        ("/v2", "/v2", true), ("/v2/models", "/v2", true), ("/v2x", "/v2", false), ("/v2", "/v2/", true),
        ("/v2/", "/v2/", true), ("/V2/Models", "/v2/models", true), ("/v1/chat", "/", true),
        ("/v", "/v2", false), ("/v2/healthz", "/v2/health", false),
    ])
    func prefixesMatchWholeSegments(_ path: String, _ prefix: String, _ expected: Bool) {
        #expect(RequestTarget.isPath(path[...], under: prefix) == expected)
    }

    /// Read as Characters, a combining mark joins the `/` or `?` before it into one: a query
    /// was read as path (its `..` climbing out of it), and a normal path was refused as not
    /// starting with `/` (found by the `path` fuzz target).
    @Test func combiningMarksHideNoSeparator() throws {
        let query = try RequestTarget.normalize("/v1/a/?\u{301}x=/../../b", allowAbsoluteForm: true).get()
        #expect(query.path == "/v1/a/?\u{301}x=/../../b")
        let leading = try RequestTarget.normalize("//\u{711}v1/./x", allowAbsoluteForm: true).get()
        #expect(leading.path == "/\u{711}v1/x")
        #expect(try RequestTarget.normalize(leading.path, allowAbsoluteForm: false).get() == leading)
        let absolute = try RequestTarget.normalize("http://h\u{301}/v1/./x?\u{301}", allowAbsoluteForm: true).get()
        #expect(absolute.path == "/v1/x?\u{301}" && absolute.authority == "h\u{301}")
    }
}
