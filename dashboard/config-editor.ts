/**
 * The config fields as form rows, one per field of the config table
 * (src/engine/config-fields.ts, bundled here through proto-config-fields.ts,
 * so the form cannot drift from the server's contract): name, input, unit,
 * accepted range and default read off the table, and the server's field
 * violation for that field shown next to it, verbatim.
 *
 * Two uses: a circuit's config (inputs start at the resolved value; a row's
 * "inherit" box clears the circuit's own setting) and a pattern rule's
 * settings (an empty input is a field the rule does not set). Either way
 * `changes()` answers only what the operator changed, as a CircuitConfig
 * patch plus the update_mask paths naming them (a path without a value
 * clears the field: docs/design.md, "update_mask").
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CircuitConfigSchema, type CircuitConfig } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { ConfigFieldSpec } from "../src/engine/config-fields.js";
import { PROTO_CONFIG_FIELDS, type ProtoConfigField } from "../src/server/proto-config-fields.js";
import { ms } from "./format.js";

/** The largest value a uint32 proto field can carry: beyond it the request cannot be encoded at all. */
const UINT32_MAX = 4_294_967_295;

/** A bound as the server's messages write it: durations in whole seconds as "30s", else "250ms". */
function bound(spec: ConfigFieldSpec, value: number): string {
  if (spec.kind !== "duration") return String(value);
  return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
}

/** The unit a field's input is written in. */
export function unitOf(spec: ConfigFieldSpec): string {
  switch (spec.kind) {
    case "duration":
      return "ms";
    case "number":
      return spec.format === "percent" ? "fraction (0.5 = 50%)" : "number";
    case "integer":
      return "count";
    case "boolean":
      return "true / false";
    case "enum":
      return "one of";
  }
}

/** The accepted range as the table gives it ("0 to 1000000", "above 0 to 1", "enforce or shadow"). */
export function rangeOf(spec: ConfigFieldSpec): string {
  if (spec.kind === "boolean") return "true or false";
  if (spec.kind === "enum") return (spec.values ?? []).join(" or ");
  const low = `${spec.minExclusive === true ? "above " : ""}${bound(spec, spec.min ?? 0)}`;
  const high = `${spec.maxExclusive === true ? "below " : ""}${bound(spec, spec.max ?? 0)}`;
  return `${low} to ${high}${spec.zeroMeans === undefined ? "" : `; 0 = ${spec.zeroMeans}`}`;
}

/** The table's default, written as the input takes it. */
export function defaultOf(spec: ConfigFieldSpec): string {
  return String(spec.default);
}

/** A field of a CircuitConfig message as its input writes it; "" when the message does not set it. */
export function inputText(field: ProtoConfigField, config: CircuitConfig | undefined): string {
  const value = config === undefined ? undefined : (config as unknown as Record<string, unknown>)[field.localName];
  if (value === undefined) return "";
  switch (field.spec.kind) {
    case "duration":
      return String(ms(value as Parameters<typeof ms>[0]) ?? "");
    case "enum":
      // 0 (UNSPECIFIED) is "not set" in a rule's patch.
      return field.enum?.valueOf.get(value as number) ?? "";
    default:
      return String(value);
  }
}

interface Row {
  readonly field: ProtoConfigField;
  readonly input: HTMLInputElement | HTMLSelectElement;
  readonly inherit: HTMLInputElement | undefined;
  readonly current: HTMLElement | undefined;
  readonly error: HTMLElement;
  baseline: string;
}

/** What the operator changed: the patch, the update_mask paths, and inputs that cannot be sent at all. */
export interface ConfigChanges {
  readonly config: CircuitConfig;
  readonly paths: string[];
  /** Field name → why its input cannot be encoded in the request (a value the server would never see). */
  readonly unsendable: Map<string, string>;
}

export class ConfigEditor {
  private readonly rows: Row[] = [];

  /**
   * Fills `tbody` with one row per field. `mode` "circuit" adds the current
   * value column and an "inherit" box per field; "rule" leaves empty inputs
   * as "not set by the rule".
   */
  constructor(
    tbody: HTMLElement,
    private readonly mode: "circuit" | "rule",
    idPrefix: string,
  ) {
    for (const field of PROTO_CONFIG_FIELDS) {
      const spec = field.spec;
      const tr = document.createElement("tr");
      tr.dataset.field = spec.name;
      const id = `${idPrefix}-${spec.name}`;

      const name = document.createElement("th");
      name.scope = "row";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = spec.name;
      label.title = spec.doc;
      name.append(label);

      const input = makeInput(spec, mode);
      input.id = id;
      input.name = spec.name;
      const error = document.createElement("p");
      error.className = "field-error";
      error.id = `${id}-error`;
      error.setAttribute("role", "alert");
      input.setAttribute("aria-describedby", `${id}-error`);
      const valueCell = document.createElement("td");
      valueCell.append(input, error);

      const cells: HTMLElement[] = [name, valueCell, textCell(unitOf(spec), "unit"), textCell(rangeOf(spec), "range"), textCell(defaultOf(spec), "default")];
      let current: HTMLElement | undefined;
      let inherit: HTMLInputElement | undefined;
      if (mode === "circuit") {
        current = textCell("", "current");
        const inheritCell = document.createElement("td");
        const inheritLabel = document.createElement("label");
        inherit = document.createElement("input");
        inherit.type = "checkbox";
        inherit.name = `${spec.name}-inherit`;
        inheritLabel.append(inherit, " inherit");
        inheritLabel.title = `Clear this circuit's own ${spec.name}: it falls back to the pattern rule, preset and defaults`;
        inheritCell.append(inheritLabel);
        const box = inherit;
        box.addEventListener("change", () => {
          input.disabled = box.checked || input.dataset.readonly === "true";
        });
        cells.push(current, inheritCell);
      }
      tr.append(...cells);
      tbody.append(tr);
      this.rows.push({ field, input, inherit, current, error, baseline: "" });
    }
  }

  /**
   * Sets every input to `config`'s value (the circuit's resolved config, or a
   * rule's patch), which becomes the baseline `changes()` compares against,
   * and clears the errors. Circuit mode also shows the values as current.
   */
  load(config: CircuitConfig | undefined): void {
    for (const row of this.rows) {
      row.baseline = inputText(row.field, config);
      row.input.value = row.baseline;
      if (row.current !== undefined) row.current.textContent = row.baseline;
      if (row.inherit !== undefined) row.inherit.checked = false;
      row.input.disabled = row.input.dataset.readonly === "true";
    }
    this.clearErrors();
  }

  /** Disables every input (read-only form) or enables them again. */
  setReadOnly(readOnly: boolean): void {
    for (const row of this.rows) {
      row.input.dataset.readonly = String(readOnly);
      row.input.disabled = readOnly || row.inherit?.checked === true;
      if (row.inherit !== undefined) row.inherit.disabled = readOnly;
    }
  }

  /** Whether the operator has changed anything since the last load. */
  dirty(): boolean {
    return this.rows.some((r) => r.inherit?.checked === true || r.input.value.trim() !== r.baseline);
  }

  /** The changed fields as a patch and update_mask paths. */
  changes(): ConfigChanges {
    const config = create(CircuitConfigSchema);
    const target = config as unknown as Record<string, unknown>;
    const paths: string[] = [];
    const unsendable = new Map<string, string>();
    for (const row of this.rows) {
      const spec = row.field.spec;
      const text = row.input.value.trim();
      if (row.inherit?.checked === true || (this.mode === "rule" && text === "" && row.baseline !== "")) {
        paths.push(spec.name); // named without a value: cleared
        continue;
      }
      if (text === row.baseline) continue;
      const encoded = encode(row.field, text);
      if ("problem" in encoded) {
        unsendable.set(spec.name, encoded.problem);
        continue;
      }
      target[row.field.localName] = encoded.value;
      paths.push(spec.name);
    }
    return { config, paths, unsendable };
  }

  clearErrors(): void {
    for (const row of this.rows) {
      row.error.textContent = "";
      row.input.removeAttribute("aria-invalid");
    }
  }

  /**
   * Shows each violation next to the field it names ("config.<field>"),
   * exactly as the server wrote it; answers the violations that name no
   * field of the form (the caller shows them elsewhere).
   */
  showErrors(violations: readonly { field: string; description: string }[]): { field: string; description: string }[] {
    const rest: { field: string; description: string }[] = [];
    for (const v of violations) {
      const name = v.field.startsWith("config.") ? v.field.slice("config.".length) : v.field;
      const row = this.rows.find((r) => r.field.spec.name === name);
      if (row === undefined) {
        rest.push(v);
        continue;
      }
      row.error.textContent = row.error.textContent === "" ? v.description : `${row.error.textContent} ${v.description}`;
      row.input.setAttribute("aria-invalid", "true");
    }
    return rest;
  }
}

function textCell(text: string, kind: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.className = kind;
  td.textContent = text;
  return td;
}

function makeInput(spec: ConfigFieldSpec, mode: "circuit" | "rule"): HTMLInputElement | HTMLSelectElement {
  if (spec.kind === "boolean" || spec.kind === "enum") {
    const select = document.createElement("select");
    const values = spec.kind === "boolean" ? ["true", "false"] : [...(spec.values ?? [])];
    // A rule may leave the field unset; a circuit always has a resolved value.
    const options = mode === "rule" ? ["", ...values] : values;
    for (const v of options) {
      const option = document.createElement("option");
      option.value = v;
      option.textContent = v === "" ? "(not set)" : v;
      select.append(option);
    }
    return select;
  }
  const input = document.createElement("input");
  // Text, not type=number: what the operator typed reaches the server as typed, which judges it.
  input.type = "text";
  input.inputMode = spec.kind === "number" ? "decimal" : "numeric";
  input.autocomplete = "off";
  input.spellcheck = false;
  if (mode === "rule") input.placeholder = "not set";
  return input;
}

/** `text` as the proto field's value, or why it cannot be put in the request. */
function encode(field: ProtoConfigField, text: string): { value: unknown } | { problem: string } {
  const spec = field.spec;
  switch (spec.kind) {
    case "boolean":
      return { value: text === "true" };
    case "enum":
      return { value: field.enum?.numberOf.get(text) ?? 0 };
    default: {
      const n = text === "" ? NaN : Number(text);
      if (!Number.isFinite(n)) return { problem: `${spec.name}: enter a number (${unitOf(spec)})` };
      if (spec.kind === "integer" && !(Number.isInteger(n) && n >= 0 && n <= UINT32_MAX)) {
        return { problem: `${spec.name}: enter a whole number from 0 to ${UINT32_MAX}` };
      }
      return { value: spec.kind === "duration" ? durationFromMs(n) : n };
    }
  }
}
