import Testing
@testable import PosternProxy

@Suite struct SSEDoneMarkerTests {
    private func marker(_ pieces: [String]) -> SSEDoneMarker {
        var marker = SSEDoneMarker()
        for piece in pieces { marker.sent(Array(piece.utf8)) }
        return marker
    }

    @Test func theTerminalEventEndsTheStream() {
        #expect(marker(["data: {\"a\":1}\n\n", "data: [DONE]\n\n"]).endsWithDone)
        #expect(marker(["data: {\"a\":1}\r\n\r\ndata:[DONE]\r\n\r\n"]).endsWithDone)
        #expect(marker(["data: [DO", "NE]\n", "\n"]).endsWithDone)
    }

    @Test func anythingElseDoesNot() {
        #expect(!marker(["data: [DONE]\n"]).endsWithDone)  // the event is not dispatched yet
        #expect(!marker(["data: {\"text\":\"[DONE]\"}\n\n"]).endsWithDone)
        #expect(!marker(["data: [DONE]\n\ndata: {}\n\n"]).endsWithDone)
        #expect(!marker(["xdata: [DONE]\n\n"]).endsWithDone)
        #expect(!marker([]).endsWithDone)
    }
}
