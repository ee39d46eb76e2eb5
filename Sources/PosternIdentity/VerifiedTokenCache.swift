/// Tokens already verified, so a caller that sends the same token on every request pays
/// for one signature check, not one per request. Keyed by the whole token (never a hash
/// or a prefix of it), holding an entry no longer than the token is valid, bounded in
/// size, and emptied whenever the keys it was verified with change.
public struct VerifiedTokenCache {
    public let capacity: Int
    private var entries: [Substring: Principal] = [:]
    private var generation = 0

    public init(capacity: Int = 4096) { self.capacity = capacity }

    public var count: Int { entries.count }

    /// The principal `token` proved, if it was verified under `generation`'s keys and
    /// has not expired (with `leeway`, as the validators allow).
    public mutating func principal(for token: Substring, generation: Int, now: Int64, leeway: Int64) -> Principal? {
        if generation != self.generation {
            entries.removeAll()
            self.generation = generation
            return nil
        }
        guard let principal = entries[token] else { return nil }
        guard now <= principal.expiry + leeway else {
            entries[token] = nil
            return nil
        }
        return principal
    }

    public mutating func insert(_ token: Substring, _ principal: Principal, generation: Int, now: Int64, leeway: Int64) {
        guard generation == self.generation else { return }
        if entries.count >= capacity {
            entries = entries.filter { now <= $0.value.expiry + leeway }
            // Still full of live tokens: make room by dropping an arbitrary half.
            if entries.count >= capacity {
                entries = Dictionary(uniqueKeysWithValues: entries.prefix(capacity / 2).map { ($0.key, $0.value) })
            }
        }
        // A copy of the key, so the cache does not keep a whole request head alive.
        entries[Substring(String(token))] = principal
    }
}
