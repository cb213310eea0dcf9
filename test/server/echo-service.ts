/**
 * test.v1.EchoService, described at runtime over our messages the way the
 * bench registers an extra service: it has the streaming-request kinds
 * CircuitService lacks (Count: client streaming, Chat: bidi).
 */
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  AcquireRequestSchema,
  AcquireResponseSchema,
  file_breakerbox_v1_breakerbox,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "test/v1/echo.proto",
    package: "test.v1",
    dependency: ["breakerbox/v1/breakerbox.proto"],
    syntax: "proto3",
    service: [
      {
        name: "EchoService",
        method: [
          { name: "Count", inputType: ".breakerbox.v1.AcquireRequest", outputType: ".breakerbox.v1.AcquireResponse", clientStreaming: true },
          {
            name: "Chat",
            inputType: ".breakerbox.v1.AcquireRequest",
            outputType: ".breakerbox.v1.AcquireResponse",
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  (name) => (name === "breakerbox/v1/breakerbox.proto" ? file_breakerbox_v1_breakerbox : undefined),
);

/** The runtime descriptor, typed like generated code so ServiceImpl checks handlers. */
export const EchoService = registry.getService("test.v1.EchoService") as GenService<{
  count: { methodKind: "client_streaming"; input: typeof AcquireRequestSchema; output: typeof AcquireResponseSchema };
  chat: { methodKind: "bidi_streaming"; input: typeof AcquireRequestSchema; output: typeof AcquireResponseSchema };
}>;

export const { count, chat } = EchoService.method;
