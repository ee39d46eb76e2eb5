// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "postern",
    products: [
        .executable(name: "postern", targets: ["postern"]),
        .executable(name: "postern-bench", targets: ["postern-bench"]),
        .executable(name: "postern-fuzz", targets: ["postern-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Only for descriptor.proto's types (FileDescriptorSet); no code generation.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The only places that import C.
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2",
                       providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc"),

        // Protocol-neutral request/response types, request ids and the errors a caller sees.
        .target(name: "PosternCore", dependencies: [
            "PosternJSON",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // nghttp2 sessions behind Swift events (server and client side).
        .target(name: "PosternHTTP2", dependencies: [
            "CNGHTTP2",
            "PosternCore",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // The Swift side of OpenSSL: public keys, signatures, certificates and trust anchors.
        .target(name: "PosternCrypto", dependencies: ["COpenSSL"]),
        // A small strict JSON reader (RFC 8259, no duplicate members): token claims, request bodies.
        .target(name: "PosternJSON"),
        // Workload identity: SPIFFE IDs, JWT checks (later X.509-SVIDs, the Principal).
        .target(name: "PosternIdentity", dependencies: ["PosternCrypto", "PosternJSON"]),
        // TLS on OpenSSL inside the NIO pipeline: handshakes, ALPN, X.509-SVID client certificates.
        .target(name: "PosternTLS", dependencies: [
            "COpenSSL", "PosternCrypto", "PosternIdentity", "PosternJSON", "PosternConfig",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Masking: validated detectors and streaming maskers (pure Swift, no sockets).
        .target(name: "PosternMasking", dependencies: [
            "PosternCrypto", "PosternConfig", "CZlib",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        // Classify and authorize: operations from profile tables, decisions by named rules
        // (pure Swift, no configuration, no sockets).
        .target(name: "PosternPolicy", dependencies: ["PosternCrypto", "PosternJSON"]),
        // Just-in-time approvals, grants and revocations: the state machine and the
        // snapshot the data path reads (pure Swift, no store, no sockets).
        .target(name: "PosternApprovals", dependencies: ["PosternCrypto", "PosternJSON"]),
        // The audit trail: records as leaves of an RFC 9162 Merkle tree, signed C2SP
        // checkpoints, the file sink and the verifier (no sockets).
        .target(name: "PosternAudit", dependencies: ["PosternCore", "PosternCrypto", "PosternJSON", "PosternClient"]),
        // Blocking client connections (cleartext or TLS) and HTTP/1.1 replies, for the
        // commands and the audit trail's witness: never on an event loop.
        .target(name: "PosternClient", dependencies: ["PosternCore", "PosternCrypto"]),
        // Where approvals, grants and revocations are shared: the journal in SQLite (one
        // pod) or PostgreSQL (replicas), off the event loops.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .target(name: "PosternStore", dependencies: [
            "PosternApprovals", "PosternClient", "PosternCrypto", "CSQLite",
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The configuration file: typed, validated, every problem reported by key.
        .target(name: "PosternConfig", dependencies: [
            "PosternCore", "PosternPolicy", "PosternJSON", "PosternApprovals", "PosternAudit",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The NIO pipeline that carries a request from a caller to the model server and back.
        .target(name: "PosternProxy", dependencies: [
            "PosternCore", "PosternHTTP2", "PosternConfig", "PosternIdentity", "PosternTLS", "PosternMasking",
            "PosternPolicy", "PosternApprovals", "PosternAudit",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The admin listener: health, readiness (later approvals, revocations, metrics).
        .target(name: "PosternAdmin", dependencies: [
            "PosternCore", "PosternApprovals", "PosternIdentity", "PosternJSON", "PosternPolicy", "PosternClient", "PosternCrypto",
            "PosternTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "postern", dependencies: ["PosternJSON", "CMalloc",
            "PosternCore", "PosternConfig", "PosternCrypto", "PosternClient", "PosternHTTP2", "PosternProxy", "PosternStore", "PosternAdmin", "PosternApprovals",
            "PosternAudit",
            "PosternIdentity", "PosternPolicy", "PosternTLS", "PosternMasking",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // Micro-benchmarks behind `bench/run` (not shipped).
        .executableTarget(name: "postern-bench", dependencies: ["PosternApprovals"]),
        // Fuzz targets for every reader of untrusted bytes: libFuzzer's entry under
        // `scripts/fuzz`, a corpus replayer otherwise (not shipped).
        .executableTarget(name: "postern-fuzz", dependencies: [
            "PosternAudit", "PosternClient", "PosternConfig", "PosternCore", "PosternCrypto", "PosternHTTP2",
            "PosternIdentity", "PosternJSON", "PosternMasking", "PosternProxy", "PosternStore", "PosternTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),

        .testTarget(name: "PosternCoreTests", dependencies: ["PosternCore"]),
        .testTarget(name: "PosternClientTests", dependencies: ["PosternClient"]),
        .testTarget(name: "PosternHTTP2Tests", dependencies: ["PosternCore",
            "PosternHTTP2", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "PosternConfigTests", dependencies: ["PosternAudit", "PosternConfig", "PosternPolicy"]),
        .testTarget(name: "PosternPolicyTests", dependencies: ["PosternCrypto", "PosternPolicy", "PosternJSON"]),
        .testTarget(name: "PosternApprovalsTests", dependencies: ["PosternApprovals", "PosternStore", "CSQLite"]),
        .testTarget(name: "PosternAuditTests", dependencies: ["PosternJSON", "PosternAudit", "PosternCrypto"]),
        .testTarget(name: "PosternMaskingTests", dependencies: [
            "PosternConfig", "PosternMasking", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .testTarget(name: "PosternIdentityTests", dependencies: ["PosternIdentity", "PosternCrypto", "PosternJSON"],
                    exclude: ["make_jwt_fixtures.py", "make_svid_fixtures.sh"]),
        .testTarget(name: "PosternProxyTests", dependencies: ["PosternCore",
            "PosternProxy", "PosternPolicy", "PosternTLS", "PosternConfig",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
