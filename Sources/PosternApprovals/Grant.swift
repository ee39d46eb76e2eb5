/// What an approval yields: the right for one caller to make one operation (on one model,
/// or one exact request) for a while and a number of times.
///
///     active --use (uses left, time left, request matches)--> active, or exhausted at 0
///     active --revoke--> revoked
///     active --its time passes--> expired
///     exhausted, revoked, expired: final
public struct Grant: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable { case active, exhausted, revoked, expired }

    public var id: String
    public var approval: String
    public var holder: String
    public var function: String
    public var operation: String
    public var model: String?
    /// When set, only the request with this digest may pass.
    public var digest: String?
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var usesLeft: Int
    public var revoked = false

    public init(id: String, approval: String, holder: String, function: String, operation: String, model: String?,
                digest: String?, issuedAt: Int64, expiresAt: Int64, uses: Int) {
        self.id = id
        self.approval = approval
        self.holder = holder
        self.function = function
        self.operation = operation
        self.model = model
        self.digest = digest
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.usesLeft = uses
    }

    public func state(at now: Int64) -> State {
        if revoked { return .revoked }
        if usesLeft <= 0 { return .exhausted }
        return now >= expiresAt ? .expired : .active
    }

    /// Why a request does not match this grant.
    public enum Mismatch: Error, Sendable, Equatable {
        case notActive(State)
        case otherCaller, otherOperation, otherModel, otherRequest
    }

    /// Takes one use for this request; the grant as it is afterwards, and how many seconds
    /// it has left (what the request opened under it may last).
    public func use(by caller: String, function: String, operation: String, model: String?, digest: String,
                    at now: Int64) -> Result<(grant: Grant, secondsLeft: Int64), Mismatch> {
        let current = state(at: now)
        guard current == .active else { return .failure(.notActive(current)) }
        guard caller == holder else { return .failure(.otherCaller) }
        guard function == self.function, operation == self.operation else { return .failure(.otherOperation) }
        guard model == self.model else { return .failure(.otherModel) }
        if let bound = self.digest, bound != digest { return .failure(.otherRequest) }
        var next = self
        next.usesLeft -= 1
        return .success((next, expiresAt - now))
    }
}
