"""A buf local plugin that writes grpcio's Python service stubs (*_pb2_grpc.py).

grpcio ships its Python stub generator only inside grpcio-tools' bundled
protoc (`python -m grpc_tools.protoc --grpc_python_out`), not as a
protoc-gen-* binary, so buf cannot run it directly. This adapter speaks the
plugin protocol on stdin/stdout and runs that bundled generator on the
descriptors buf hands it. Run it with the Python of .tools/venv, where
scripts/install-codegen-tools.sh installs the pinned grpcio-tools.
"""
import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    # The stubs only name services and messages, so proto3 `optional` fields
    # (which buf checks plugins declare) need nothing from this adapter.
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = os.path.join(tmp, "input.binpb")
        with open(descriptors, "wb") as f:
            f.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        options = f"{request.parameter}:" if request.parameter else ""
        argv = ["protoc", f"--descriptor_set_in={descriptors}", f"--grpc_python_out={options}{out}"]
        if protoc.main(argv + list(request.file_to_generate)) != 0:
            response.error = "grpc_tools.protoc failed to generate the gRPC Python stubs"
        else:
            for root, _, files in os.walk(out):
                for name in sorted(files):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        response.file.add(name=os.path.relpath(path, out), content=f.read())
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
