"""A gRPC test service with raw-bytes messages (no code generation needed).

Methods of /postern.test.Echo/:
  Unary          returns the request bytes
  ServerStream   request b"COUNT SIZE DELAY": COUNT messages of SIZE bytes, DELAY s apart
  Bidi           echoes each message as it arrives
  Slow           sleeps for the float in the request, then answers
  Fail           aborts with the status code given in the request
  Peer           returns the caller's address as the server saw it
"""
import threading
import time

import grpc

# Streams whose handler saw the call cancelled (the client, or Postern, reset it).
cancelled = set()
cancelled_changed = threading.Condition()


def unary(request, context):
    context.set_trailing_metadata((("x-echo-size", str(len(request))),))
    return request


def server_stream(request, context):
    count, size, delay = request.decode().split()
    tag = dict(context.invocation_metadata()).get("x-test-tag")
    if tag:
        context.add_callback(lambda: _mark_cancelled(tag, context))
    for i in range(int(count)):
        if not context.is_active():
            return
        yield (b"%08d" % i) + b"y" * max(0, int(size) - 8)
        time.sleep(float(delay))


def _mark_cancelled(tag, context):
    if context.code() is None or context.code() == grpc.StatusCode.CANCELLED:
        with cancelled_changed:
            cancelled.add(tag)
            cancelled_changed.notify_all()


def bidi(request_iterator, context):
    for message in request_iterator:
        yield message


def slow(request, context):
    time.sleep(float(request.decode()))
    return b"done"


def fail(request, context):
    context.abort(_code(int(request.decode())), "failed on purpose")


def peer(request, context):
    return context.peer().encode()


def _code(number):
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


def handler():
    return grpc.method_handlers_generic_handler("postern.test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Peer": grpc.unary_unary_rpc_method_handler(peer),
    })


def inference_handler():
    """The KServe v2 service's streaming method, echoing each request message back."""
    return grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
        "ModelStreamInfer": grpc.stream_stream_rpc_method_handler(bidi),
        "ModelInfer": grpc.unary_unary_rpc_method_handler(unary),
    })


def stub(channel):
    """Client callables for each method."""
    prefix = "/postern.test.Echo/"
    return {
        "Unary": channel.unary_unary(prefix + "Unary"),
        "ServerStream": channel.unary_stream(prefix + "ServerStream"),
        "Bidi": channel.stream_stream(prefix + "Bidi"),
        "Slow": channel.unary_unary(prefix + "Slow"),
        "Fail": channel.unary_unary(prefix + "Fail"),
        "Peer": channel.unary_unary(prefix + "Peer"),
    }
