import PosternCrypto

/// RFC 9162 §2.1.1 hashing: leaves and interior nodes carry different prefixes, so a leaf
/// can never pass for a node (the second-preimage defence of RFC 6962).
public enum MerkleHash {
    /// The root of the empty tree: SHA-256 of nothing.
    public static let empty: [UInt8] = SHA256.digest([UInt8]())

    /// SHA-256(0x00 ‖ leaf).
    public static func leaf(_ leaf: ArraySlice<UInt8>, _ hasher: SHA256Hasher = SHA256Hasher()) -> [UInt8] {
        hasher.hash(prefix: 0x00, leaf)
    }

    public static func leaf(_ leaf: [UInt8]) -> [UInt8] { Self.leaf(leaf[...]) }

    /// SHA-256(0x01 ‖ left ‖ right).
    public static func node(_ left: [UInt8], _ right: [UInt8], _ hasher: SHA256Hasher = SHA256Hasher()) -> [UInt8] {
        hasher.hash(prefix: 0x01, left[...], right[...])
    }
}

/// The right edge of an append-only Merkle tree: one hash per perfect subtree (one per
/// set bit of the size, largest first). Enough to append and to compute the root, in
/// O(log n) memory; the writer keeps only this.
public struct MerkleFrontier: Equatable, Sendable {
    public private(set) var size: UInt64 = 0
    public private(set) var subtrees: [[UInt8]] = []

    public init() {}

    /// A frontier read back from a file header; nil when the hashes cannot be that size's.
    public init?(size: UInt64, subtrees: [[UInt8]]) {
        guard subtrees.count == size.nonzeroBitCount, subtrees.allSatisfy({ $0.count == 32 }) else { return nil }
        self.size = size
        self.subtrees = subtrees
    }

    public mutating func append(leafHash: [UInt8], _ hasher: SHA256Hasher = SHA256Hasher()) {
        var hash = leafHash
        var carry = size
        while carry & 1 == 1 {  // merge equal-sized subtrees, as binary addition carries
            hash = MerkleHash.node(subtrees.removeLast(), hash, hasher)
            carry >>= 1
        }
        subtrees.append(hash)
        size += 1
    }

    /// MTH of the whole tree (RFC 9162 §2.1.1): subtrees folded from the right.
    public var root: [UInt8] {
        guard var root = subtrees.last else { return MerkleHash.empty }
        for subtree in subtrees.dropLast().reversed() { root = MerkleHash.node(subtree, root) }
        return root
    }
}
