// breakerbox.bench.v1.Noop, described at runtime: bench-only, kept out of
// proto/ and gen/ (CI diffs gen/ against proto/). Requests are
// AcquireRequests, so the bytes on the wire and the decode match Acquire's;
// the answer is an empty message.
//
//   service Noop {
//     rpc Ping(breakerbox.v1.AcquireRequest) returns (PingResponse);      // handler returns synchronously
//     rpc PingAsync(breakerbox.v1.AcquireRequest) returns (PingResponse); // async handler, like CircuitService's
//     // Sync, answers what an allowed Acquire answers (same create() and
//     // encode, same bytes), without the service, store and engine.
//     rpc PingAcquireReply(breakerbox.v1.AcquireRequest) returns (breakerbox.v1.AcquireResponse);
//   }
import { create, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  AcquireResponseSchema,
  State,
  file_breakerbox_v1_breakerbox,
} from "../dist/gen/ts/breakerbox/v1/breakerbox_pb.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "breakerbox/bench/v1/noop.proto",
    package: "breakerbox.bench.v1",
    dependency: ["breakerbox/v1/breakerbox.proto"],
    syntax: "proto3",
    messageType: [{ name: "PingResponse" }],
    service: [
      {
        name: "Noop",
        method: [
          { name: "Ping", inputType: ".breakerbox.v1.AcquireRequest", outputType: ".breakerbox.bench.v1.PingResponse" },
          { name: "PingAsync", inputType: ".breakerbox.v1.AcquireRequest", outputType: ".breakerbox.bench.v1.PingResponse" },
          { name: "PingAcquireReply", inputType: ".breakerbox.v1.AcquireRequest", outputType: ".breakerbox.v1.AcquireResponse" },
        ],
      },
    ],
  }),
  (name) => (name === "breakerbox/v1/breakerbox.proto" ? file_breakerbox_v1_breakerbox : undefined),
);

export const NoopService = registry.getService("breakerbox.bench.v1.Noop");
const PingResponseSchema = registry.getMessage("breakerbox.bench.v1.PingResponse");

// A permit as the memory store writes them: hash.generation.kind.expiry.stream.seq.
const PERMIT = "1x2k3j4.0.c.mhz1a2b3.a1b2c3d4e5.1k2";

/** The handlers: Ping and PingAsync return an empty PingResponse. */
export const noopImpl = {
  pingAcquireReply() {
    return create(AcquireResponseSchema, {
      allowed: true,
      permit: PERMIT,
      state: State.CLOSED,
      retryAfter: undefined,
      reason: 0,
      shadowDenied: false,
    });
  },
  ping() {
    return create(PingResponseSchema);
  },
  async pingAsync() {
    return create(PingResponseSchema);
  },
};
