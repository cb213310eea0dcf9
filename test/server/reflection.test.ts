import { existsSync } from "node:fs";
import { create, fromBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as v1 from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { createGrpcServer } from "../../src/server/grpc.js";
import type { GrpcServer } from "../../src/server/grpc.js";
import { defaultDescriptorSetPath, DescriptorIndex, loadDescriptorFiles } from "../../src/server/reflection.js";
import { EchoService } from "./echo-service.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";
import { bidiStream, connect, grpc } from "../support/grpc-call.js";

const BASE_SERVICES = [
  "breakerbox.v1.CircuitService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

/** The shapes both versions share, as far as these tests read them. */
type AnyResponse = MessageShape<typeof v1.ServerReflectionResponseSchema> | MessageShape<typeof v1alpha.ServerReflectionResponseSchema>;
type RequestInit = MessageInitShape<typeof v1.ServerReflectionRequestSchema>["messageRequest"];

const versions = [
  { name: "v1", service: v1.ServerReflection, request: v1.ServerReflectionRequestSchema, response: v1.ServerReflectionResponseSchema },
  {
    name: "v1alpha",
    service: v1alpha.ServerReflection,
    request: v1alpha.ServerReflectionRequestSchema,
    response: v1alpha.ServerReflectionResponseSchema,
  },
] as const;

/** One reflection stream: ask() sends a request and resolves with its answer. */
function openReflection(client: grpc.Client, version: (typeof versions)[number]) {
  const method = version.service.method.serverReflectionInfo;
  const call = bidiStream(client, { ...method, input: version.request as DescMessage, output: version.response as DescMessage });
  const responses = call[Symbol.asyncIterator]();
  return {
    async ask(messageRequest: RequestInit): Promise<AnyResponse> {
      call.write(create(version.request as DescMessage, { host: "localhost", messageRequest } as never));
      const next = await responses.next();
      if (next.done === true) throw new Error("reflection stream ended");
      return next.value as AnyResponse;
    },
    close() {
      call.end();
    },
  };
}

function filesOf(response: AnyResponse): FileDescriptorProto[] {
  if (response.messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${response.messageResponse.case}: ${JSON.stringify(response.messageResponse.value)}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

function leadingComments(file: FileDescriptorProto): string[] {
  return (file.sourceCodeInfo?.location ?? []).map((l) => l.leadingComments);
}

describe("server reflection", () => {
  let server: GrpcServer;
  let client: grpc.Client;

  beforeAll(async () => {
    server = createGrpcServer({ circuitService: createFakeCircuitService().impl });
    client = connect(await server.listen("127.0.0.1", 0));
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  for (const version of versions) {
    describe(version.name, () => {
      it("lists exactly our services", async () => {
        const stream = openReflection(client, version);
        const response = await stream.ask({ case: "listServices", value: "" });
        stream.close();
        expect(response.messageResponse.case).toBe("listServicesResponse");
        const names = response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((s) => s.name) : [];
        expect([...names].sort()).toEqual(BASE_SERVICES);
        expect(response.validHost).toBe("localhost");
      });

      it("answers file_containing_symbol with the commented file and its dependencies", async () => {
        const stream = openReflection(client, version);
        const files = filesOf(await stream.ask({ case: "fileContainingSymbol", value: "breakerbox.v1.CircuitService" }));
        // The file and its transitive imports, dependencies first after it.
        expect(files.map((f) => f.name)).toEqual([
          "breakerbox/v1/breakerbox.proto",
          "google/api/field_behavior.proto",
          "google/protobuf/duration.proto",
          "google/protobuf/field_mask.proto",
          "google/protobuf/timestamp.proto",
          "google/rpc/status.proto",
          "google/protobuf/descriptor.proto",
          "google/protobuf/any.proto",
        ]);
        const [breakerbox] = files;
        expect(leadingComments(breakerbox!).some((c) => c.includes("Acquire asks whether a call to the dependency behind `circuit` may go ahead."))).toBe(true);
        expect(breakerbox!.service.map((s) => s.name)).toEqual(["CircuitService"]);
        // The buf image's own extension field is not passed on.
        expect(breakerbox!.$unknown).toBeUndefined();

        // Later answers on the same stream leave out files already sent.
        const again = filesOf(await stream.ask({ case: "fileContainingSymbol", value: "breakerbox.v1.AcquireRequest" }));
        expect(again.map((f) => f.name)).toEqual(["breakerbox/v1/breakerbox.proto"]);
        stream.close();
      });

      it("resolves methods, fields, nested and enum-value symbols to their file", async () => {
        const stream = openReflection(client, version);
        for (const symbol of [
          "breakerbox.v1.CircuitService.Acquire",
          "breakerbox.v1.AcquireRequest.circuit",
          "breakerbox.v1.State",
          "breakerbox.v1.STATE_OPEN",
          "breakerbox.v1.WatchResponse.kind",
          "grpc.health.v1.HealthCheckResponse.ServingStatus",
        ]) {
          const files = filesOf(await stream.ask({ case: "fileContainingSymbol", value: symbol }));
          expect(files[0]?.name, symbol).toMatch(/breakerbox\.proto|health\.proto/);
        }
        stream.close();
      });

      it("answers file_by_filename, and NOT_FOUND error responses without ending the stream", async () => {
        const stream = openReflection(client, version);
        const duration = filesOf(await stream.ask({ case: "fileByFilename", value: "google/protobuf/duration.proto" }));
        expect(duration.map((f) => f.name)).toEqual(["google/protobuf/duration.proto"]);

        for (const request of [
          { case: "fileContainingSymbol", value: "breakerbox.v1.Nope" },
          { case: "fileByFilename", value: "nope.proto" },
          { case: "fileContainingExtension", value: { containingType: "breakerbox.v1.AcquireRequest", extensionNumber: 100 } },
          { case: "allExtensionNumbersOfType", value: "breakerbox.v1.Nope" },
        ] as const) {
          const response = await stream.ask(request);
          expect(response.messageResponse.case, request.case).toBe("errorResponse");
          if (response.messageResponse.case === "errorResponse") {
            expect(response.messageResponse.value.errorCode).toBe(Code.NotFound);
          }
        }

        const numbers = await stream.ask({ case: "allExtensionNumbersOfType", value: "breakerbox.v1.AcquireRequest" });
        expect(numbers.messageResponse).toMatchObject({
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: "breakerbox.v1.AcquireRequest", extensionNumber: [] },
        });
        stream.close();
      });
    });
  }

  it("lists and describes services missing from the image from their generated code", async () => {
    // Health's file is in the image; leave it out to exercise the generated-code path.
    const withoutHealth = loadDescriptorFiles().filter((f) => !f.name.startsWith("grpc/health/"));
    const other = createGrpcServer({ circuitService: {}, descriptorFiles: withoutHealth });
    other.addService(EchoService, {});
    const otherClient = connect(await other.listen("127.0.0.1", 0));
    try {
      const stream = openReflection(otherClient, versions[0]);
      const list = await stream.ask({ case: "listServices", value: "" });
      expect(list.messageResponse.case === "listServicesResponse" && list.messageResponse.value.service.map((s) => s.name)).toContain(
        "test.v1.EchoService",
      );
      const health = filesOf(await stream.ask({ case: "fileContainingSymbol", value: "grpc.health.v1.Health" }));
      expect(health.map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
      expect(health[0]?.service.map((s) => s.name)).toEqual(["Health"]);
      const echo = filesOf(await stream.ask({ case: "fileContainingSymbol", value: "test.v1.EchoService.Chat" }));
      // breakerbox.proto and its imports come from the image, with comments.
      expect(echo.map((f) => f.name)).toEqual([
        "test/v1/echo.proto",
        "breakerbox/v1/breakerbox.proto",
        "google/api/field_behavior.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/timestamp.proto",
        "google/rpc/status.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/any.proto",
      ]);
      expect(echo[1]?.sourceCodeInfo?.location.length).toBeGreaterThan(0);
      stream.close();
    } finally {
      otherClient.close();
      await other.shutdown(500);
    }
  });
});

describe("descriptor loading", () => {
  it("finds breakerbox.binpb relative to the module", () => {
    const path = defaultDescriptorSetPath();
    expect(path.endsWith("gen/descriptor/breakerbox.binpb")).toBe(true);
    expect(existsSync(path)).toBe(true);
  });

  it("indexes the image's files with their comments", () => {
    const index = new DescriptorIndex(loadDescriptorFiles());
    expect(index.hasFile("breakerbox/v1/breakerbox.proto")).toBe(true);
    expect(index.fileContainingSymbol(".breakerbox.v1.CircuitService.Watch")).toBe("breakerbox/v1/breakerbox.proto");
    expect(index.fileContainingSymbol("google.protobuf.Duration")).toBe("google/protobuf/duration.proto");
    expect(index.fileContainingSymbol("breakerbox")).toBeUndefined();
  });
});
