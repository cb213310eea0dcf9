/**
 * The pattern rules page (#/rules): every rule in the order the server
 * consults them (ListPatternRules answers them so: runtime rules by
 * precedence, then the config file's in file order), with its origin,
 * precedence, preset and the fields it sets; a form to create a rule or
 * edit a runtime one (Configure on the pattern, with an update_mask naming
 * only what changed), and delete (DeletePatternRule; the server refuses a
 * config-file rule, and its answer is shown). The server's field violations
 * show next to the field they name, verbatim. Admin key as in config-form.ts.
 */
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { PatternRuleOrigin, type PatternRule } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { PROTO_CONFIG_FIELDS } from "../src/server/proto-config-fields.js";
import { configAccess, onAccessChange } from "./access.js";
import { adminCall, fieldViolations } from "./admin-call.js";
import { api, describeError } from "./api.js";
import { ConfigEditor, inputText } from "./config-editor.js";
import { clockTime, ms, principalLabel } from "./format.js";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard: #${id} missing from index.html`);
  return node as T;
}

const MAX_PRECEDENCE = 4_294_967_295;

/** "failure_threshold=3, open_duration=30000ms": the fields a rule sets, in table order. */
function settingsText(rule: PatternRule): string {
  const parts: string[] = [];
  for (const f of PROTO_CONFIG_FIELDS) {
    const text = inputText(f, rule.config);
    if (text !== "") parts.push(`${f.spec.name}=${text}${f.spec.kind === "duration" ? "ms" : ""}`);
  }
  return parts.length === 0 ? "(none)" : parts.join(", ");
}

export class RulesView {
  private readonly editor = new ConfigEditor($("rule-fields"), "rule", "rule");
  /** The rule being edited; undefined while the form creates one. */
  private editing: PatternRule | undefined;
  private loadToken = 0;
  private busy = false;
  private readOnly = false;
  private visible = false;

  constructor() {
    $<HTMLFormElement>("rule-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    $("rule-cancel").addEventListener("click", () => this.edit(undefined));
    // A new key may see what the last one could not (the list is an agent read).
    onAccessChange(() => {
      if (!this.visible) return;
      void this.checkAccess();
      void this.load();
    });
  }

  /** Leaves the page. */
  close(): void {
    this.visible = false;
  }

  /** Shows the page: loads the rules, empties the form. */
  open(): void {
    this.visible = true;
    $("rules-result").textContent = "";
    this.edit(undefined);
    void this.checkAccess();
    void this.load();
    $("rules-title").focus();
  }

  private async checkAccess(): Promise<void> {
    const access = await configAccess();
    this.readOnly = access === "agent" || access === "none";
    this.editor.setReadOnly(this.readOnly);
    for (const id of ["rule-pattern", "rule-precedence", "rule-preset", "rule-save"]) $<HTMLInputElement>(id).disabled = this.readOnly;
    $("rules-access").textContent = this.readOnly
      ? `Read-only: creating, editing and deleting rules needs an admin key; ${access === "agent" ? "the key in use is not an admin key" : "no valid API key is in use"}.`
      : "";
    $("rules-view").dataset.access = access;
    for (const b of document.querySelectorAll<HTMLButtonElement>("#rules button")) b.disabled = this.readOnly;
  }

  private async load(): Promise<void> {
    const token = ++this.loadToken;
    const rules: PatternRule[] = [];
    try {
      let pageToken = "";
      do {
        const res = await api.listPatternRules({ pageSize: 1000, pageToken });
        rules.push(...res.rules);
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
    } catch (err) {
      if (token === this.loadToken) $("rules-note").textContent = `Could not load the rules: ${describeError(err)}`;
      return;
    }
    if (token !== this.loadToken) return;
    $("rules").replaceChildren(...rules.map((r, i) => this.row(r, i + 1)));
    $("rules-note").textContent = rules.length === 0 ? "No pattern rules." : `${rules.length} rule${rules.length === 1 ? "" : "s"}, in the order they are consulted.`;
    for (const b of document.querySelectorAll<HTMLButtonElement>("#rules button")) b.disabled = this.readOnly;
  }

  private row(rule: PatternRule, position: number): HTMLTableRowElement {
    const tr = document.createElement("tr");
    const file = rule.origin === PatternRuleOrigin.CONFIG_FILE;
    tr.dataset.pattern = rule.pattern;
    tr.dataset.origin = file ? "file" : "runtime";
    const cell = (text: string): HTMLTableCellElement => {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
      return td;
    };
    cell(String(position));
    cell(rule.pattern);
    cell(file ? "config file" : "runtime");
    cell(String(rule.precedence));
    cell(rule.preset === "" ? "–" : rule.preset);
    cell(settingsText(rule));
    const at = ms(rule.updateTime);
    cell(at === undefined ? "–" : `${clockTime(at)} by ${rule.updatedBy === undefined ? "?" : principalLabel(rule.updatedBy)}`);
    const actions = cell("");
    if (!file) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.textContent = "Edit";
      edit.setAttribute("aria-label", `Edit ${rule.pattern}`);
      edit.addEventListener("click", () => this.edit(rule));
      actions.append(edit);
    }
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "Delete";
    del.setAttribute("aria-label", `Delete ${rule.pattern}`);
    // Two clicks: the first asks, the second deletes (no blocking confirm()).
    del.addEventListener("click", () => {
      if (del.dataset.confirm !== "true") {
        del.dataset.confirm = "true";
        del.textContent = "Confirm delete";
        return;
      }
      void this.remove(rule.pattern);
    });
    actions.append(del);
    return tr;
  }

  /** Fills the form with `rule` to edit it, or empties it to create one. */
  private edit(rule: PatternRule | undefined): void {
    this.editing = rule;
    $("rule-form-title").textContent = rule === undefined ? "New rule" : `Edit rule ${rule.pattern}`;
    $("rule-save").textContent = rule === undefined ? "Create rule" : "Save rule";
    $("rule-cancel").hidden = rule === undefined;
    const pattern = $<HTMLInputElement>("rule-pattern");
    pattern.value = rule?.pattern ?? "";
    pattern.readOnly = rule !== undefined;
    $<HTMLInputElement>("rule-precedence").value = rule === undefined ? "" : String(rule.precedence);
    $<HTMLInputElement>("rule-preset").value = rule?.preset ?? "";
    this.editor.load(rule?.config);
    this.clearErrors();
    if (rule !== undefined) $("rule-form-title").scrollIntoView({ block: "nearest" });
  }

  private clearErrors(): void {
    this.editor.clearErrors();
    for (const id of ["rule-pattern-error", "rule-precedence-error", "rule-preset-error", "rule-form-error"]) $(id).textContent = "";
  }

  private showErrors(violations: { field: string; description: string }[]): void {
    const rest: string[] = [];
    for (const v of this.editor.showErrors(violations)) {
      if (v.field === "pattern" || v.field === "precedence" || v.field === "preset") $(`rule-${v.field}-error`).textContent = v.description;
      else rest.push(`${v.field}: ${v.description}`);
    }
    $("rule-form-error").textContent = rest.join(" ");
  }

  private async save(): Promise<void> {
    if (this.busy) return;
    const result = $("rules-result");
    this.clearErrors();
    const pattern = $<HTMLInputElement>("rule-pattern").value.trim();
    const { config, paths, unsendable } = this.editor.changes();
    const precedenceText = $<HTMLInputElement>("rule-precedence").value.trim();
    let precedence: number | undefined;
    if (precedenceText !== "" && precedenceText !== String(this.editing?.precedence ?? "")) {
      precedence = Number(precedenceText);
      if (!(Number.isInteger(precedence) && precedence >= 0 && precedence <= MAX_PRECEDENCE)) {
        $("rule-precedence-error").textContent = `precedence: enter a whole number from 0 to ${MAX_PRECEDENCE}`;
        return;
      }
    }
    const preset = $<HTMLInputElement>("rule-preset").value.trim();
    if (preset !== (this.editing?.preset ?? "")) paths.push("preset");
    if (unsendable.size > 0) {
      this.showErrors([...unsendable].map(([field, description]) => ({ field, description })));
      return;
    }
    const what = this.editing === undefined ? "create the rule" : "change the rule";
    this.busy = true;
    result.dataset.outcome = "pending";
    result.textContent = this.editing === undefined ? `Creating ${pattern}…` : `Saving ${pattern}…`;
    try {
      const res = await adminCall(
        what,
        () =>
          api.configure({
            target: { case: "pattern", value: pattern },
            config,
            preset,
            ...(precedence === undefined ? {} : { precedence }),
            ...(paths.length === 0 ? {} : { updateMask: create(FieldMaskSchema, { paths }) }),
          }),
        (text) => {
          result.dataset.outcome = "refused";
          result.textContent = text;
        },
      );
      if (res === undefined) return;
      result.dataset.outcome = "ok";
      const governs = `governs ${res.matchedCircuits} circuit${res.matchedCircuits === 1 ? "" : "s"}`;
      result.textContent = `${this.editing === undefined ? "Created" : "Saved"} rule ${res.rule?.pattern ?? pattern} at precedence ${res.rule?.precedence ?? "?"} (${governs}).`;
      this.edit(undefined);
      await this.load();
    } catch (err) {
      this.showErrors(fieldViolations(err));
      result.dataset.outcome = "error";
      result.textContent = `Not saved: ${describeError(err)}`;
    } finally {
      this.busy = false;
    }
  }

  private async remove(pattern: string): Promise<void> {
    if (this.busy) return;
    const result = $("rules-result");
    this.busy = true;
    result.dataset.outcome = "pending";
    result.textContent = `Deleting ${pattern}…`;
    try {
      const res = await adminCall(
        "delete the rule",
        () => api.deletePatternRule({ pattern }),
        (text) => {
          result.dataset.outcome = "refused";
          result.textContent = text;
        },
      );
      if (res === undefined) return;
      result.dataset.outcome = "ok";
      result.textContent = `Deleted rule ${pattern} (it governed ${res.matchedCircuits} circuit${res.matchedCircuits === 1 ? "" : "s"}).`;
      if (this.editing?.pattern === pattern) this.edit(undefined);
    } catch (err) {
      result.dataset.outcome = "error";
      result.textContent = `Not deleted: ${describeError(err)}`;
    } finally {
      this.busy = false;
      await this.load();
    }
  }
}
