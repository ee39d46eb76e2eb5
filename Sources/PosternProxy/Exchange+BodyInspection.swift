#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PosternApprovals
import PosternCore
import PosternPolicy

/// Reading a request body (JSON whole, gRPC a message at a time) before the decision that
/// depends on it, bounded, and sending it on byte for byte.
extension Exchange {
    func hold(_ data: ByteBuffer) {
        guard var body = held else { return }
        held = nil  // no copy of the bytes while appending
        guard body.bytes.count + data.readableBytes <= body.read.limit else {
            fail(.bodyTooLarge(limit: body.read.limit), outcome: "request_body_too_large",
                 detail: "over \(body.read.setBy), which this request's body is read whole against")
            return
        }
        body.bytes.append(contentsOf: data.readableBytesView)
        held = body
        // Held bytes are delivered as far as the caller's flow control is concerned.
        prepaidCredit += data.readableBytes
        caller?.creditRequestBody(data.readableBytes)
    }

    func passMessages(_ data: ByteBuffer) {
        guard var framer = messages else { return }
        switch framer.feed(data.readableBytesView) {
        case .failure(.compressed):
            fail(.uninspectableBody("a compressed gRPC message cannot be read for its model; send it uncompressed"),
                 outcome: "unreadable_body")
        case .failure(.tooLarge(let limit)):
            fail(.bodyTooLarge(limit: limit), outcome: "request_body_too_large",
                 detail: "a gRPC message over the inspection limit")
        case .success(let complete):
            messages = framer
            for message in complete {
                guard admit(message) else { return }
                upstream?.sendRequestBody(ByteBuffer(bytes: message))
            }
        }
    }

    /// Decides on the model a message names (again only when it names another); the first
    /// message allowed opens the upstream request.
    func admit(_ message: [UInt8]) -> Bool {
        guard let step = services.authorize, var classified = operation, let principal,
              let fields = classified.messageModel else { return false }
        guard let named = fields.read(message[5...]) else {
            fail(.unreadableBody("a request message is not well-formed protobuf"), outcome: "unreadable_body")
            return false
        }
        if upstream != nil, !messagesGuarded, let admitted, admitted.model == named.model, admitted.version == named.version {
            return true
        }
        classified.model = named.model
        classified.version = named.version
        guard authorize(step, classified, CallerFacts(id: principal.id, groups: principal.groups), body: nil,
                        message: messagesGuarded ? named.body(size: message.count - 5) : nil) else {
            return false
        }
        admitted = (named.model, named.version)
        if upstream == nil { forward(endStream: false) }
        return true
    }

    /// The whole body is in: decide on it, then send it on byte for byte.
    func releaseHeld(_ body: HeldBody, trailers: HeaderList?) {
        if approvalWaitsForBody {
            settleApproval(body.bytes, trailers: trailers)
            return
        }
        guard let step = services.authorize, let classified = operation, let principal else { return }
        let inspected = HeldRequest(bytes: body.bytes, headers: request.headers)
        guard authorize(step, classified, CallerFacts(id: principal.id, groups: principal.groups), body: inspected,
                        onApproval: { [self] in settleApproval(body.bytes, trailers: trailers) })
        else { return }
        send(body.bytes, trailers: trailers)
    }

    /// Opens the upstream request and sends a body held whole, byte for byte.
    func send(_ bytes: [UInt8], trailers: HeaderList?) {
        forward(endStream: bytes.isEmpty && trailers == nil)
        if !bytes.isEmpty { upstream?.sendRequestBody(ByteBuffer(bytes: bytes)) }
        if !bytes.isEmpty || trailers != nil { upstream?.sendRequestEnd(trailers: trailers) }
        requestFinished()
    }
}

/// A request body read whole before the decision, up to its limit.
struct HeldBody {
    let read: RequestPolicy.BodyRead
    var bytes: [UInt8] = []
}
