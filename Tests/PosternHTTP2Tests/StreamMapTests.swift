import Testing
@testable import PosternHTTP2

@Suite struct StreamMapTests {
    /// Random inserts, overwrites and removals, checked against a Dictionary after each step:
    /// ids clustered as live streams are (a window that moves up) and scattered, so probe
    /// chains wrap around the table and removals shift entries across the wrap.
    @Test(arguments: [1, 2, 3])
    func behavesAsADictionary(seed: UInt64) {
        var random = HTTP2SessionRandomInputTests.SplitMix(state: seed)
        var map = StreamMap<Int>()
        var model: [Int32: Int] = [:]
        var low: Int32 = 1
        for step in 0..<20_000 {
            let scattered = random.next() % 4 == 0
            let id = scattered ? Int32(random.next() % 5_000) : low + Int32(random.next() % 64) * 2
            switch random.next() % 3 {
            case 0, 1:
                map[id] = step
                model[id] = step
            default:
                #expect(map.removeValue(forKey: id) == model.removeValue(forKey: id))
            }
            if step % 50 == 0 { low += 2 }
            #expect(map.count == model.count)
            #expect(map[id] == model[id])
        }
        for (id, value) in model { #expect(map[id] == value) }
        #expect(map.values.sorted() == model.values.sorted())
        for id in model.keys { map[id] = nil }
        #expect(map.isEmpty && map[1] == nil)
    }

    @Test func defaultsAndNegativeIds() {
        var map = StreamMap<Int>()
        map[7, default: 0] += 5
        map[7, default: 0] += 5
        #expect(map[7] == 10 && map[9] == nil && map[-1] == nil && map.removeValue(forKey: -3) == nil)
    }
}
