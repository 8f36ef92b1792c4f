"""``google.rpc.Status``, the message gRPC servers put in the ``grpc-status-details-bin``
trailer to attach typed details to an error.

It ships in ``googleapis-common-protos``, which this project does not depend on, so the
three-field message is declared here in a private descriptor pool (a private pool cannot
clash with the real ``google/rpc/status.proto`` if that package is ever installed).
"""

from __future__ import annotations

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

__all__ = ["STATUS_DETAILS_KEY", "Status"]

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _build_status_class() -> type:
    pool = descriptor_pool.DescriptorPool()
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    pool.Add(any_file)

    field = descriptor_pb2.FieldDescriptorProto
    status_file = descriptor_pb2.FileDescriptorProto(
        name="vpp_gateway/google_rpc_status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
    )
    message = status_file.message_type.add(name="Status")
    message.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    message.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    message.field.add(
        name="details",
        number=3,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
    )
    pool.Add(status_file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


Status = _build_status_class()
