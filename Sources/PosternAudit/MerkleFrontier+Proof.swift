/// Consistency proofs with only what a running log keeps: the tree's right edge at the
/// older size and the leaf hashes since. RFC 9162's proof from size m only ever needs
/// subtrees that lie wholly before m, which are exactly the right edge's subtrees, and
/// subtrees wholly after it, built from the later leaves.
public struct FrontierProof: Sendable {
    /// The tree at the older size.
    public let base: MerkleFrontier
    /// Leaf hashes from index `base.size` on.
    public let later: [[UInt8]]
    /// The right edge's subtrees by the index of their first leaf: (leaf count, hash).
    private let edge: [Int: (count: Int, hash: [UInt8])]

    public init(base: MerkleFrontier, later: [[UInt8]]) {
        self.base = base
        self.later = later
        var edge: [Int: (count: Int, hash: [UInt8])] = [:]
        var start = 0
        var bits = Int(base.size)
        for hash in base.subtrees {
            let count = 1 << (Int.bitWidth - 1 - bits.leadingZeroBitCount)
            edge[start] = (count, hash)
            start += count
            bits -= count
        }
        self.edge = edge
    }

    public var size: Int { Int(base.size) + later.count }

    /// PROOF(base.size, D[second]), or nil when `second` is beyond the leaves at hand.
    public func consistencyProof(to second: Int) -> [[UInt8]]? {
        let first = Int(base.size)
        guard first <= second, second <= size else { return nil }
        guard first > 0, first < second else { return [] }
        return subproof(first, 0..<second, complete: true)
    }

    /// The tree hash of `second` leaves, if it can be built.
    public func root(size second: Int) -> [UInt8]? {
        guard second >= Int(base.size), second <= size else { return nil }
        return second == Int(base.size) ? base.root : root(0..<second)
    }

    private func root(_ range: Range<Int>) -> [UInt8]? {
        let first = Int(base.size)
        if range.upperBound <= first {
            guard let node = edge[range.lowerBound], node.count == range.count else { return nil }
            return node.hash
        }
        switch range.count {
        case 0: return MerkleHash.empty
        case 1: return range.lowerBound >= first ? later[range.lowerBound - first] : nil
        default:
            let split = range.lowerBound + MerkleTree.largestPowerOfTwo(below: range.count)
            guard let left = root(range.lowerBound..<split), let right = root(split..<range.upperBound) else { return nil }
            return MerkleHash.node(left, right)
        }
    }

    private func subproof(_ m: Int, _ range: Range<Int>, complete: Bool) -> [[UInt8]]? {
        if m == range.count {
            guard !complete else { return [] }
            return root(range).map { [$0] }
        }
        let k = MerkleTree.largestPowerOfTwo(below: range.count)
        let split = range.lowerBound + k
        if m <= k {
            guard let rest = subproof(m, range.lowerBound..<split, complete: complete),
                  let right = root(split..<range.upperBound) else { return nil }
            return rest + [right]
        }
        guard let rest = subproof(m - k, split..<range.upperBound, complete: false),
              let left = root(range.lowerBound..<split) else { return nil }
        return rest + [left]
    }
}
