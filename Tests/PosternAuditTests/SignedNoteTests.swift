import PosternCrypto
import Testing
@testable import PosternAudit

@Suite struct SignedNoteTests {
    static let key = try! SigningKey.ed25519(seed: Array(repeating: 0x2A, count: 32))

    @Test func aCheckpointRoundTripsThroughASignedNote() throws {
        let checkpoint = Checkpoint(origin: "postern/pod-a", size: 42, root: CTVectors.tree.root(size: 8))
        let note = try SignedNote.sign(checkpoint.text, name: "postern/pod-a", key: Self.key)
        #expect(note.hasPrefix("postern/pod-a\n42\n"))
        #expect(note.contains("\n\n\u{2014} postern/pod-a "))
        let verifier = try NoteVerifierKey(name: "postern/pod-a", publicKey: Self.key.publicKey)
        let again = try NoteVerifierKey(encoded: verifier.encoded)
        #expect(again.id == verifier.id)
        let text = try #require(SignedNote.open(note, key: again))
        #expect(Checkpoint(text: text) == checkpoint)
    }

    @Test func aForgedOrAlteredNoteDoesNotOpen() throws {
        let verifier = try NoteVerifierKey(name: "log", publicKey: Self.key.publicKey)
        let note = try SignedNote.sign("log\n3\n\(Base64URL.encodeStandard(CTVectors.tree.root(size: 3)))\n", name: "log", key: Self.key)
        #expect(SignedNote.open(note.replacingFirst("log\n3", with: "log\n4"), key: verifier) == nil)
        let other = try SigningKey.ed25519(seed: Array(repeating: 0x01, count: 32))
        let forged = try SignedNote.sign("log\n4\n\(Base64URL.encodeStandard(CTVectors.tree.root(size: 4)))\n", name: "log", key: other)
        #expect(SignedNote.open(forged, key: verifier) == nil)
        // Under another name the key id differs, so the signature is not even tried.
        #expect(SignedNote.open(note, key: try NoteVerifierKey(name: "other", publicKey: Self.key.publicKey)) == nil)
        #expect(SignedNote.open("log\n3\n", key: verifier) == nil)
    }

    @Test func checkpointsAreParsedStrictly() {
        let root = Base64URL.encodeStandard(CTVectors.tree.root(size: 2))
        #expect(Checkpoint(text: "o\n2\n\(root)\n") != nil)
        #expect(Checkpoint(text: "o\n02\n\(root)\n") == nil)
        #expect(Checkpoint(text: "o\n-2\n\(root)\n") == nil)
        #expect(Checkpoint(text: "o\n2\n\(root)") == nil)
        #expect(Checkpoint(text: "o\n2\nAAAA\n") == nil)
        #expect(Checkpoint(text: "\n2\n\(root)\n") == nil)
    }

    @Test func verifierKeysAreCheckedWhole() throws {
        let encoded = try NoteVerifierKey(name: "log", publicKey: Self.key.publicKey).encoded
        #expect(throws: CryptoError.self) { try NoteVerifierKey(encoded: encoded.replacingFirst("log+", with: "gol+")) }
        #expect(throws: CryptoError.self) { try NoteVerifierKey(encoded: "log+00+AA==") }
        #expect(throws: CryptoError.self) { try NoteVerifierKey(name: "a b", publicKey: Self.key.publicKey) }
    }

    @Test func standardBase64MatchesRFC4648() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encodeStandard(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decodeStandard(encoded) == Array(plain.utf8))
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
