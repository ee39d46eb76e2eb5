"""A real KServe ModelServer (PyPI `kserve`) serving one tiny model over REST (Open Inference
Protocol v2) and gRPC (inference.GRPCInferenceService), bound to 127.0.0.1 only.

Loading a model through the repository extension (`/v2/repository/models/NAME/load`,
`RepositoryModelLoad`) serves one more echo model by that name. The model "echo" answers its BYTES input "text" element by element as "echo: ELEMENT", and
an FP32 input "x" doubled, in binary tensor data when the client asks for it. kserve binds 0.0.0.0 and [::] itself; the two binds are pinned to
loopback here, nothing else of the server is changed.

Run: python kserve_model.py --http-port P --grpc-port Q
"""
import argparse
import sys

import grpc.aio
import numpy as np
import uvicorn


def pin_to_loopback():
    config_init = uvicorn.Config.__init__

    def loopback_config(self, app, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        config_init(self, app, *args, **kwargs)

    uvicorn.Config.__init__ = loopback_config
    server_factory = grpc.aio.server

    def loopback_server(*args, **kwargs):
        server = server_factory(*args, **kwargs)
        add_port = server.add_insecure_port
        server.add_insecure_port = lambda address: add_port("127.0.0.1:" + address.rsplit(":", 1)[1])
        return server

    grpc.aio.server = loopback_server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args = parser.parse_args()
    pin_to_loopback()
    # Imported after pinning, so kserve's modules see the pinned functions.
    from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
    from kserve.model_repository import ModelRepository

    class Echo(Model):
        def __init__(self, name):
            super().__init__(name)
            self.ready = True

        async def predict(self, payload: InferRequest, headers=None, response_headers=None):
            outputs = []
            for tensor in payload.inputs:
                if tensor.datatype == "BYTES":
                    values = [v.decode() if isinstance(v, bytes) else str(v) for v in tensor.as_numpy().ravel()]
                    echoed = np.array([f"echo: {v}" for v in values], dtype=object)
                    output = InferOutput(tensor.name, list(echoed.shape), "BYTES")
                    output.set_data_from_numpy(echoed, binary_data=False)
                else:
                    doubled = tensor.as_numpy().astype(np.float32) * 2
                    output = InferOutput(tensor.name, list(doubled.shape), "FP32")
                    output.set_data_from_numpy(doubled, binary_data=False)
                outputs.append(output)
            # Binary outputs when the client asks (Triton's binary tensor extension, REST).
            return InferResponse(response_id=payload.id or "1", model_name=self.name, infer_outputs=outputs,
                                 use_binary_outputs=payload.use_binary_outputs,
                                 requested_outputs=payload.request_outputs)

    class Repository(ModelRepository):
        """Triton's model repository extension: loading NAME serves one more echo model."""

        def load(self, name):
            self.update(Echo(name))
            return True

    sys.argv = [sys.argv[0], f"--http_port={args.http_port}", f"--grpc_port={args.grpc_port}"]
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=True, workers=1,
                registered_models=Repository()).start([Echo("echo"), Echo("secret-echo")])


if __name__ == "__main__":
    main()
