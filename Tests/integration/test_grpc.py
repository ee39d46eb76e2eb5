"""gRPC callers (grpcio) through Postern to a grpcio server on an h2c upstream."""
import threading
import time

import grpc
import pytest

import grpc_echo

OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


@pytest.fixture
def echo(postern):
    channel = grpc.insecure_channel(postern.target, options=OPTIONS)
    yield grpc_echo.stub(channel)
    channel.close()


def test_unary_with_trailers(echo):
    response, call = echo["Unary"].with_call(b"hello", timeout=10)
    assert response == b"hello"
    assert dict(call.trailing_metadata())["x-echo-size"] == "5"
    assert call.code() == grpc.StatusCode.OK
    assert len(dict(call.initial_metadata())["x-request-id"]) == 32


@pytest.mark.parametrize("size", [1, 4 << 20, 12 << 20])
def test_unary_messages_of_several_megabytes(echo, size):
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    assert echo["Unary"](payload, timeout=30) == payload


def test_server_streaming(echo):
    messages = list(echo["ServerStream"](b"50 100000 0", timeout=30))
    assert len(messages) == 50
    assert [int(m[:8]) for m in messages] == list(range(50))
    assert all(len(m) == 100000 for m in messages)


def test_server_streaming_is_not_buffered(echo):
    start = time.monotonic()
    stream = echo["ServerStream"](b"3 10 0.5", timeout=10)
    first = next(stream)
    assert first.startswith(b"00000000")
    assert time.monotonic() - start < 0.45
    assert len(list(stream)) == 2


def test_bidirectional_streaming_interleaves(echo):
    """Each reply must come back before the next request is sent."""
    sent = threading.Event()
    box = {"next": None}

    def requests():
        for i in range(20):
            box["next"] = b"msg-%d" % i
            yield box["next"] + b"x" * 50000
            sent.wait(5)
            sent.clear()

    replies = []
    for reply in echo["Bidi"](requests(), timeout=30):
        assert reply.startswith(box["next"])
        replies.append(reply)
        sent.set()
    assert len(replies) == 20


def test_upstream_status_passes_through(echo):
    with pytest.raises(grpc.RpcError) as error:
        echo["Fail"](b"5", timeout=10)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == "failed on purpose"


def test_deadline_exceeded_and_postern_keeps_serving(echo, postern):
    with pytest.raises(grpc.RpcError) as error:
        echo["Slow"](b"3", timeout=0.5)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert echo["Unary"](b"still here", timeout=10) == b"still here"
    assert postern.alive()


def test_cancelled_stream_resets_upstream(echo, postern):
    stream = echo["ServerStream"](b"1000 1000 0.05", timeout=30, metadata=[("x-test-tag", "cancel-me")])
    next(stream)
    stream.cancel()
    # The upstream handler itself must see the cancellation, not just Postern.
    with grpc_echo.cancelled_changed:
        assert grpc_echo.cancelled_changed.wait_for(lambda: "cancel-me" in grpc_echo.cancelled, timeout=5)
    # The cancellation reached Postern (logged as a caller reset) and it keeps serving.
    outcomes = [e["outcome"] for e in postern.request_log(entries=1) if e["path"].endswith("ServerStream")]
    assert outcomes == ["caller_reset"]
    assert echo["Unary"](b"ok", timeout=10) == b"ok"


def test_grpc_to_http1_upstream_is_unavailable(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server})
    with grpc.insecure_channel(p.target) as channel:
        with pytest.raises(grpc.RpcError) as error:
            grpc_echo.stub(channel)["Unary"](b"x", timeout=10)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "h2c" in error.value.details()
