/**
 * The config table (src/engine/config-fields.ts) bound to the generated
 * proto: for each field of CONFIG_FIELDS, the field of
 * `breakerbox.v1.CircuitConfig` that carries it, and for an `enum` field the
 * proto number of each of its values.
 *
 * Proto conversion (convert.ts) and the dashboard's config view loop over
 * this list instead of naming the 15 fields by hand. It depends only on the
 * generated schema and the pure table, so the dashboard bundle may import it.
 * A table field the proto lacks (or an enum value without its `<ENUM>_<VALUE>`
 * twin) stops the module from loading; test/config/contract.test.ts checks
 * the same in both directions, with the proto types.
 */
import type { DescEnum, DescField } from "@bufbuild/protobuf";
import { CircuitConfigSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CONFIG_FIELD_LIST, joinWithOr, type ConfigFieldSpec } from "../engine/config-fields.js";

/** An `enum` field's values as the proto numbers them. */
export interface ProtoEnumBinding {
  readonly descriptor: DescEnum;
  /** Engine value ("shadow") → proto number (Mode.SHADOW). */
  readonly numberOf: ReadonlyMap<string, number>;
  /** Proto number → engine value; the UNSPECIFIED value (0) has none. */
  readonly valueOf: ReadonlyMap<number, string>;
  /** "MODE_ENFORCE or MODE_SHADOW", for messages that say what is accepted. */
  readonly accepted: string;
}

/** One table field and the proto field that carries it. */
export interface ProtoConfigField {
  readonly spec: ConfigFieldSpec;
  readonly descriptor: DescField;
  /** The property of the generated `CircuitConfig` message ("slowCallDuration"). */
  readonly localName: string;
  /** Set for `enum` fields. */
  readonly enum?: ProtoEnumBinding;
}

function bindEnum(spec: ConfigFieldSpec, descriptor: DescEnum): ProtoEnumBinding {
  const numberOf = new Map<string, number>();
  const valueOf = new Map<number, string>();
  const names: string[] = [];
  for (const value of spec.values ?? []) {
    // protobuf-es strips the enum's prefix: MODE_SHADOW has localName "SHADOW".
    const protoValue = descriptor.values.find((v) => v.localName === value.toUpperCase());
    if (protoValue === undefined) {
      throw new Error(`config field ${spec.name}: enum ${descriptor.typeName} has no value for ${JSON.stringify(value)}`);
    }
    numberOf.set(value, protoValue.number);
    valueOf.set(protoValue.number, value);
    names.push(protoValue.name);
  }
  return { descriptor, numberOf, valueOf, accepted: joinWithOr(names) };
}

function bind(spec: ConfigFieldSpec): ProtoConfigField {
  const descriptor = CircuitConfigSchema.fields.find((f) => f.name === spec.name);
  if (descriptor === undefined) {
    throw new Error(`config field ${spec.name}: breakerbox.v1.CircuitConfig has no such field; add it to the proto and run npm run generate`);
  }
  const base = { spec, descriptor, localName: descriptor.localName };
  return descriptor.fieldKind === "enum" ? { ...base, enum: bindEnum(spec, descriptor.enum) } : base;
}

/** Every config field with its proto field, in table order. */
export const PROTO_CONFIG_FIELDS: readonly ProtoConfigField[] = Object.freeze(CONFIG_FIELD_LIST.map(bind));
