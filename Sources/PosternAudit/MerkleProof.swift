/// Proofs over a tree whose leaf hashes are all at hand (the `audit` command reads them
/// from the files): RFC 9162 §2.1.3 inclusion and §2.1.4 consistency, built and checked.
public struct MerkleTree: Sendable {
    public let leaves: [[UInt8]]

    public init(leafHashes: [[UInt8]]) { leaves = leafHashes }

    public var size: Int { leaves.count }

    /// MTH(D[range]).
    public func root(_ range: Range<Int>) -> [UInt8] {
        switch range.count {
        case 0: return MerkleHash.empty
        case 1: return leaves[range.lowerBound]
        default:
            let split = range.lowerBound + Self.largestPowerOfTwo(below: range.count)
            return MerkleHash.node(root(range.lowerBound..<split), root(split..<range.upperBound))
        }
    }

    public func root(size: Int) -> [UInt8] { root(0..<size) }

    /// PATH(m, D[n]): the audit path of leaf `index` in the tree of the first `size` leaves.
    public func inclusionProof(index: Int, size: Int) -> [[UInt8]]? {
        guard index >= 0, index < size, size <= leaves.count else { return nil }
        return path(index, 0..<size)
    }

    /// PROOF(m, D[n]): that the tree of `first` leaves is a prefix of the one of `second`.
    public func consistencyProof(first: Int, second: Int) -> [[UInt8]]? {
        guard first >= 0, first <= second, second <= leaves.count else { return nil }
        guard first > 0, first < second else { return [] }
        return subproof(first, 0..<second, complete: true)
    }

    private func path(_ index: Int, _ range: Range<Int>) -> [[UInt8]] {
        guard range.count > 1 else { return [] }
        let split = range.lowerBound + Self.largestPowerOfTwo(below: range.count)
        if range.lowerBound + index < split {
            return path(index, range.lowerBound..<split) + [root(split..<range.upperBound)]
        }
        return path(index - (split - range.lowerBound), split..<range.upperBound) + [root(range.lowerBound..<split)]
    }

    private func subproof(_ m: Int, _ range: Range<Int>, complete: Bool) -> [[UInt8]] {
        if m == range.count { return complete ? [] : [root(range)] }
        let k = Self.largestPowerOfTwo(below: range.count)
        let split = range.lowerBound + k
        if m <= k {
            return subproof(m, range.lowerBound..<split, complete: complete) + [root(split..<range.upperBound)]
        }
        return subproof(m - k, split..<range.upperBound, complete: false) + [root(range.lowerBound..<split)]
    }

    /// The largest power of two strictly below `n` (n > 1).
    static func largestPowerOfTwo(below n: Int) -> Int {
        1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }
}

/// Checking proofs with nothing but hashes, as a third party does (RFC 9162 §2.1.3.2, §2.1.4.2).
public enum MerkleVerify {
    public static func inclusion(leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]],
                                 root: [UInt8]) -> Bool {
        guard index < size else { return false }
        var fn = index, sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    public static func consistency(first: UInt64, firstRoot: [UInt8], second: UInt64, secondRoot: [UInt8],
                                   proof: [[UInt8]]) -> Bool {
        guard first <= second else { return false }
        if first == 0 { return proof.isEmpty && firstRoot == MerkleHash.empty }
        if first == second { return proof.isEmpty && firstRoot == secondRoot }
        guard !proof.isEmpty else { return false }
        var path = proof
        if first & (first - 1) == 0 { path.insert(firstRoot, at: 0) }  // a power of two: the old root is a node
        var fn = first - 1, sn = second - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == firstRoot && sr == secondRoot && sn == 0
    }
}
