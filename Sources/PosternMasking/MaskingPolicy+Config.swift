import PosternConfig

extension MaskingPolicy {
    /// The policy `settings` describe; reads the hash key file. Errors name the key.
    public static func build(_ settings: MaskingSettings) -> Result<MaskingPolicy, MaskingError> {
        func action(_ name: String) -> MaskAction {
            switch name {
            case "partial": .partial(keep: settings.keepLast)
            case "hash": .hash
            case "drop": .drop
            default: .redact
            }
        }
        let kinds = settings.detectors.map { Set($0.compactMap(EntityKind.init(rawValue:))) } ?? Set(EntityKind.builtIn)
        var phonePlans = PhonePlan.defaults
        if settings.phoneRegions == ["all"] {
            phonePlans = PhonePlan.all
        } else if let regions = settings.phoneRegions {
            let named = PhonePlan.named(regions)
            guard named.unknown.isEmpty else {
                return .failure(MaskingError("masking.\(settings.name).phone_regions: no numbering plan for "
                    + named.unknown.joined(separator: ", ") + " (known: " + PhonePlan.regions.joined(separator: ", ") + ")"))
            }
            phonePlans = named.plans
        }
        var actions: [EntityKind: MaskAction] = [:]
        for (detector, name) in settings.actions {
            if let kind = EntityKind(rawValue: detector) { actions[kind] = action(name) }
        }
        var fields: [FieldRule] = []
        for rule in settings.fields {
            if let path = rule.path {
                guard let steps = FieldRule.parsePath(path) else {
                    return .failure(MaskingError("masking.\(settings.name).fields: bad path \(path)"))
                }
                fields.append(FieldRule(.path(steps), action: action(rule.action)))
            }
            fields += rule.keys.map { FieldRule(.key($0), action: action(rule.action)) }
        }
        var key: [UInt8] = []
        if let file = settings.hashKeyFile {
            switch TextFile.load(file) {
            case .success(let bytes): key = bytes
            case .failure(let error):
                return .failure(MaskingError("masking.\(settings.name).hash_key_file: \(file): cannot read the file: \(error)"))
            }
            while let last = key.last, last == 0x0A || last == 0x0D { key.removeLast() }
            guard key.count >= 16 else {
                return .failure(MaskingError("masking.\(settings.name).hash_key_file: \(file): a key needs at least 16 bytes"))
            }
        }
        var patterns: [CustomPattern] = []
        for pattern in settings.patterns {
            do {
                patterns.append(try CustomPattern(name: pattern.name, pattern: pattern.regex,
                                                  action: pattern.action.map(action)))
            } catch {
                return .failure(MaskingError("masking.\(settings.name).patterns: \(error)"))
            }
        }
        var schema: ProtoSchema?
        if !settings.descriptorSets.isEmpty {
            var sets: [[UInt8]] = []
            for file in settings.descriptorSets {
                switch TextFile.load(file) {
                case .success(let bytes): sets.append(bytes)
                case .failure(let error):
                    return .failure(MaskingError("masking.\(settings.name).descriptor_sets: \(file): cannot read the file: \(error)"))
                }
            }
            do {
                schema = try ProtoSchema.build(descriptorSets: sets)
            } catch {
                return .failure(MaskingError("masking.\(settings.name).descriptor_sets: \(error)"))
            }
        }
        var policy = MaskingPolicy(name: settings.name, kinds: kinds, action: action(settings.action), actions: actions,
                                      fields: fields, hashKey: key, passUnparseable: settings.onUnparseable == "pass",
                                      patterns: patterns)
        policy.protoSchema = schema
        policy.scanner = EntityScanner(kinds: kinds, phonePlans: phonePlans)
        policy.maxMessageBytes = settings.maxMessageBytes
        policy.unknownStreams = settings.unknownStreams == "refuse" ? .refuse : .perEvent
        policy.streamedTensors = Set(settings.streamedTensors)
        policy.streamFormats = settings.streamFormats.map(StreamFormat.init(settings:)) + StreamFormat.builtIn
        return .success(policy)
    }
}

extension StreamFormat {
    init(settings: StreamFormatSettings) {
        func matches(_ conditions: [StreamFormatSettings.Condition]) -> [FieldMatch] {
            conditions.map { FieldMatch($0.path, $0.values) }
        }
        self.init(name: settings.name, recognise: matches(settings.match),
                  texts: settings.texts.map { StreamedText(when: matches($0.when), path: $0.path, key: $0.key) },
                  ends: settings.ends.map { StreamEnd(when: matches($0.when), key: $0.key) })
    }
}
