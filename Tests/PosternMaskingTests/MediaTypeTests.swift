import Testing
@testable import PosternMasking

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("application/json", MediaType.Kind.json), ("Application/JSON; charset=utf-8", .json),
        ("  application/json  ;charset=utf-8", .json), ("application/problem+json", .json),
        ("application/vnd.api+JSON", .json), ("text/event-stream", .sse), ("text/event-stream;\tcharset=utf-8", .sse),
        ("application/x-ndjson", .ndjson), ("application/jsonl", .ndjson), ("text/plain; charset=utf-8", .text),
        ("TEXT/MARKDOWN", .text),
    ])
    func maskedTypesAreKnownWhateverTheirCaseAndParameters(_ field: String, _ kind: MediaType.Kind) {
        #expect(MediaType.kind(of: field) == kind)
    }

    @Test(arguments: ["", ";", "application/octet-stream", "application/jsonx", "application/json-seq",
                      "json", "text/event-streams", "application/grpc", "image/png; a=application/json"])
    func othersAreNot(_ field: String) {
        #expect(MediaType.kind(of: field) == nil)
    }
}
