import Testing
@testable import PosternProxy

@Suite struct BearerTokenTests {
    @Test func theTokenIsWhatFollowsTheScheme() {
        #expect(LoopServices.bearerToken("Bearer abc.def") == "abc.def")
        #expect(LoopServices.bearerToken("  bEaReR \t abc  ") == "abc")
        #expect(LoopServices.bearerToken("Bearer tökén") == "tökén")
    }

    @Test func otherSchemesAndEmptyTokensAreNot() {
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearer  \t ", "Bearerabc", "", "   "] {
            #expect(LoopServices.bearerToken(value) == nil, "\(value)")
        }
    }
}
