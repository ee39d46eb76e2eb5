import Testing
@testable import PosternCore

@Suite struct CallerClaimsTests {
    @Test func builtInFamiliesAndAdditionsAreClaims() {
        let claims = CallerClaims(adding: ["x-corp-user", "x-corp-auth-*"])
        for name in ["authorization", "x-forwarded-preferred-username", "x-pomerium-claim-email", "x-amzn-oidc-data",
                     "cf-access-jwt-assertion", "x-ms-client-principal-name", "x-corp-user", "x-corp-auth-role"] {
            #expect(claims.isClaim(name), "\(name)")
        }
        for name in ["content-type", "x-request-id", "traceparent", "x-corp-team", "accept"] {
            #expect(!claims.isClaim(name), "\(name)")
        }
    }

    @Test(arguments: ["X-Upper", "*", "a*b", "", "x y"])
    func badPatternsAreNamed(_ pattern: String) {
        #expect(CallerClaims.problem(with: pattern) != nil)
    }
}
