import Testing
@testable import PosternProxy
import PosternPolicy
@testable import PosternTLS

@Suite struct AuthorizeStepTests {
    static let web = "spiffe://td/ns/app/sa/web"
    let step = AuthorizeStep(
        classifier: try! Classifier.build(profiles: ["openai"], custom: []).get(),
        authorizer: Authorizer(functions: [Authorizer.Function(name: "inference", callers: [.exact(web)])], rules: []),
        shadow: Authorizer(functions: [], rules: []))

    @Test func anAllowedRequestCarriesItsFunctionsCredential() {
        let result = step.run(method: "POST", path: "/v1/chat/completions", caller: Self.web, context: RequestContext(time: 0),
                              upstreamCredentials: ["inference": .success(UpstreamCredential(header: "authorization", value: "Bearer t"))])
        #expect(result.refusal == nil && result.credential?.value == "Bearer t")
        #expect(result.decision?.outcome == .allow && result.shadowDecision?.outcome == .deny)
    }

    @Test func refusalsSayWhyAndKeepWhatWasFoundForTheLog() {
        let context = RequestContext(time: 0)
        let denied = step.run(method: "POST", path: "/v1/load_lora_adapter", caller: Self.web, context: context,
                              upstreamCredentials: [:])
        #expect(denied.refusal?.error.httpStatus == 403 && denied.operation?.function == "deployment")
        let unknown = step.run(method: "GET", path: "/admin", caller: Self.web, context: context, upstreamCredentials: [:])
        #expect(unknown.refusal?.outcome == "no_operation" && unknown.refusal?.error.httpStatus == 404)
        let unreadable = step.run(method: "POST", path: "/v1/chat/completions", caller: Self.web, context: context,
                                  upstreamCredentials: ["inference": .failure(UpstreamCredentialUnavailable(description: "gone"))])
        #expect(unreadable.refusal?.error.httpStatus == 503 && unreadable.refusal?.detail == "gone" && unreadable.credential == nil)
    }
}
