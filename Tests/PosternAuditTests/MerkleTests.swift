import PosternCrypto
import Testing
@testable import PosternAudit

/// The RFC 6962 test tree used by certificate-transparency implementations: eight leaves,
/// with the roots, audit paths and consistency proofs those implementations publish.
enum CTVectors {
    static let leaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        Array(0x50...0x57), Array(0x60...0x6F),
    ]
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    static let consistency: [(Int, Int, [String])] = [
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ]
    static let tree = MerkleTree(leafHashes: leaves.map(MerkleHash.leaf))
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

@Suite struct MerkleTests {
    @Test func rootsMatchTheRFC6962TestTree() {
        #expect(hex(MerkleHash.empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var frontier = MerkleFrontier()
        for (n, leaf) in CTVectors.leaves.enumerated() {
            frontier.append(leafHash: MerkleHash.leaf(leaf))
            #expect(hex(frontier.root) == CTVectors.roots[n], "size \(n + 1)")
            #expect(hex(CTVectors.tree.root(size: n + 1)) == CTVectors.roots[n])
            #expect(frontier.subtrees.count == (n + 1).nonzeroBitCount)
        }
    }

    @Test func consistencyProofsMatchThePublishedOnesAndVerify() throws {
        for (first, second, expected) in CTVectors.consistency {
            let proof = try #require(CTVectors.tree.consistencyProof(first: first, second: second))
            #expect(proof.map(hex) == expected, "\(first) -> \(second)")
            #expect(MerkleVerify.consistency(first: UInt64(first), firstRoot: CTVectors.tree.root(size: first),
                                             second: UInt64(second), secondRoot: CTVectors.tree.root(size: second),
                                             proof: proof))
        }
    }

    @Test func everyInclusionAndConsistencyProofVerifiesAndNoTamperedOneDoes() throws {
        let leaves = (0..<37).map { MerkleHash.leaf(Array("record \($0)".utf8)) }
        let tree = MerkleTree(leafHashes: leaves)
        for size in 1...leaves.count {
            let root = tree.root(size: size)
            for index in 0..<size {
                let proof = try #require(tree.inclusionProof(index: index, size: size))
                #expect(MerkleVerify.inclusion(leafHash: leaves[index], index: UInt64(index), size: UInt64(size),
                                               proof: proof, root: root))
                // Another leaf, another place or a changed path fails.
                #expect(!MerkleVerify.inclusion(leafHash: leaves[(index + 1) % leaves.count], index: UInt64(index),
                                                size: UInt64(size), proof: proof, root: root))
                if size > 1 {
                    #expect(!MerkleVerify.inclusion(leafHash: leaves[index], index: UInt64((index + 1) % size),
                                                    size: UInt64(size), proof: proof, root: root))
                    var bent = proof
                    bent[0][0] ^= 1
                    #expect(!MerkleVerify.inclusion(leafHash: leaves[index], index: UInt64(index), size: UInt64(size),
                                                    proof: bent, root: root))
                }
            }
            for first in 0...size {
                let proof = try #require(tree.consistencyProof(first: first, second: size))
                #expect(MerkleVerify.consistency(first: UInt64(first), firstRoot: tree.root(size: first),
                                                 second: UInt64(size), secondRoot: root, proof: proof),
                        "\(first) -> \(size)")
                if first > 0, first < size {
                    var other = tree.root(size: first)
                    other[5] ^= 0x40
                    #expect(!MerkleVerify.consistency(first: UInt64(first), firstRoot: other, second: UInt64(size),
                                                      secondRoot: root, proof: proof))
                }
            }
        }
    }

    @Test func aFrontierReadBackMustFitItsSize() {
        let hash = [UInt8](repeating: 7, count: 32)
        #expect(MerkleFrontier(size: 3, subtrees: [hash, hash]) != nil)
        #expect(MerkleFrontier(size: 3, subtrees: [hash]) == nil)
        #expect(MerkleFrontier(size: 4, subtrees: [Array(hash.prefix(31))]) == nil)
    }
}

@Suite struct FrontierProofTests {
    @Test func proofsFromTheRightEdgeAreTheFullTreesProofs() throws {
        let leaves = (0..<70).map { MerkleHash.leaf(Array("leaf \($0)".utf8)) }
        let tree = MerkleTree(leafHashes: leaves)
        for first in 0...leaves.count {
            var base = MerkleFrontier()
            for leaf in leaves[..<first] { base.append(leafHash: leaf) }
            let partial = FrontierProof(base: base, later: Array(leaves[first...]))
            for second in first...leaves.count {
                let proof = try #require(partial.consistencyProof(to: second), "\(first) -> \(second)")
                #expect(proof == tree.consistencyProof(first: first, second: second), "\(first) -> \(second)")
                #expect(partial.root(size: second) == tree.root(size: second))
                if first > 0 {
                    #expect(MerkleVerify.consistency(first: UInt64(first), firstRoot: tree.root(size: first),
                                                     second: UInt64(second), secondRoot: tree.root(size: second), proof: proof))
                }
            }
        }
    }
}
