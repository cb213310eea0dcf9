/**
 * The circuit view's config form: every field of the config table with its
 * unit, range, default and current value, where the current values come
 * from (the circuit's config sources, most specific first: the API reports
 * sources per circuit, not per field), and a save that sends Configure with
 * an update_mask naming only the changed fields (an "inherit" box names a
 * field without a value, which clears the circuit's own setting). The
 * server's field violations show next to their fields, verbatim. Without an
 * admin key the form is read-only and says so; a save the server refuses
 * for want of a key opens the key dialog, as the other admin actions do.
 */
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import type { CircuitStatus } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { configAccess, onAccessChange, type ConfigAccess } from "./access.js";
import { adminCall, fieldViolations } from "./admin-call.js";
import { api, describeError } from "./api.js";
import { ConfigEditor, inputText } from "./config-editor.js";
import { askForKey } from "./key-dialog.js";
import { clockTime } from "./format.js";
import { PROTO_CONFIG_FIELDS } from "../src/server/proto-config-fields.js";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard: #${id} missing from index.html`);
  return node as T;
}

const ACCESS_NOTE: Readonly<Record<ConfigAccess, string>> = {
  admin: "",
  unknown: "",
  agent: "Read-only: changing the config needs an admin key; the key in use is not an admin key.",
  none: "Read-only: changing the config needs an admin key; no valid API key is in use.",
};

export class ConfigForm {
  private readonly editor = new ConfigEditor($("config-fields"), "circuit", "cfg");
  private circuit: string | undefined;
  /** The config the form was last loaded with, to tell a real change from a repeat. */
  private loaded = "";
  private busy = false;
  private accessToken = 0;

  /** `applied` takes the status a save answered (the model, the history). */
  constructor(private readonly applied: (status: CircuitStatus) => void) {
    $<HTMLFormElement>("config-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    $("config-revert").addEventListener("click", () => {
      this.loaded = "";
      this.editor.load(undefined);
      this.show(this.last);
      $("config-result").textContent = "";
    });
    $("config-admin-key").addEventListener("click", () => void askForKey("Enter an admin key to change the config."));
    onAccessChange(() => void this.checkAccess());
  }

  private last: CircuitStatus | undefined;

  /** Opens the form for `circuit` (empty until its status arrives). */
  open(circuit: string): void {
    this.circuit = circuit;
    this.loaded = "";
    this.last = undefined;
    this.editor.load(undefined);
    $("config-result").textContent = "";
    $("config-form-error").textContent = "";
    void this.checkAccess();
  }

  /**
   * The circuit's latest status: the sources line, and the inputs when the
   * config changed, unless the operator is editing (their edits are kept;
   * the current column still follows).
   */
  show(status: CircuitStatus | undefined): void {
    this.last = status;
    const sources = status?.configSources ?? [];
    $("config-sources").textContent =
      sources.length === 0 ? "" : `Current values resolve from: ${sources.join(" → ")} (most specific first; the server reports where a circuit's config comes from, not each field's source).`;
    $("config-form").dataset.sources = sources.join(",");
    const config = status?.config;
    if (config === undefined) return;
    const text = PROTO_CONFIG_FIELDS.map((f) => inputText(f, config)).join(";");
    if (text === this.loaded) return;
    if (this.loaded !== "" && this.editor.dirty()) return;
    this.loaded = text;
    this.editor.load(config);
  }

  private async checkAccess(): Promise<void> {
    const token = ++this.accessToken;
    const access = await configAccess();
    if (token !== this.accessToken) return;
    const readOnly = access === "agent" || access === "none";
    this.editor.setReadOnly(readOnly);
    $<HTMLButtonElement>("config-save").disabled = readOnly;
    $<HTMLButtonElement>("config-revert").disabled = readOnly;
    $("config-access").textContent = ACCESS_NOTE[access];
    $("config-admin-key").hidden = !readOnly;
    $("config-form").dataset.access = access;
  }

  private async save(): Promise<void> {
    const circuit = this.circuit;
    if (circuit === undefined || this.busy) return;
    const result = $("config-result");
    const formError = $("config-form-error");
    this.editor.clearErrors();
    formError.textContent = "";
    const { config, paths, unsendable } = this.editor.changes();
    if (unsendable.size > 0) {
      this.editor.showErrors([...unsendable].map(([field, description]) => ({ field, description })));
      result.dataset.outcome = "error";
      result.textContent = "Not sent: correct the fields marked.";
      return;
    }
    if (paths.length === 0) {
      result.dataset.outcome = "ok";
      result.textContent = "Nothing to save: no field changed.";
      return;
    }
    this.busy = true;
    $("config-save").setAttribute("aria-busy", "true");
    result.dataset.outcome = "pending";
    result.textContent = `Saving ${paths.join(", ")}…`;
    try {
      const res = await adminCall(
        "change the config",
        () => api.configure({ target: { case: "circuit", value: circuit }, config, updateMask: create(FieldMaskSchema, { paths }) }),
        (text) => {
          result.dataset.outcome = "refused";
          result.textContent = text;
        },
      );
      if (res === undefined) return;
      result.dataset.outcome = "ok";
      result.textContent = `Saved ${paths.join(", ")} at ${clockTime(Date.now())}.`;
      if (res.status !== undefined) {
        this.loaded = "";
        this.editor.load(undefined);
        this.show(res.status);
        this.applied(res.status);
      }
    } catch (err) {
      const rest = this.editor.showErrors(fieldViolations(err));
      formError.textContent = rest.map((v) => `${v.field}: ${v.description}`).join(" ");
      result.dataset.outcome = "error";
      result.textContent = `Not saved: ${describeError(err)}`;
    } finally {
      this.busy = false;
      $("config-save").removeAttribute("aria-busy");
      void this.checkAccess();
    }
  }
}
