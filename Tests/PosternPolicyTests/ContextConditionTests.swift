#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import PosternPolicy

@Suite struct ContextConditionTests {
    struct Headers: HeaderLookup {
        var values: [String: String]
        func value(of name: String) -> String? { values[name] }
    }

    // 2026-12-02 (a Wednesday) 10:30 UTC.
    static let wednesdayMorning: Int64 = 1_796_207_400

    @Test func timeWindowsReadTheLocalDayAndHour() {
        let office = TimeWindow(days: [1, 2, 3, 4, 5], from: 9 * 60, to: 17 * 60)
        #expect(office.contains(Self.wednesdayMorning))
        #expect(!office.contains(Self.wednesdayMorning + 8 * 3600))      // 18:30
        #expect(!office.contains(Self.wednesdayMorning + 4 * 86_400))    // Sunday
        let tokyo = TimeWindow(days: [3], from: 19 * 60, to: 20 * 60, utcOffsetMinutes: 9 * 60)  // 19:30 in Tokyo
        #expect(tokyo.contains(Self.wednesdayMorning))
        let night = TimeWindow(from: 22 * 60, to: 6 * 60)
        #expect(night.contains(Self.wednesdayMorning - 7 * 3600) && !night.contains(Self.wednesdayMorning))
    }

    @Test func addressRangesCompareTheirPrefix() {
        let ten = AddressRange(network: [10, 0, 0, 0], prefixLength: 8)!
        #expect(ten.contains([10, 1, 2, 3]) && !ten.contains([11, 0, 0, 1]))
        #expect(!ten.contains(Array(repeating: 0, count: 16)))
        let odd = AddressRange(network: [192, 168, 4, 0], prefixLength: 22)!
        #expect(odd.contains([192, 168, 7, 255]) && !odd.contains([192, 168, 8, 0]))
        #expect(AddressRange(network: [1, 2, 3], prefixLength: 8) == nil && AddressRange(network: [1, 2, 3, 4], prefixLength: 33) == nil)
    }

    @Test func rulesApplyOnlyInTheirContext() {
        var offHours = PolicyRule(name: "no-deploys-off-hours", effect: .deny)
        offHours.functions = ["deployment"]
        offHours.times = TimeWindow(days: [0, 6])
        var prodOnly = PolicyRule(name: "prod-label", effect: .allow)
        prodOnly.headers = ["x-env": ["prod"]]
        prodOnly.sources = [AddressRange(network: [10, 0, 0, 0], prefixLength: 8)!]
        let authorizer = Authorizer(functions: [Authorizer.Function(name: "deployment", callers: [.exact("a")])],
                                    rules: [offHours, prodOnly])
        let load = Operation(function: "deployment", name: "model_load", profile: "t")
        let chat = Operation(function: "inference", name: "chat", profile: "t")
        let saturday = Self.wednesdayMorning + 3 * 86_400
        #expect(authorizer.decide(CallerFacts(id: "a"), load, RequestContext(time: Self.wednesdayMorning)).outcome == .allow)
        #expect(authorizer.decide(CallerFacts(id: "a"), load, RequestContext(time: saturday)).rule == "no-deploys-off-hours")
        let labelled = RequestContext(time: 0, source: [10, 0, 0, 7], headers: Headers(values: ["x-env": "prod"]))
        #expect(authorizer.decide(CallerFacts(id: "b"), chat, labelled).rule == "prod-label")
        let elsewhere = RequestContext(time: 0, source: [192, 0, 2, 1], headers: Headers(values: ["x-env": "prod"]))
        #expect(authorizer.decide(CallerFacts(id: "b"), chat, elsewhere).outcome == .deny)
        let unlabelled = RequestContext(time: 0, source: [10, 0, 0, 7])
        #expect(authorizer.decide(CallerFacts(id: "b"), chat, unlabelled).outcome == .deny)
    }
}

@Suite struct ZoneOffsetsTests {
    static let berlin: ZoneOffsets = {
        var bytes: [UInt8] = []
        if let file = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb") {
            var buffer = [UInt8](repeating: 0, count: 8192)
            bytes = Array(buffer[..<fread(&buffer, 1, buffer.count, file)])
            fclose(file)
        }
        return ZoneOffsets(name: "Europe/Berlin", tzif: bytes)!
    }()

    @Test func daylightSavingTimeMovesTheWindow() {
        let winter = Int64(1_801_209_600)  // 2027-01-29T08:00:00Z
        let summer = Int64(1_814_515_200)  // 2027-07-02T08:00:00Z
        #expect(Self.berlin.offset(at: winter) == 3600 && Self.berlin.offset(at: summer) == 7200)
        // 09:00-17:00 Berlin time: 08:00Z is 09:00 in winter and 10:00 in summer, both inside;
        // 07:30Z is inside in summer only.
        let office = TimeWindow(from: 9 * 60, to: 17 * 60, zone: Self.berlin)
        #expect(office.contains(winter) && office.contains(summer))
        #expect(!office.contains(winter - 1800) && office.contains(summer - 1800))
        #expect(!TimeWindow(from: 9 * 60, to: 17 * 60, utcOffsetMinutes: 60).contains(summer - 1800))
    }

    @Test func whatIsNotATZifFileIsRefused() {
        #expect(ZoneOffsets(name: "x", tzif: Array("not a zone".utf8)) == nil)
        #expect(ZoneOffsets(name: "x", tzif: Array("TZif2".utf8) + [UInt8](repeating: 0xFF, count: 60)) == nil)
    }
}
