"""A Triton-style inference server (grpcio, KServe v2 protocol from protos/inference.proto)
whose answers carry what a masking policy must catch: BYTES tensors in
raw_output_contents and in bytes_contents, a string parameter, a debug_redact field.

ModelInfer echoes each element of the request's BYTES input (raw_input_contents[0]) as
"echo: ELEMENT"; a request with id "garbage" gets a truncated message instead.
ModelStreamInfer answers each request of the stream the same way, or, for a request whose
id starts with "tokens", streams its text back as an LLM backend does (`tokens`).
"""
import struct
import types
from concurrent import futures
from pathlib import Path

import grpc

PROTO_DIR = Path(__file__).parent / "protos"
SERVICE = "inference.GRPCInferenceService"
OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


def compile_protos(out_dir):
    """The message classes of protos/inference.proto and a FileDescriptorSet for Postern,
    compiled by protoc into out_dir. The classes come from a pool of their own: tritonclient
    and kserve register their own `inference` package in the default one."""
    from grpc_tools import protoc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    descriptor_set = Path(out_dir) / "inference.pb"
    status = protoc.main(["protoc", f"-I{PROTO_DIR}", "--include_imports",
                          f"--descriptor_set_out={descriptor_set}", str(PROTO_DIR / "inference.proto")])
    assert status == 0, "protoc failed"
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    package = pool.FindFileByName("inference.proto")
    classes = {name: message_factory.GetMessageClass(message)
               for name, message in package.message_types_by_name.items()}
    return types.SimpleNamespace(**classes), descriptor_set


def bytes_tensor(elements):
    """KServe's BYTES layout: each element as a 4-byte little-endian length and its bytes."""
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def elements_of(data):
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def answer(pb, request):
    if request.id == "garbage":
        return b"\x0a\x20abc"
    elements = [b"echo: " + e for e in elements_of(request.raw_input_contents[0])]
    response = pb.ModelInferResponse(model_name=request.model_name, id=request.id,
                                     operator_note="account 12345678 flagged")
    response.parameters["note"].string_param = "reply to ann.lee@example.com"
    response.parameters["count"].int64_param = len(elements)
    text = response.outputs.add(name="text", datatype="BYTES", shape=[len(elements)])
    text.parameters["source"].string_param = "model"
    response.raw_output_contents.append(bytes_tensor(elements))
    response.outputs.add(name="scores", datatype="FP32", shape=[4])
    response.raw_output_contents.append(struct.pack("<4f", 0.5, 1.5, 2.5, 3.5))
    tokens = response.outputs.add(name="tokens", datatype="BYTES", shape=[len(elements)])
    tokens.contents.bytes_contents.extend(elements)
    return response


def tokens(pb, request):
    """An LLM backend's stream (TensorRT-LLM, vLLM): the request's text back 4 characters
    per response, as `text_output`, then a final response marked so with no outputs."""
    text = elements_of(request.raw_input_contents[0])[0]
    for i in range(0, len(text), 4):
        response = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
        response.outputs.add(name="text_output", datatype="BYTES", shape=[1])
        response.raw_output_contents.append(bytes_tensor([text[i:i + 4]]))
        yield pb.ModelStreamInferResponse(infer_response=response)
    final = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
    final.parameters["triton_final_response"].bool_param = True
    yield pb.ModelStreamInferResponse(infer_response=final)


def stream(pb, requests):
    for r in requests:
        if r.id.startswith("tokens"):
            yield from tokens(pb, r)
        else:
            yield pb.ModelStreamInferResponse(infer_response=answer(pb, r))


def start(pb):
    """Starts the server on an ephemeral loopback port; returns (h2c URL, server)."""
    def serialize(response):
        return response if isinstance(response, bytes) else response.SerializeToString()

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "ModelInfer": grpc.unary_unary_rpc_method_handler(
            lambda request, context: answer(pb, request),
            request_deserializer=pb.ModelInferRequest.FromString, response_serializer=serialize),
        "ModelStreamInfer": grpc.stream_stream_rpc_method_handler(
            lambda requests, context: stream(pb, requests),
            request_deserializer=pb.ModelInferRequest.FromString, response_serializer=serialize),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return f"h2c://127.0.0.1:{port}", server


def request(pb, texts, id="r1"):
    message = pb.ModelInferRequest(model_name="echo", id=id)
    message.inputs.add(name="text", datatype="BYTES", shape=[len(texts)])
    message.raw_input_contents.append(bytes_tensor([t.encode() for t in texts]))
    return message
