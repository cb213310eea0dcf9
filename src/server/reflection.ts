/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so that grpcurl,
 * Postman and grpcui can list, describe and call our services without proto
 * files. Descriptors come from gen/descriptor/breakerbox.binpb, a buf image
 * that keeps the doc comments (source_code_info); the descriptors embedded in
 * gen/ts have them stripped.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescFile, DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { DescriptorProto, EnumDescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection as ServerReflectionV1,
  ServerReflectionResponseSchema as ResponseSchemaV1,
} from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import type {
  ServerReflectionRequest as RequestV1,
  ServerReflectionResponse as ResponseV1,
} from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionV1alpha,
  ServerReflectionResponseSchema as ResponseSchemaV1alpha,
} from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import type {
  ServerReflectionRequest as RequestV1alpha,
  ServerReflectionResponse as ResponseV1alpha,
} from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * Where breakerbox.binpb may be, relative to this module: from src/server/
 * (vitest, tsx) and from dist/src/server/ (after `tsc -p tsconfig.build.json`,
 * which does not copy gen/descriptor).
 */
const DESCRIPTOR_CANDIDATES = [
  "../../gen/descriptor/breakerbox.binpb",
  "../../../gen/descriptor/breakerbox.binpb",
];

/**
 * The path of gen/descriptor/breakerbox.binpb: the first candidate that
 * exists, resolved from this module's location (so it works from src/ and
 * dist/src/ whatever the working directory). Throws, naming every path
 * tried, if none exists.
 */
export function defaultDescriptorSetPath(): string {
  const tried: string[] = [];
  for (const candidate of DESCRIPTOR_CANDIDATES) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
    tried.push(path);
  }
  throw new Error(
    `breakerbox.binpb not found (tried ${tried.join(", ")}); run \`npm run generate\``,
  );
}

/**
 * Reads a FileDescriptorSet (a buf image is wire-compatible) and returns its
 * files. Meant to run once at startup: it reads synchronously and throws on a
 * missing or corrupt file.
 */
export function loadDescriptorFiles(path: string = defaultDescriptorSetPath()): FileDescriptorProto[] {
  return fromBinary(FileDescriptorSetSchema, readFileSync(path)).file;
}

/**
 * The descriptors reflection answers from: files by name, and the file that
 * defines each fully-qualified symbol (messages, nested messages, fields,
 * oneofs, enums, enum values, services, methods, extensions).
 *
 * Each file is serialized once, without unknown fields (a buf image carries
 * its own extension field in every file). The first file registered under a
 * name wins: register the commented files from the image before `addFile`.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, { proto: FileDescriptorProto; bytes: Uint8Array }>();
  private readonly symbols = new Map<string, string>();
  private readonly extensionFiles = new Map<string, string>();
  private readonly extensionNumbers = new Map<string, number[]>();

  constructor(files: Iterable<FileDescriptorProto> = []) {
    for (const file of files) this.addProto(file);
  }

  /**
   * Adds a file known only from generated code (e.g. a service registered on
   * top of ours) and its dependencies, skipping every file already known.
   * Such files have no doc comments.
   */
  addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.addProto(file.proto);
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  /** True if a file of that name is known. */
  hasFile(name: string): boolean {
    return this.files.has(name);
  }

  /** The name of the file defining a fully-qualified symbol (no leading dot), or undefined. */
  fileContainingSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  /** The name of the file declaring extension `number` of message `type`, or undefined. */
  fileContainingExtension(type: string, number: number): string | undefined {
    return this.extensionFiles.get(`${stripDot(type)}#${number}`);
  }

  /** Extension numbers declared for message `type` (possibly none), or undefined for an unknown type. */
  extensionNumbersOf(type: string): number[] | undefined {
    const name = stripDot(type);
    const numbers = this.extensionNumbers.get(name);
    if (numbers !== undefined) return [...numbers];
    return this.symbols.has(name) ? [] : undefined;
  }

  /**
   * The serialized FileDescriptorProtos of `name` and of its transitive
   * dependencies, the requested file first. Dependencies whose names are in
   * `alreadySent` are left out (the client has them from an earlier answer on
   * the same stream); every name returned is added to it. Undefined if the file
   * is unknown. A dependency missing from the index is skipped.
   */
  fileWithDependencies(name: string, alreadySent: Set<string>): Uint8Array[] | undefined {
    const root = this.files.get(name);
    if (root === undefined) return undefined;
    const out: Uint8Array[] = [root.bytes];
    alreadySent.add(name);
    const visited = new Set<string>([name]);
    const queue = [...root.proto.dependency];
    while (queue.length > 0) {
      const next = queue.shift() as string;
      if (visited.has(next)) continue;
      visited.add(next);
      const file = this.files.get(next);
      if (file === undefined) continue;
      if (!alreadySent.has(next)) {
        out.push(file.bytes);
        alreadySent.add(next);
      }
      queue.push(...file.proto.dependency);
    }
    return out;
  }

  private addProto(file: FileDescriptorProto): void {
    if (this.files.has(file.name)) return;
    const bytes = toBinary(FileDescriptorProtoSchema, file, { writeUnknownFields: false });
    this.files.set(file.name, { proto: file, bytes });
    const prefix = file.package === "" ? "" : `${file.package}.`;
    const define = (symbol: string): void => {
      if (!this.symbols.has(symbol)) this.symbols.set(symbol, file.name);
    };
    const defineEnum = (scope: string, e: EnumDescriptorProto): void => {
      define(`${scope}${e.name}`);
      for (const value of e.value) {
        // Enum values are siblings of their enum in protobuf scoping; grpcurl
        // (jhump/protoreflect) also names them inside the enum.
        define(`${scope}${value.name}`);
        define(`${scope}${e.name}.${value.name}`);
      }
    };
    const defineExtension = (scope: string, ext: FileDescriptorProto["extension"][number]): void => {
      define(`${scope}${ext.name}`);
      const extendee = stripDot(ext.extendee);
      this.extensionFiles.set(`${extendee}#${ext.number}`, file.name);
      const numbers = this.extensionNumbers.get(extendee) ?? [];
      numbers.push(ext.number);
      this.extensionNumbers.set(extendee, numbers);
    };
    const defineMessage = (scope: string, message: DescriptorProto): void => {
      const name = `${scope}${message.name}`;
      define(name);
      const inner = `${name}.`;
      for (const field of message.field) define(`${inner}${field.name}`);
      for (const oneof of message.oneofDecl) define(`${inner}${oneof.name}`);
      for (const nested of message.nestedType) defineMessage(inner, nested);
      for (const e of message.enumType) defineEnum(inner, e);
      for (const ext of message.extension) defineExtension(inner, ext);
    };
    for (const message of file.messageType) defineMessage(prefix, message);
    for (const e of file.enumType) defineEnum(prefix, e);
    for (const ext of file.extension) defineExtension(prefix, ext);
    for (const service of file.service) {
      const name = `${prefix}${service.name}`;
      define(name);
      for (const method of service.method) define(`${name}.${method.name}`);
    }
  }
}

/** What both reflection versions need. */
export interface ReflectionOptions {
  /** Descriptors to answer from. */
  index: DescriptorIndex;
  /**
   * Fully-qualified names of the services this server exposes, for
   * list_services. Called on each request, so services added later show up.
   */
  services: () => readonly string[];
}

/**
 * grpc.reflection.v1.ServerReflection over `options`. Answers each request on
 * the stream in order; an unknown file, symbol, type or extension gets an
 * error_response with NOT_FOUND (the stream goes on); file answers carry the
 * file and its transitive dependencies, minus those already sent on the stream.
 */
export function createReflectionV1Impl(options: ReflectionOptions): ServiceImpl<typeof ServerReflectionV1> {
  return { serverReflectionInfo: createReflectionHandler<RequestV1, ResponseV1>(ResponseSchemaV1, options) };
}

/** grpc.reflection.v1alpha.ServerReflection: same behaviour as {@link createReflectionV1Impl}, older package (grpcurl < 1.8.8 and many tools only speak this one). */
export function createReflectionV1alphaImpl(
  options: ReflectionOptions,
): ServiceImpl<typeof ServerReflectionV1alpha> {
  return { serverReflectionInfo: createReflectionHandler<RequestV1alpha, ResponseV1alpha>(ResponseSchemaV1alpha, options) };
}

// --- internals -------------------------------------------------------------

type ReflectionRequest = RequestV1 | RequestV1alpha;

/** The message_response oneof, identical in shape in both versions. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

function createReflectionHandler<Req extends ReflectionRequest, Res extends Message>(
  responseSchema: GenMessage<Res>,
  options: ReflectionOptions,
): (requests: AsyncIterable<Req>, ctx: HandlerContext) => AsyncGenerator<Res> {
  return async function* serverReflectionInfo(requests) {
    const sent = new Set<string>();
    for await (const request of requests) {
      const init = {
        validHost: request.host,
        originalRequest: request,
        messageResponse: answer(options, request, sent),
      };
      // The two versions differ only in type names; the init shape is the same.
      yield create(responseSchema as DescMessage, init as MessageInitShape<DescMessage>) as Res;
    }
  };
}

function answer(options: ReflectionOptions, request: ReflectionRequest, sent: Set<string>): Answer {
  const { index } = options;
  const req = request.messageRequest;
  switch (req.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: options.services().map((name) => ({ name })) },
      };
    case "fileByFilename":
      return files(index.fileWithDependencies(req.value, sent), `file ${req.value}`);
    case "fileContainingSymbol": {
      const file = index.fileContainingSymbol(req.value);
      return files(file === undefined ? undefined : index.fileWithDependencies(file, sent), `symbol ${req.value}`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = req.value;
      const file = index.fileContainingExtension(containingType, extensionNumber);
      return files(
        file === undefined ? undefined : index.fileWithDependencies(file, sent),
        `extension ${extensionNumber} of ${containingType}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(req.value);
      if (numbers === undefined) return notFound(`type ${req.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: stripDot(req.value), extensionNumber: numbers },
      };
    }
    case undefined:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "message_request is not set" },
      };
  }
}

function files(bytes: Uint8Array[] | undefined, what: string): Answer {
  if (bytes === undefined) return notFound(what);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: bytes } };
}

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

function stripDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}
