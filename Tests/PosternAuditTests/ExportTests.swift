import PosternJSON
import Testing
@testable import PosternAudit

@Suite struct ExportTests {
    @Test func syslogMessagesAreRFC5424FramedByOctetCount() throws {
        let frame = SyslogMessage.frame(body: "{\"a\":1}", kind: "request", severity: 6, facility: 16,
                                        at: 1_796_299_361.304, hostname: "pod a", origin: "postern/p\"]",
                                        index: 7, checkpointSize: 9)
        let text = String(decoding: frame, as: UTF8.self)
        let space = try #require(text.firstIndex(of: " "))
        let message = text[text.index(after: space)...]
        #expect(Int(text[..<space]) == message.utf8.count)
        #expect(message.hasPrefix("<134>1 2026-12-03T12:02:41.304Z poda postern "))
        #expect(message.contains(" request [postern@32473 origin=\"postern/p\\\"\\]\" index=\"7\" checkpoint=\"9\"] {\"a\":1}"))
    }

    @Test func theStandardOutputCopyGivesBackItsLeafByteForByte() {
        let leaf = Array("{\"index\":12,\"v\":1,\"kind\":\"postern.start\",\"origin\":\"x\"}".utf8)
        var copy: [UInt8] = []
        ExportedLine.splice(leaf[...], originMember: ExportedLine.originMember("postern/a\"b"), signed: 9, into: &copy)
        #expect(String(decoding: copy, as: UTF8.self)
                == "{\"log_origin\":\"postern/a\\\"b\",\"log_signed\":9,\"index\":12,\"v\":1,\"kind\":\"postern.start\",\"origin\":\"x\"}")
        #expect(ExportedLine.original(copy[...]) == leaf)
        #expect(ExportedLine.original(leaf[...]) == nil)
        for broken in ["{\"log_origin\":\"a\",\"log_signed\":,\"index\":1}", "{\"log_origin\":\"a\"", "{\"log_origin\":\"a\\"]
        {
            #expect(ExportedLine.original(Array(broken.utf8)[...]) == nil)
        }
    }

    @Test func severitiesFollowTheOutcome() {
        #expect(SyslogMessage.severity(kind: "request", outcome: "ok") == 6)
        #expect(SyslogMessage.severity(kind: "request", outcome: "denied") == 4)
        #expect(SyslogMessage.severity(kind: "config.rejected", outcome: nil) == 3)
        #expect(RecordFields.outcome(Array("{\"index\":1,\"detail\":\"x,\\\"outcome\\\":\\\"ok\",\"outcome\":\"denied\"}".utf8))
                == "denied")
    }

    @Test func aRequestRecordBecomesAnOCSFAPIActivity() throws {
        let line = Array(("{\"index\":4,\"v\":1,\"ts\":1796299361.304,\"kind\":\"request\",\"request_id\":\"r1\","
            + "\"peer\":\"[::1]:5000\",\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"principal\":\"spiffe://td/a\","
            + "\"function\":\"inference\",\"operation\":\"chat\",\"decision\":\"deny\",\"rule\":\"no-chat\",\"status\":403,"
            + "\"outcome\":\"denied\"}").utf8)
        let text = try #require(OCSFMapping.event(line, origin: "postern/p", checkpointSize: 3))
        let event = try #require(JSONValue.parse(Array(text.utf8)))
        #expect(event["class_uid"]?.number == 6003 && event["type_uid"]?.number == 600301)
        #expect(event["time"]?.number == 1_796_299_361_304)
        #expect(event["status_id"]?.number == 2 && event["severity_id"]?.number == 3)
        #expect(event["src_endpoint"]?["ip"]?.string == "::1" && event["src_endpoint"]?["port"]?.number == 5000)
        #expect(event["metadata"]?["sequence"]?.number == 4 && event["metadata"]?["log_name"]?.string == "postern/p")
        #expect(event["unmapped"]?["checkpoint_size"]?.number == 3)
        #expect(text.contains("\"time\":1796299361304,"))  // an integer, as OCSF's timestamp_t is
        #expect(OCSFMapping.event(Array("{\"checkpoint\":\"x\"}".utf8), origin: "o", checkpointSize: 0) == nil)
    }
}

@Suite struct RecordEncodingTests {
    @Test func theDataPathsByteWriterMatchesTheRecordBuilder() throws {
        let tricky = "q\"\\ line\nbreak\ttab\u{01} é ✓"
        let built = AuditRecord(kind: "request", at: 1_796_299_361.3049).string("a", tricky).number("n", -5).bytes
        var batch = AuditBatch()
        batch.openRecord(kind: "request", at: 1_796_299_361.3049)
        batch.member("a", tricky)
        batch.member("n", -5)
        batch.member("absent", nil as String?)
        batch.closeObject()
        #expect(batch.bytes == built)
        #expect(batch.ends == [built.count])
        #expect(JSONValue.parse(batch.bytes)?["a"]?.string == tricky)
        var durations = AuditBatch()
        durations.openRecord(kind: "x", at: 0)
        durations.member("d", millisFromNanos: 5_145_999)
        durations.member("e", millisFromNanos: 42_000)
        durations.closeObject()
        #expect(String(decoding: durations.bytes, as: UTF8.self) == "{\"v\":1,\"ts\":0.000,\"kind\":\"x\",\"d\":5.145,\"e\":0.042}")
    }
}
