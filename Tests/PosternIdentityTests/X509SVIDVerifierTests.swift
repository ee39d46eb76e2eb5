@testable import PosternCrypto
import Testing
@testable import PosternIdentity

@Suite struct X509SVIDVerifierTests {
    static let now = SVIDFixtures.start + 60

    static func certificates(_ pem: String) throws -> [Certificate] {
        try Certificate.parsePEM(Array(pem.utf8))
    }

    /// example.org and other.org, each with only its own root.
    static func verifier(maxValidity: Int64 = 86_400) throws -> X509SVIDVerifier {
        X509SVIDVerifier(bundles: [
            try TrustDomain("example.org"): try TrustAnchors(certificates(SVIDFixtures.caExampleOrg)),
            try TrustDomain("other.org"): try TrustAnchors(certificates(SVIDFixtures.caOtherOrg)),
        ], maxValidity: maxValidity)
    }

    static func verify(_ pem: String, at time: Int64 = now) throws(SVIDError) -> Principal {
        let chain: [Certificate]
        let verifier: X509SVIDVerifier
        do {
            chain = try certificates(pem)
            verifier = try Self.verifier()
        } catch {
            Issue.record("fixtures: \(error)")
            throw .noCertificate
        }
        return try verifier.verify(chain: chain, now: time)
    }

    @Test func aGoodSVIDYieldsItsSPIFFEIDSerialAndExpiry() throws {
        let principal = try Self.verify(SVIDFixtures.good)
        #expect(principal.id == "spiffe://example.org/ns/prod/sa/client")
        #expect(principal.source == .mtls && principal.trustDomain?.name == "example.org")
        #expect(principal.expiry == SVIDFixtures.start + 3600)
        #expect(principal.credentialID?.isEmpty == false)
    }

    @Test func aChainThroughAnIntermediateVerifies() throws {
        let principal = try Self.verify(SVIDFixtures.goodViaIntermediateChain)
        #expect(principal.id == "spiffe://example.org/ns/prod/sa/batch")
    }

    @Test func aLeafWithoutItsIntermediateDoesNotVerify() {
        #expect { try Self.verify(SVIDFixtures.goodViaIntermediate) } throws: { error in
            guard case .chain(let failure) = error as? SVIDError else { return false }
            return failure.reason.contains("unable to get local issuer")
        }
    }

    @Test func eachTrustDomainVerifiesAgainstItsOwnBundleOnly() throws {
        #expect(try Self.verify(SVIDFixtures.otherGood).trustDomain?.name == "other.org")
        // Signed by other.org's CA but naming example.org: a pooled bundle would accept it.
        #expect { try Self.verify(SVIDFixtures.wrongTrustDomain) } throws: { error in
            guard case .chain = error as? SVIDError else { return false }
            return true
        }
    }

    @Test(arguments: [
        (SVIDFixtures.caAsLeaf, SVIDError.leafIsCA),
        (SVIDFixtures.canSign, .leafCanSign),
        (SVIDFixtures.twoUris, .uriSANCount(2)),
        (SVIDFixtures.noUri, .uriSANCount(0)),
        (SVIDFixtures.rootId, .badSPIFFEID("a workload's SPIFFE ID has a path")),
        (SVIDFixtures.caExampleOrg, .badSPIFFEID("a workload's SPIFFE ID has a path")),
        (SVIDFixtures.longLived, .standingCredential(lifetimeSeconds: 30 * 86_400, maxSeconds: 86_400)),
    ])
    func aBadSVIDIsRefusedWithItsReason(_ pem: String, _ expected: SVIDError) {
        #expect(throws: expected) { try Self.verify(pem) }
    }

    @Test func expiredAndNotYetValidCertificatesAreRefused() {
        #expect { try Self.verify(SVIDFixtures.expired) } throws: { error in
            guard case .chain(let failure) = error as? SVIDError else { return false }
            return failure.isExpired && "\(error)".contains("certificate has expired")
        }
        #expect { try Self.verify(SVIDFixtures.good, at: SVIDFixtures.start - 3600) } throws: { error in
            guard case .chain(let failure) = error as? SVIDError else { return false }
            return failure.isNotYetValid
        }
        #expect { try Self.verify(SVIDFixtures.good, at: SVIDFixtures.start + 7200) } throws: { error in
            guard case .chain(let failure) = error as? SVIDError else { return false }
            return failure.isExpired
        }
    }

    @Test func anUnknownTrustDomainIsRefused() throws {
        let verifier = X509SVIDVerifier(bundles: [
            try TrustDomain("other.org"): try TrustAnchors(Self.certificates(SVIDFixtures.caOtherOrg)),
        ])
        #expect(throws: SVIDError.untrustedTrustDomain("example.org")) {
            try verifier.verify(chain: Self.certificates(SVIDFixtures.good), now: Self.now)
        }
    }

    @Test func pemThatIsNotACertificateIsAnError() {
        for text in ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                     String(SVIDFixtures.good.prefix(200))] {
            #expect(throws: CryptoError.self) { try Certificate.parsePEM(Array(text.utf8)) }
        }
        #expect(throws: CryptoError.self) { try TrustAnchors([]) }
    }

    @Test func validityDatesConvertToEpochSeconds() throws {
        let validity = try #require(Self.certificates(SVIDFixtures.good)[0].validity)
        #expect(validity.notBefore == SVIDFixtures.start && validity.notAfter == SVIDFixtures.start + 3600)
        #expect(Certificate.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(Certificate.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
    }
}
