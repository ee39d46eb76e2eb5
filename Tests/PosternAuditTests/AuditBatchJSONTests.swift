import PosternJSON
import Testing
@testable import PosternAudit

@Suite struct AuditBatchJSONTests {
    /// The data path's direct writer and `AuditRecord` write the same bytes, escapes and all,
    /// and the string reads back as it was.
    @Test(arguments: ["plain /v1/chat/completions", "", "quote \" and backslash \\ at the end\\",
                      "line\nfeed\r\ttab \u{01}\u{1f}\u{7f}", "é 漢字 🙂", "\"\"\\\\", "\u{00}"])
    func stringsMatchTheRecordBuilder(_ text: String) {
        var batch = AuditBatch()
        batch.openRecord(kind: "request", at: 1_700_000_000.25)
        batch.member("path", text)
        batch.closeObject()
        batch.closeRecord()
        let built = AuditRecord(kind: "request", at: 1_700_000_000.25).string("path", text).bytes
        #expect(batch.bytes == Array(built))
        #expect(JSONValue.parse(batch.bytes)?["path"]?.string == text)
    }

    @Test(arguments: [0, 7, -5, 10, 1_700_000_000, Int64.max, Int64.min])
    func integersAreWrittenInDecimal(_ value: Int64) {
        var batch = AuditBatch()
        batch.openRecord(kind: "request", at: 1_700_000_000.25)
        batch.member("n", value)
        batch.member("small", Int(value % 1000))
        batch.member("ms", millisFromNanos: 5_145_000)
        batch.closeObject()
        let text = String(decoding: batch.bytes, as: UTF8.self)
        #expect(text.contains("\"n\":\(value),\"small\":\(value % 1000),\"ms\":5.145}"), "\(text)")
    }
}
